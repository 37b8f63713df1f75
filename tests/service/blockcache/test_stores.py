"""The in-process block cache: bounded in bytes, least recently used first, views charged their share."""

from __future__ import annotations

import threading

import numpy as np

from service.blockcache.stores import MemoryBlockCache, held_bytes


def test_memory_cache_is_bounded_in_bytes_and_least_recently_used():
    cache = MemoryBlockCache(max_bytes=100)
    for name in "abcd":
        cache.put_many([(name, bytes(30))])
    assert cache.get_many(["a", "b", "c", "d"]) == [None, bytes(30), bytes(30), bytes(30)]
    cache.get_many(["b"])  # b is now the most recently used
    cache.put_many([("e", bytes(30))])
    assert cache.get_many(["c"]) == [None] and cache.get_many(["b"]) == [bytes(30)]
    assert cache.size_bytes <= 100
    cache.put_many([("huge", bytes(101))])
    assert cache.get_many(["huge"]) == [None]


def test_memory_cache_charges_views_their_share_of_the_array_they_keep_alive():
    whole = np.zeros((10, 10))  # 800 bytes
    upper = [("a", whole[:5, :5]), ("b", whole[:5, 5:]), ("c", whole[5:, 5:])]  # 600 bytes shown
    cache = MemoryBlockCache(max_bytes=10_000)
    cache.put_many(upper)
    assert 800 <= cache.size_bytes <= 802  # the whole array (shares rounded up), not the 600 bytes shown
    assert all(got is block for got, (_, block) in zip(cache.get_many(["a", "b", "c"]), upper))  # not copied
    before = cache.size_bytes
    cache.put_many([("own", np.zeros(25))])
    assert cache.size_bytes == before + 200  # an array of its own: its own bytes
    cache.put_many([("d", whole[5:, :5].T)])  # a later view of the same array joins its group: still one array
    assert 1000 <= cache.size_bytes <= 1004 and len(cache) == 5


def test_views_of_one_array_leave_the_memory_cache_together():
    first, second = np.zeros((10, 10)), np.ones((10, 10))  # 800 bytes each
    cache = MemoryBlockCache(max_bytes=1700)
    cache.put_many([("a", first[:5]), ("b", first[5:])])
    cache.put_many([("c", second[:5]), ("d", second[5:])])
    cache.get_many(["a"])  # a is now used more recently than c and d, b is the oldest
    cache.put_many([("e", np.zeros(20))])  # 160 bytes over: the oldest goes, and its group with it
    assert cache.get_many(["a", "b"]) == [None, None] and cache.get_many(["c", "d"])[0] is not None
    assert cache.size_bytes == 800 + 160 and len(cache) == 3
    cache.put_many([("c", np.zeros(5))])  # stored anew: the rest of its old group goes too
    assert cache.get_many(["d"]) == [None] and cache.size_bytes == 160 + 40
    expiring = MemoryBlockCache(max_bytes=10_000, ttl_s=0.05)
    expiring.put_many([("a", first[:5]), ("b", first[5:])])
    threading.Event().wait(0.08)
    assert expiring.get_many(["a"]) == [None] and len(expiring) == 0 and expiring.size_bytes == 0
    small = MemoryBlockCache(max_bytes=700)
    small.put_many([("a", first[:5]), ("b", first[5:])])  # the array alone exceeds the budget
    assert len(small) == 0 and small.size_bytes == 0


def test_held_bytes_counts_each_array_once():
    whole = np.zeros((10, 10))
    assert held_bytes([whole[:5], whole[5:].T, b"12345"]) == 800 + 5


def test_memory_cache_expires_entries():
    cache = MemoryBlockCache(max_bytes=1000, ttl_s=0.05)
    cache.put_many([("a", b"x")])
    assert cache.get_many(["a"]) == [b"x"]
    threading.Event().wait(0.08)
    assert cache.get_many(["a"]) == [None] and len(cache) == 0
