"""The service's small parts on their own: keys, codec, caches, breaker, slots, stores, settings."""

from __future__ import annotations

import asyncio
import struct
import threading

import numpy as np
import orjson
import pytest
from hypothesis import given, settings as hyp_settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rntk_core import RNTKParams, gram
from service.blockcache.assembly import BlockGram, CacheStats
from service.blockcache.codec import EncodedBlocks, decode_block, encode_block
from service.blockcache.stores import MemoryBlockCache, held_bytes
from service.kernels.slots import ComputeSlots
from rntk_core.sequences import SequenceBatch, as_sequences
from service.wire.answers import JSON, NPY, NPZ, PartsResponse, matrices_response, negotiate
from service.errors import CorruptBlock, InvalidInput, ModelNotFound, Overloaded, StoreUnavailable
from service.blockcache.keys import block_key, params_digest, run_digest, sequence_digest, sequence_digests
from service.kernels.boundary import to_sequences
from service.metrics import Metrics
from service.storage.models import DirectoryModelStore, FallbackCopies, is_model_id, new_model_id
from service.storage.breaker import CircuitBreaker
from service.settings import Settings

from .helpers import load_npy, load_npz


def test_sequence_digest_depends_on_values_shape_only():
    a = np.arange(6, dtype=np.float64).reshape(3, 2)
    assert sequence_digest(a) == sequence_digest(a.copy())
    assert sequence_digest(a) != sequence_digest(a.reshape(2, 3))
    assert sequence_digest(a) != sequence_digest(a.reshape(6, 1))
    b = a.copy()
    b[2, 1] += 1e-12
    assert sequence_digest(a) != sequence_digest(b)


def test_batch_digests_are_the_per_sequence_digests():
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 2)) for t in (3, 5, 3, 1)]
    odd = [np.asfortranarray(rng.normal(size=(4, 3)))[:, :2], rng.normal(size=(2, 2)).astype(">f8")]
    batch = seqs + odd
    assert sequence_digests(batch) == [sequence_digest(s) for s in batch]
    flat = SequenceBatch.from_concatenated(np.concatenate(seqs), np.array([3, 5, 3, 1]))
    assert sequence_digests(flat) == [sequence_digest(s) for s in seqs]
    with pytest.raises(ValueError, match="expected"):
        sequence_digests([np.zeros(3)])


@pytest.mark.parametrize("batch,m", [
    ([[0.5, 1.0, -2.0], [3.0], [1, 2]], None),
    ([[[0.5, 1.0], [1.0, 2.0]], [[3.0, 4.0]]], None),
    ([[0.5, 1.0], [[1.0], [2.0]]], None),
    ([[0.5, 1.0], [2.0]], 1),
])
def test_json_batches_convert_as_the_library_does(batch, m):
    fast, reference = to_sequences(batch, "X", m=m), as_sequences(batch, "X", m=m)
    assert isinstance(fast, SequenceBatch) and fast.m == reference.m
    assert all(np.array_equal(a, b) and a.dtype == b.dtype and a.shape == b.shape for a, b in zip(fast, reference))
    assert sequence_digests(fast) == sequence_digests(reference)


def test_json_batches_that_fail_are_named_by_the_library():
    with pytest.raises(InvalidInput, match=r"^body\.X\[1\]: has m=2"):
        to_sequences([[1.0, 2.0], [[1.0, 2.0]]], "X")
    with pytest.raises(InvalidInput, match=r"^body\.Z\[0\]: has m=1"):
        to_sequences([[1.0, 2.0]], "Z", m=2)
    with pytest.raises(InvalidInput, match=r"^body\.Z_values: has m=2"):
        to_sequences(SequenceBatch.from_concatenated(np.zeros((2, 2)), np.array([2])), "Z", m=1)


@pytest.mark.parametrize("media_type,names", [(NPY, ("ntk",)), (NPY, ("ntk", "nngp")), (NPZ, ("nngp",)),
                                              (JSON, ("ntk",))])
def test_matrix_answers_hold_the_matrices(media_type, names):
    matrices = {name: (np.arange(12.0).reshape(3, 4) + i) for i, name in enumerate(names)}
    response = matrices_response(matrices, {"shape": [3, 4], "cache": {"hits": 1}}, media_type)
    body = b"".join(response.parts) if isinstance(response, PartsResponse) else bytes(response.body)
    if media_type == JSON:
        decoded = {k: np.array(v) for k, v in orjson.loads(body).items() if k in names}
    elif len(names) == 1 and media_type == NPY:
        assert response.media_type == NPY and response.headers["x-rntk-shape"] == "3,4"
        assert response.headers["content-length"] == str(len(body))
        decoded = {names[0]: load_npy(body)}
    else:
        decoded = load_npz(body)
    for i, name in enumerate(names):
        assert np.array_equal(decoded[name], np.arange(12).reshape(3, 4) + i)


