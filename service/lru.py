"""A least-recently-used map bounded by the total size of its values: the in-process caches' store.

Not thread-safe by itself: each owner holds its own lock around every use,
so that a lookup and what follows from it (expiry, a byte comparison) are one step.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Hashable, Optional, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    """Values by key, at most `max_bytes` of them by `size`; the least recently used go first.

    `on_evict(key, value)`, if given, is told of each value the budget drops
    (not of those `pop` removes); it may `pop` other keys.
    """

    def __init__(self, max_bytes: int, size: Callable[[V], int],
                 on_evict: Optional[Callable[[K, V], None]] = None) -> None:
        self.max_bytes = max_bytes
        self._size = size
        self._on_evict = on_evict
        self._items: "OrderedDict[K, V]" = OrderedDict()
        self._bytes = 0

    def peek(self, key: K) -> Optional[V]:
        """The value, without counting it as used."""
        return self._items.get(key)

    def touch(self, key: K) -> None:
        """Count a key as just used."""
        self._items.move_to_end(key)

    def put(self, key: K, value: V) -> None:
        """Keep a value (not if it alone exceeds the budget), dropping the least recently used."""
        if self._size(value) > self.max_bytes:
            return
        self.pop(key)
        self._items[key] = value
        self._bytes += self._size(value)
        while self._bytes > self.max_bytes:
            oldest = next(iter(self._items))
            evicted = self._items[oldest]
            self.pop(oldest)
            if self._on_evict is not None:
                self._on_evict(oldest, evicted)

    def pop(self, key: K) -> None:
        """Forget a key, if present."""
        value = self._items.pop(key, None)
        if value is not None:
            self._bytes -= self._size(value)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
