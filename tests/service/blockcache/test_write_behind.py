"""Cache writes through a background thread: read back at once, bounded, drained at shutdown."""

from __future__ import annotations

import threading
from typing import Sequence

from service.blockcache.stores import BytesLike, MemoryBlockCache
from service.metrics import Metrics
from service.blockcache.write_behind import WriteBehindCache


class GatedCache(MemoryBlockCache):
    """An in-process cache whose writes from the background writer wait until the gate opens."""

    def __init__(self) -> None:
        super().__init__(max_bytes=1 << 20)
        self.gate = threading.Event()
        self.fail_next = False

    def put_many(self, items: Sequence[tuple[str, BytesLike]]) -> None:
        if threading.current_thread().name == "rntk-cache-writer":
            assert self.gate.wait(10)
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("a bug in the store")
        super().put_many(items)


def test_a_write_returns_at_once_and_is_read_back_before_it_lands():
    inner = GatedCache()
    cache = WriteBehindCache(inner, max_bytes=100)
    cache.put_many([("a", b"12345"), ("b", b"678")])
    assert inner.get_many(["a", "b"]) == [None, None]  # still with the writer
    assert cache.get_many(["b", "c", "a"]) == [b"678", None, b"12345"]
    assert cache.waiting_bytes == 8 and not cache.drain(timeout=0.05)
    metrics = Metrics()
    metrics.watch_cache_writes(lambda: cache.waiting_bytes)
    assert b"rntk_cache_writes_waiting_bytes 8.0" in metrics.render()
    inner.gate.set()
    assert cache.drain()
    assert b"rntk_cache_writes_waiting_bytes 0.0" in metrics.render()
    assert inner.get_many(["a", "b"]) == [b"12345", b"678"] and cache.waiting_bytes == 0
    cache.close()


def test_beyond_its_bound_a_write_is_made_on_the_callers_thread():
    inner = GatedCache()
    cache = WriteBehindCache(inner, max_bytes=10)
    cache.put_many([("a", b"123456")])  # waits for the writer
    cache.put_many([("b", b"123456")])  # 12 bytes would wait: written here instead
    assert inner.get_many(["a", "b"]) == [None, b"123456"]
    inner.gate.set()
    cache.close()
    assert inner.get_many(["a"]) == [b"123456"]


def test_close_stores_what_waits_and_later_writes_are_synchronous():
    inner = GatedCache()
    cache = WriteBehindCache(inner, max_bytes=100)
    cache.put_many([("a", b"1")])
    threading.Timer(0.05, inner.gate.set).start()
    cache.close()
    assert inner.get_many(["a"]) == [b"1"]
    inner.gate.clear()  # a write that went to the writer now would never finish
    cache.put_many([("b", b"2")])
    assert inner.get_many(["b"]) == [b"2"]


def test_a_failed_write_is_dropped_and_the_writer_carries_on():
    inner = GatedCache()
    inner.fail_next = True
    inner.gate.set()
    cache = WriteBehindCache(inner, max_bytes=100)
    cache.put_many([("lost", b"1")])
    cache.put_many([("kept", b"2")])
    assert cache.drain()
    assert inner.get_many(["lost", "kept"]) == [None, b"2"]
    assert cache.get_many(["lost"]) == [None] and cache.waiting_bytes == 0
    cache.close()


def test_a_newer_value_waiting_under_the_same_name_is_kept_until_it_lands():
    inner = GatedCache()
    cache = WriteBehindCache(inner, max_bytes=100)
    first, second = b"old", b"new"
    cache.put_many([("a", first)])
    cache.put_many([("a", second)])
    assert cache.get_many(["a"]) == [second]
    inner.gate.set()
    assert cache.drain()
    assert inner.get_many(["a"]) == [second]
    cache.close()