def test_block_keys_are_canonical_for_both_orders_and_distinguish_diagonal_blocks():
    p = params_digest(RNTKParams())
    a, b = run_digest([b"a" * 32]), run_digest([b"b" * 32])
    ab, ba = block_key(p, a, b), block_key(p, b, a)
    assert ab.digest == ba.digest and ab.transposed != ba.transposed
    assert block_key(p, a, None).digest != block_key(p, a, a).digest
    assert block_key(params_digest(RNTKParams(sigma_b=0.1)), a, b).digest != ab.digest
    assert params_digest(RNTKParams(sigma_w=[1.0, 1.0], n_layers=2)) == params_digest(
        RNTKParams(sigma_w=1.0, n_layers=2))


@given(st.integers(1, 40), st.integers(1, 40))
@hyp_settings(max_examples=30, deadline=None)
def test_block_codec_round_trips(rows, cols):
    big = np.random.default_rng(rows * 100 + cols).normal(size=(rows + 3, cols + 5))
    for m in (big[:rows, :cols], big[1:rows + 1, 2:cols + 2].T.copy(), big[2:cols + 2, 1:rows + 1].T):
        data = encode_block(m)  # contiguous, and views of a larger Gram, transposed or not
        decoded = decode_block(data)
        assert decoded.shape == m.shape and np.array_equal(decoded, m) and not decoded.flags.writeable
        assert bytes(data) == encode_block(np.ascontiguousarray(m)).tobytes()
    with pytest.raises(CorruptBlock):
        decode_block(data[:-1])
    with pytest.raises(CorruptBlock):
        decode_block(b"pickle" + data[6:])


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


class CopyingStore:
    """A byte store that copies what it is given, as Redis does by sending it."""

    kind = "bytes"

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get_many(self, names):
        return [self.data.get(name) for name in names]

    def put_many(self, items):
        self.data.update((name, bytes(value)) for name, value in items)

    def status(self) -> str:
        return "ok"

    def close(self) -> None:
        pass


def test_encoded_blocks_decode_what_they_encoded_and_miss_what_they_cannot():
    store = CopyingStore()
    blocks = EncodedBlocks(store)
    gram = np.arange(12.0).reshape(3, 4)
    blocks.put_many([("a", gram[:, 1:]), ("b", gram.T)])
    blocks.put_many([("c", -gram)])  # encoded where the first batch was
    assert store.data["a"][:8] == b"RNTKBLK1" and store.data["a"] == bytes(encode_block(gram[:, 1:]))
    a, b, c = blocks.get_many(["a", "b", "c"])
    assert np.array_equal(a, gram[:, 1:]) and np.array_equal(b, gram.T) and np.array_equal(c, -gram)
    assert blocks.corrupt == 0
    store.data["b"] = b"RNTKBLK1" + bytes(20)  # damaged
    assert blocks.get_many(["b", "d"]) == [None, None] and blocks.corrupt == 1


def test_a_stored_block_of_the_wrong_shape_is_a_miss():
    store = CopyingStore()
    blocks = BlockGram(EncodedBlocks(store), block_size=3, metrics=Metrics())
    xs = as_sequences([np.linspace(-1, 1, 4 + i) for i in range(4)], "X")  # blocks 3x2 and 1x2
    zs = as_sequences([np.linspace(0, 1, 3 + i) for i in range(2)], "Z")
    expected = gram(xs, zs, params=RNTKParams(), output="both")
    blocks.compute(xs, zs, RNTKParams(), "both")
    for name, data in store.data.items():  # same values and size, rows and columns swapped in the header
        rows, cols = decode_block(data).shape
        store.data[name] = bytes(encode_block(np.zeros((cols, rows))))[:8] + struct.pack("<QQ", cols, rows) + data[24:]
    stats = CacheStats()
    found = blocks.compute(xs, zs, RNTKParams(), "both", stats)
    assert stats.hits == 0 and stats.misses == stats.blocks == 2
    assert np.array_equal(found["ntk"], expected[0]) and np.array_equal(found["nngp"], expected[1])


def test_memory_cache_expires_entries():
    cache = MemoryBlockCache(max_bytes=1000, ttl_s=0.05)
    cache.put_many([("a", b"x")])
    assert cache.get_many(["a"]) == [b"x"]
    threading.Event().wait(0.08)
    assert cache.get_many(["a"]) == [None] and len(cache) == 0


