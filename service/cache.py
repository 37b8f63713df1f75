"""The block cache: named byte strings in Redis or in an in-process LRU, behind one interface.

The cache stores opaque bytes (the block codec lives in `service.blocks`).
Failures never propagate: an unreachable Redis makes every lookup a miss and
every write a no-op, counted in `errors`, until the link's breaker lets a call
through again.
"""

from __future__ import annotations

import threading
import time
from typing import Optional, Protocol, Sequence, Union

from redis.exceptions import RedisError

from .lru import SizedLRU
from .redis_link import RedisDown, RedisLink

BytesLike = Union[bytes, memoryview]
"""A stored value: bytes, or a read-only view of bytes (what `service.blocks` encodes)."""


class BlockCache(Protocol):
    """What the Gram code needs from a cache."""

    kind: str

    def get_many(self, names: Sequence[str]) -> list[Optional[BytesLike]]:
        """The stored value of each name, or None (missing, expired or unreachable)."""

    def put(self, name: str, value: BytesLike) -> None:
        """Store a value (best effort)."""

    def put_many(self, items: Sequence[tuple[str, BytesLike]]) -> None:
        """Store several values (best effort), in one round trip where the store is remote."""

    def status(self) -> str:
        """"ok", "disabled" or "unreachable"."""

    def close(self) -> None:
        """Finish pending work at shutdown."""


class MemoryBlockCache:
    """An in-process LRU bounded in bytes, with optional expiry; thread-safe."""

    kind = "memory"

    def __init__(self, max_bytes: int, ttl_s: float = 0, max_entry_bytes: Optional[int] = None) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_bytes if max_entry_bytes is None else min(max_entry_bytes, max_bytes)
        self._entries: SizedLRU[str, tuple[float, BytesLike]] = SizedLRU(max_bytes, lambda item: len(item[1]))
        self._lock = threading.Lock()

    def get_many(self, names: Sequence[str]) -> list[Optional[BytesLike]]:
        now = time.monotonic()
        out: list[Optional[BytesLike]] = []
        with self._lock:
            for name in names:
                item = self._entries.peek(name)
                if item is None:
                    out.append(None)
                elif item[0] and item[0] <= now:
                    self._entries.pop(name)
                    out.append(None)
                else:
                    self._entries.touch(name)
                    out.append(item[1])
        return out

    def put(self, name: str, value: BytesLike) -> None:
        if len(value) > self.max_entry_bytes:
            return
        expires = time.monotonic() + self.ttl_s if self.ttl_s else 0.0
        with self._lock:
            self._entries.put(name, (expires, value))

    def put_many(self, items: Sequence[tuple[str, BytesLike]]) -> None:
        for name, value in items:
            self.put(name, value)

    @property
    def size_bytes(self) -> int:
        """Bytes currently held."""
        return self._entries.size_bytes

    def __len__(self) -> int:
        return len(self._entries)

    def status(self) -> str:
        return "ok" if self.max_bytes > 0 else "disabled"

    def close(self) -> None:
        """Nothing is pending: writes are immediate."""


class RedisBlockCache:
    """Blocks in Redis under ``<prefix>block:<name>``, each with a TTL; failures are misses."""

    kind = "redis"

    def __init__(self, link: RedisLink, ttl_s: int = 0, max_entry_bytes: int = 64 << 20) -> None:
        self.link = link
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_entry_bytes
        self.errors = 0

    def _key(self, name: str) -> str:
        return f"{self.link.prefix}block:{name}"

    def get_many(self, names: Sequence[str]) -> list[Optional[BytesLike]]:
        if not names:
            return []
        keys = [self._key(n) for n in names]
        try:
            return list(self.link.call(lambda r: r.mget(keys)))
        except (RedisDown, RedisError):
            self.errors += 1
            return [None] * len(names)

    def put(self, name: str, value: BytesLike) -> None:
        self.put_many([(name, value)])

    def put_many(self, items: Sequence[tuple[str, BytesLike]]) -> None:
        kept = [(self._key(name), value) for name, value in items if len(value) <= self.max_entry_bytes]
        if not kept:
            return

        def store(r) -> list:
            pipe = r.pipeline(transaction=False)
            for key, value in kept:
                pipe.set(key, value, ex=self.ttl_s or None)
            return pipe.execute(raise_on_error=False)

        try:
            results = self.link.call(store)
        except (RedisDown, RedisError):  # unreachable: skip them all
            self.errors += 1
            return
        self.errors += sum(isinstance(r, RedisError) for r in results)  # refused (e.g. maxmemory): skip that one

    def status(self) -> str:
        return "ok" if self.link.ping() else "unreachable"

    def close(self) -> None:
        """Nothing is pending: writes are made on the caller's thread (the link is closed by its owner)."""
