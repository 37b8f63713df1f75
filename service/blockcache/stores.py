"""The block cache: Gram blocks in an in-process LRU, or as bytes in Redis, behind one interface.

The in-process cache keeps the blocks themselves (read-only float64 arrays,
often views of the Gram they were computed in, which then stays in memory
with them): storing a block costs no copy. Redis holds named byte strings,
and `service.blockcache.codec.EncodedBlocks` turns blocks into bytes and back in
front of it. Failures never propagate: an unreachable Redis makes every lookup
a miss and every write a no-op, counted in `errors`, until the link's breaker
lets a call through again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Iterable, Optional, Protocol, Sequence, TypeVar, Union

import numpy as np
from redis.exceptions import RedisError

from ..errors import RedisDown
from ..lru import SizedLRU
from ..storage.redis_link import RedisLink

BytesLike = Union[bytes, memoryview]
"""Bytes, or a read-only view of bytes (what Redis stores: `service.blockcache.codec`)."""

Stored = Union[np.ndarray, bytes, memoryview]
"""A cached value: a Gram block (2-D float64, read-only), or bytes where the store holds bytes."""


def stored_bytes(value: Stored) -> int:
    """The size of a value's data (of a view, the part it shows)."""
    return value.nbytes if isinstance(value, np.ndarray) else len(value)


V = TypeVar("V")


class EntryStore(Protocol[V]):
    """Named entries, fetched and stored in batches: what the Gram code needs from a cache.

    A `BlockCache` holds Gram blocks; a remote store holds bytes
    (`service.blockcache.codec.EncodedBlocks` turns one into the other). Every
    operation is best effort: a failure is a miss, or a write not made.
    """

    kind: str

    def get_many(self, names: Sequence[str]) -> list[Optional[V]]:
        """The stored entry of each name, or None (missing, expired or unreachable)."""

    def put_many(self, items: Sequence[tuple[str, V]]) -> None:
        """Store entries, in one round trip where the store is remote; they must not change afterwards."""

    def status(self) -> str:
        """"ok", "disabled" or "unreachable"."""

    def close(self) -> None:
        """Finish pending work at shutdown."""


BlockCache = EntryStore[np.ndarray]
"""A cache of Gram blocks (2-D float64, read-only)."""


class MemoryBlockCache:
    """An in-process LRU bounded in bytes, with optional expiry; thread-safe.

    Values are kept as given, not copied. A block that is a view of a larger
    array (the Gram it was computed in) keeps that whole array alive, so the
    views of one array form a group: they share its size between them, in
    proportion to what each shows, and they leave together — when the budget
    evicts one, when one expires or when one is stored anew. So what the cache
    counts is what it holds (shares are rounded up to whole bytes).
    """

    kind = "memory"

    def __init__(self, max_bytes: int, ttl_s: float = 0, max_entry_bytes: Optional[int] = None) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.max_entry_bytes = max_bytes if max_entry_bytes is None else min(max_entry_bytes, max_bytes)
        self._entries: SizedLRU[str, _Entry] = SizedLRU(max_bytes, lambda entry: entry.charge, self._evicted)
        self._groups: dict[int, _Group] = {}
        self._lock = threading.Lock()

    def get_many(self, names: Sequence[str]) -> list[Optional[Stored]]:
        now = time.monotonic()
        out: list[Optional[Stored]] = []
        with self._lock:
            for name in names:
                entry = self._entries.peek(name)
                if entry is None:
                    out.append(None)
                elif entry.expires and entry.expires <= now:
                    self._drop(name)
                    out.append(None)
                else:
                    self._entries.touch(name)
                    out.append(entry.value)
        return out

    def put_many(self, items: Sequence[tuple[str, Stored]]) -> None:
        expires = time.monotonic() + self.ttl_s if self.ttl_s else 0.0
        kept = [(name, value) for name, value in items if stored_bytes(value) <= self.max_entry_bytes]
        with self._lock:
            for name, _ in kept:  # stored anew: the old value (and its group) goes
                self._drop(name)
            grown: dict[int, _Group] = {}
            for name, value in kept:
                base = _base_of(value)
                if base is None:
                    self._entries.put(name, _Entry(expires, value, stored_bytes(value), None))
                    continue
                group = self._groups.get(id(base))
                if group is None:
                    group = self._groups[id(base)] = _Group(base)
                group.views[name] = value
                grown[group.key] = group
            for group in grown.values():
                self._store_group(group, expires)

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

    def _store_group(self, group: "_Group", expires: float) -> None:
        """(Re)store every view of a group, each charged its share of the array (none if it cannot fit)."""
        for name in group.views:
            self._entries.pop(name)
        shown = sum(stored_bytes(value) for value in group.views.values())
        whole = max(group.nbytes, shown)
        if whole + len(group.views) > self.max_bytes:  # shares round up by less than a byte each
            del self._groups[group.key]
            return
        for name, value in group.views.items():
            charge = -(-stored_bytes(value) * whole // shown) if shown else 0
            self._entries.put(name, _Entry(expires, value, charge, group))

    def _drop(self, name: str) -> None:
        """Forget a name, and the rest of its group."""
        entry = self._entries.peek(name)
        if entry is not None:
            self._entries.pop(name)
            self._evicted(name, entry)

    def _evicted(self, name: str, entry: "_Entry") -> None:
        """A view has left: the rest of its group leaves with it."""
        group = entry.group
        if group is None or self._groups.get(group.key) is not group:
            return
        del self._groups[group.key]
        for member in group.views:
            self._entries.pop(member)


@dataclass(frozen=True, eq=False)
class _Entry:
    expires: float
    value: Stored
    charge: int
    group: Optional["_Group"]


class _Group:
    """The views of one array in the in-process cache (kept alive by them, so `id(base)` is theirs alone)."""

    def __init__(self, base: np.ndarray) -> None:
        self.key = id(base)
        self.nbytes = base.nbytes
        self.views: dict[str, Stored] = {}


def _base_of(value: Stored) -> Optional[np.ndarray]:
    """The array `value` is a view of, if it is one."""
    return value.base if isinstance(value, np.ndarray) and isinstance(value.base, np.ndarray) else None


def held_bytes(values: Iterable[Stored]) -> int:
    """The bytes a set of values keeps alive: each array that some are views of once, and the others' own."""
    bases: dict[int, int] = {}
    own = 0
    for value in values:
        base = _base_of(value)
        if base is None:
            own += stored_bytes(value)
        else:
            bases[id(base)] = base.nbytes
    return own + sum(bases.values())


class RedisBlockCache:
    """Byte strings in Redis under ``<prefix>block:<name>``, each with a TTL; failures are misses.

    An `EntryStore` of bytes: `service.blockcache.codec.EncodedBlocks` makes it a `BlockCache`.
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
