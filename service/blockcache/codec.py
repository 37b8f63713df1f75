"""Gram blocks as bytes, for stores outside the process (Redis).

A block is stored as raw little-endian float64 bytes behind a small header
giving its shape — never pickle — so an entry can be read by anything and
cannot execute code. `EncodedBlocks` puts this codec in front of a byte store,
so the Gram code deals in blocks whichever cache holds them; the in-process
cache keeps the arrays themselves and needs no codec.

Blocks are encoded into a buffer each writing thread keeps and reuses (up to
`SCRATCH_MAX_BYTES`): the store sends the bytes on before `put_many` returns,
and on a virtual machine fresh memory for every batch would cost about 1 ms
per 2 MB in page faults.
"""

from __future__ import annotations

import struct
import threading
from typing import Optional, Sequence

import numpy as np

from ..errors import CorruptBlock
from .stores import BytesLike, EntryStore

_MAGIC = b"RNTKBLK1"
_HEADER = struct.Struct("<8sQQ")

SCRATCH_MAX_BYTES = 33 << 20
"""The largest encoding buffer a thread keeps for its next batch (a batch of `service.blockcache.assembly` is about 32 MB
at most); larger batches get one of their own. Only threads that write keep one: the background writer, or
with writes on the request's path each compute slot."""


def encoded_size(matrix: np.ndarray) -> int:
    """The bytes `encode_block` makes of `matrix`."""
    rows, cols = matrix.shape
    return _HEADER.size + 8 * rows * cols


def encode_block_into(entry: memoryview, matrix: np.ndarray) -> None:
    """Write the entry of `matrix` into `entry` (exactly `encoded_size(matrix)` writable bytes).

    Header (magic, rows, cols), then the values as C-ordered little-endian
    float64, copied once, straight from `matrix` (possibly a transposed view
    of a larger Gram).
    """
    rows, cols = matrix.shape
    _HEADER.pack_into(entry, 0, _MAGIC, rows, cols)
    values = np.frombuffer(entry, dtype="<f8", offset=_HEADER.size).reshape(rows, cols)
    np.copyto(values, matrix, casting="same_kind")


def encode_block(matrix: np.ndarray) -> memoryview:
    """The entry of `matrix` in bytes of its own (read-only)."""
    entry = memoryview(bytearray(encoded_size(matrix)))
    encode_block_into(entry, matrix)
    return entry.toreadonly()


def decode_block(data: BytesLike) -> np.ndarray:
    """The matrix of an `encode_block` entry (read-only, no copy)."""
    if len(data) < _HEADER.size:
        raise CorruptBlock("entry shorter than its header")
    magic, rows, cols = _HEADER.unpack_from(data)
    if magic != _MAGIC or len(data) != _HEADER.size + 8 * rows * cols:
        raise CorruptBlock("bad magic or length")
    return np.frombuffer(data, dtype="<f8", offset=_HEADER.size).reshape(rows, cols)


class EncodedBlocks:
    """A `service.blockcache.stores.BlockCache` over a store of bytes: blocks encoded on the way in, decoded on the way out.

    An entry that does not decode (written by something else, or damaged) is a
    miss, counted in `corrupt`, so the block is computed again and overwritten.
    """

    def __init__(self, store: EntryStore[BytesLike]) -> None:
        self.store = store
        self.kind = store.kind
        self.corrupt = 0
        self._scratch = threading.local()

    def get_many(self, names: Sequence[str]) -> list[Optional[np.ndarray]]:
        return [None if data is None else self._decode(data) for data in self.store.get_many(names)]

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        sizes = [encoded_size(block) for _, block in items]
        buffer = self._buffer(sum(sizes))
        entries, at = [], 0
        for (name, block), size in zip(items, sizes, strict=True):
            entry = buffer[at:at + size]
            encode_block_into(entry, block)
            entries.append((name, entry.toreadonly()))
            at += size
        self.store.put_many(entries)

    def status(self) -> str:
        return self.store.status()

    def close(self) -> None:
        self.store.close()

    def _buffer(self, size: int) -> memoryview:
        """`size` writable bytes: this thread's reused buffer, or fresh ones beyond `SCRATCH_MAX_BYTES`."""
        if size > SCRATCH_MAX_BYTES:
            return memoryview(bytearray(size))
        held = getattr(self._scratch, "buffer", None)
        if held is None or len(held) < size:
            held = self._scratch.buffer = bytearray(size)
        return memoryview(held)

    def _decode(self, data: BytesLike) -> Optional[np.ndarray]:
        try:
            return decode_block(data)
        except CorruptBlock:
            self.corrupt += 1
            return None
