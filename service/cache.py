"""The block cache: Gram blocks in an in-process LRU, or as bytes in Redis, behind one interface.

The in-process cache keeps the blocks themselves (read-only float64 arrays,
often views of the Gram they were computed in, which then stays in memory
with them): storing a block costs no copy. Redis holds named byte strings,
and `service.block_codec.EncodedBlocks` turns blocks into bytes and back in
front of it. Failures never propagate: an unreachable Redis makes every lookup
a miss and every write a no-op, counted in `errors`, until the link's breaker
lets a call through again.
"""

from __future__ import annotations

import threading
import time
from typing import Optional, Protocol, Sequence, Union

import numpy as np
from redis.exceptions import RedisError

from .lru import SizedLRU
from .redis_link import RedisDown, RedisLink

BytesLike = Union[bytes, memoryview]
"""Bytes, or a read-only view of bytes (what Redis stores: `service.block_codec`)."""

Stored = Union[np.ndarray, bytes, memoryview]
"""A cached value: a Gram block (2-D float64, read-only), or bytes where the store holds bytes."""


def stored_bytes(value: Stored) -> int:
    """The size of a value's data (of a view, the part it shows)."""
    return value.nbytes if isinstance(value, np.ndarray) else len(value)


class BlockCache(Protocol):
    """What the Gram code needs from a cache: blocks by name."""

    kind: str

    def get_many(self, names: Sequence[str]) -> list[Optional[np.ndarray]]:
        """The stored block of each name, or None (missing, expired or unreachable)."""

    def put(self, name: str, block: np.ndarray) -> None:
        """Store a block (best effort); it must not change afterwards."""

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        """Store several blocks (best effort), in one round trip where the store is remote."""

    def status(self) -> str:
        """"ok", "disabled" or "unreachable"."""

    def close(self) -> None:
        """Finish pending work at shutdown."""


class MemoryBlockCache:
    """An in-process LRU bounded in bytes, with optional expiry; thread-safe.

    Values are kept as given, not copied. A block that is a view of a larger
    array keeps that array alive, so it is charged its share of it: the views
    of one array stored together divide its size between them in proportion
    to their own (the blocks of a symmetric Gram, its upper triangle, are
    charged the whole Gram). Views of one array stored in separate calls are
    each charged as if the other calls' views did not exist: more than they
    hold, never less.
    """

    kind = "memory"

    def __init__(self, max_bytes: int, ttl_s: float = 0, max_entry_bytes: Optional[int] = None) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_bytes if max_entry_bytes is None else min(max_entry_bytes, max_bytes)
        self._entries: SizedLRU[str, tuple[float, Stored, int]] = SizedLRU(max_bytes, lambda item: item[2])
        self._lock = threading.Lock()

    def get_many(self, names: Sequence[str]) -> list[Optional[Stored]]:
        now = time.monotonic()
        out: list[Optional[Stored]] = []
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

    def put(self, name: str, value: Stored) -> None:
        self.put_many([(name, value)])

    def put_many(self, items: Sequence[tuple[str, Stored]]) -> None:
        expires = time.monotonic() + self.ttl_s if self.ttl_s else 0.0
        charges = _charges([value for _, value in items])
        with self._lock:
            for (name, value), charge in zip(items, charges, strict=True):
                if stored_bytes(value) <= self.max_entry_bytes:
                    self._entries.put(name, (expires, value, charge))

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


def _charges(values: Sequence[Stored]) -> list[int]:
    """The bytes each value keeps alive: its own, or its share of the array it is a view of."""
    charges = [stored_bytes(value) for value in values]
    views: dict[int, list[int]] = {}
    for i, value in enumerate(values):
        if isinstance(value, np.ndarray) and isinstance(value.base, np.ndarray):
            views.setdefault(id(value.base), []).append(i)
    for members in views.values():
        whole = values[members[0]].base.nbytes
        shown = sum(charges[i] for i in members)
        if whole > shown:
            for i in members:
                charges[i] = -(-charges[i] * whole // shown)
    return charges


class RedisBlockCache:
    """Byte strings in Redis under ``<prefix>block:<name>``, each with a TTL; failures are misses.

    A byte store: `service.block_codec.EncodedBlocks` makes it a `BlockCache`.
    """

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