def test_breaker_opens_with_growing_cooldowns_and_closes_on_success():
    now = [0.0]
    breaker = CircuitBreaker(1.0, 4.0, clock=lambda: now[0])
    assert breaker.allow() and not breaker.is_open
    breaker.record_failure()
    assert not breaker.allow() and breaker.seconds_until_retry() == 1.0
    now[0] = 1.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.seconds_until_retry() == 2.0
    for _ in range(5):
        breaker.record_failure()
    assert breaker.seconds_until_retry() == 4.0
    now[0] = 10.0
    breaker.record_success()
    assert breaker.allow() and not breaker.is_open


@pytest.mark.parametrize("accept,expected", [
    (None, JSON), ("*/*", JSON), ("application/json", JSON), ("application/x-npy", NPY),
    ("application/x-npz", NPZ), ("text/html, application/x-npy;q=0.9", NPY),
    ("application/x-npy;q=0.2, application/json", JSON), ("application/x-npy;q=0", JSON),
    ("image/png", JSON), ("application/x-npy;q=bad", JSON),
])
def test_negotiate(accept, expected):
    assert negotiate(accept) == expected


def test_slots_refuse_beyond_the_queue_and_release_on_cancel():
    async def scenario() -> None:
        slots = ComputeSlots(slots=1, queue=1, retry_after_s=7)
        gate = threading.Event()
        running = asyncio.create_task(slots.run(gate.wait))
        waiting = asyncio.create_task(slots.run(lambda: 42))
        await asyncio.sleep(0.05)
        assert slots.admitted == 2
        with pytest.raises(Overloaded) as refused:
            await slots.run(lambda: 0)
        assert refused.value.headers == {"Retry-After": "7"}
        waiting.cancel()  # a client that went away while queued gives its place back
        await asyncio.sleep(0.05)
        assert slots.admitted == 1
        gate.set()
        assert await running is True
        assert slots.admitted == 0
        assert await slots.run(lambda: 5) == 5
        slots.shutdown()
        assert await slots.run(lambda: 6) == 6  # a new lifespan gets a new pool
        slots.shutdown()

    asyncio.run(scenario())


def test_directory_store_is_atomic_and_refuses_foreign_ids(tmp_path):
    store = DirectoryModelStore(tmp_path / "models")
    model_id = new_model_id()
    assert is_model_id(model_id) and not is_model_id("../../etc/passwd")
    store.put(model_id, b"payload")
    store.put(model_id, b"payload 2")
    assert store.get(model_id) == b"payload 2"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [f"{model_id}.rntk"]
    for bad in ("../../etc/passwd", "x" * 32 + "/..", "nope", model_id + "\n"):
        with pytest.raises(ModelNotFound):
            store.get(bad)
    store.delete(model_id)
    with pytest.raises(ModelNotFound):
        store.delete(model_id)


@pytest.mark.parametrize("suffix", ["\n", "\r", "\r\n", " ", "\x00", "a"])
def test_a_model_id_followed_by_anything_is_not_a_model_id(suffix):
    model_id = new_model_id()
    assert is_model_id(model_id)
    assert not is_model_id(model_id + suffix)
    assert not is_model_id(suffix + model_id)


def test_fallback_copies_serve_only_while_the_store_is_down():
    class Flaky:
        kind = "flaky"

        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}
            self.down = False

        def _check(self) -> None:
            if self.down:
                raise StoreUnavailable("down", 1)

        def put(self, k, v):
            self._check()
            self.data[k] = v

        def get(self, k):
            self._check()
            if k not in self.data:
                raise ModelNotFound(k)
            return self.data[k]

        def delete(self, k):
            self._check()
            del self.data[k]

        def available(self):
            return not self.down

        def status(self):
            return "unreachable" if self.down else "ok"

    inner = Flaky()
    store = FallbackCopies(inner, max_bytes=10)
    store.put("a", b"12345")
    inner.data["b"] = b"67890"
    inner.data.pop("a")  # deleted elsewhere: the store's word wins while it answers
    with pytest.raises(ModelNotFound):
        store.get("a")
    assert store.get("b") == b"67890"
    inner.down = True
    assert store.get("b") == b"67890"
    with pytest.raises(StoreUnavailable):
        store.get("a")


@pytest.mark.parametrize("env,value", [
    ("RNTK_REDIS_URL", "http://localhost:6379"), ("RNTK_BLOCK_SIZE", "0"), ("RNTK_COMPUTE_SLOTS", "0"),
    ("RNTK_MAX_BODY_BYTES", "10"), ("RNTK_REDIS_COOLDOWN_MAX_S", "0.001"),
])
def test_settings_fail_fast_on_unsafe_values(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNTK_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("RNTK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RNTK_MAX_SEQUENCES", "12")
    s = Settings()
    assert (s.redis_url, s.data_dir, s.max_sequences) == ("redis://127.0.0.1:1/0", tmp_path, 12)
    monkeypatch.setenv("RNTK_REDIS_URL", "")
    assert Settings().redis_url is None
