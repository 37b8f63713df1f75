"""Gram blocks as bytes, for stores outside the process (Redis).

A block is stored as raw little-endian float64 bytes behind a small header
giving its shape — never pickle — so an entry can be read by anything and
cannot execute code. `EncodedBlocks` puts this codec in front of a byte store,
so the Gram code deals in blocks whichever cache holds them; the in-process
cache keeps the arrays themselves and needs no codec.
"""

from __future__ import annotations

import struct
from typing import Optional, Protocol, Sequence

import numpy as np

from .cache import BytesLike

_MAGIC = b"RNTKBLK1"
_HEADER = struct.Struct("<8sQQ")


class CorruptBlock(ValueError):
    """A stored entry that is not a well-formed block."""


def encode_block(matrix: np.ndarray) -> memoryview:
    """Header (magic, rows, cols) + the values as C-ordered little-endian float64 (read-only bytes).

    The values are copied once, straight from `matrix` (possibly a transposed
    view of a larger Gram) into the entry.
    """
    rows, cols = matrix.shape
    entry = bytearray(_HEADER.size + 8 * rows * cols)
    _HEADER.pack_into(entry, 0, _MAGIC, rows, cols)
    values = np.frombuffer(entry, dtype="<f8", offset=_HEADER.size).reshape(rows, cols)
    np.copyto(values, matrix, casting="same_kind")
    return memoryview(entry).toreadonly()


def decode_block(data: BytesLike) -> np.ndarray:
    """The matrix of an `encode_block` entry (read-only, no copy)."""
    if len(data) < _HEADER.size:
        raise CorruptBlock("entry shorter than its header")
    magic, rows, cols = _HEADER.unpack_from(data)
    if magic != _MAGIC or len(data) != _HEADER.size + 8 * rows * cols:
        raise CorruptBlock("bad magic or length")
    return np.frombuffer(data, dtype="<f8", offset=_HEADER.size).reshape(rows, cols)


class ByteStore(Protocol):
    """Named byte strings (`service.cache.RedisBlockCache`)."""

    kind: str

    def get_many(self, names: Sequence[str]) -> list[Optional[BytesLike]]: ...

    def put_many(self, items: Sequence[tuple[str, BytesLike]]) -> None: ...

    def status(self) -> str: ...

    def close(self) -> None: ...


class EncodedBlocks:
    """A `service.cache.BlockCache` over a `ByteStore`: blocks encoded on the way in, decoded on the way out.

    An entry that does not decode (written by something else, or damaged) is a
    miss, counted in `corrupt`, so the block is computed again and overwritten.
    """

    def __init__(self, store: ByteStore) -> None:
        self.store = store
        self.kind = store.kind
        self.corrupt = 0

    def get_many(self, names: Sequence[str]) -> list[Optional[np.ndarray]]:
        return [None if data is None else self._decode(data) for data in self.store.get_many(names)]

    def put(self, name: str, block: np.ndarray) -> None:
        self.put_many([(name, block)])

    def put_many(self, items: Sequence[tuple[str, np.ndarray]]) -> None:
        self.store.put_many([(name, encode_block(block)) for name, block in items])

    def status(self) -> str:
        return self.store.status()

    def close(self) -> None:
        self.store.close()

    def _decode(self, data: BytesLike) -> Optional[np.ndarray]:
        try:
            return decode_block(data)
        except CorruptBlock:
            self.corrupt += 1
            return None
