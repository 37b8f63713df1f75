"""Blocks as bytes for remote stores: they round-trip, and a damaged or misshapen entry is a miss."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings as hyp_settings
from hypothesis import strategies as st

from rntk_core import RNTKParams, as_sequences, gram
from service.blockcache.assembly import BlockGram, CacheStats
from service.blockcache.codec import EncodedBlocks, decode_block, encode_block
from service.errors import CorruptBlock
from service.metrics import Metrics


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
