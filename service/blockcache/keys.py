"""Cache keys of Gram blocks, built from one SHA-256 digest per sequence.

A block's key hashes: the kernel version, the canonical parameters, the
digests of its row sequences, those of its column sequences, and whether it is
a diagonal block of a symmetric Gram (where each sequence meets itself and σh
enters: SPEC §1.3). Each sequence is hashed once, over its dtype, shape and
bytes, and block keys are built from those digests, so a block is recognised
wherever its sequences appear at the same block position — an appended dataset
keeps its earlier keys. The two sides of a cross block are put in a canonical
order, so K(A, B) and K(B, A) share one entry, read transposed by one of them.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

import rntk_core
from rntk_core import RNTKParams

KERNEL_VERSION = f"rntk_core/{rntk_core.__version__};blocks/1"
"""Changes whenever the numbers a block holds could change; part of every key."""

Digest = bytes


_SEQ_PREFIX = hashlib.sha256(b"seq:<f8:")
_SHAPE = struct.Struct("<QQ")
_LE_F8 = np.dtype("<f8")


def sequence_digest(seq: np.ndarray) -> Digest:
    """SHA-256 of one (T, m) sequence: dtype, shape and raw values (little-endian float64)."""
    arr = np.ascontiguousarray(seq, dtype="<f8")
    if arr.ndim != 2:
        raise ValueError(f"sequence_digest: expected a (T, m) array, got shape {arr.shape}")
    h = _SEQ_PREFIX.copy()
    h.update(_SHAPE.pack(*arr.shape))
    h.update(arr)
    return h.digest()


def sequence_digests(seqs: Sequence[np.ndarray]) -> list[Digest]:
    """`sequence_digest` of every sequence of a batch, in one pass.

    The same digests, at less cost per sequence: the hash state after the
    prefix and shape is prepared once per distinct shape, and arrays already
    C-contiguous little-endian float64 are hashed in place.
    """
    prepared: dict[tuple[int, ...], "hashlib._Hash"] = {}
    out: list[Digest] = []
    for seq in seqs:
        arr = seq if seq.dtype == _LE_F8 and seq.flags.c_contiguous else np.ascontiguousarray(seq, dtype=_LE_F8)
        base = prepared.get(arr.shape)
        if base is None:
            if arr.ndim != 2:
                raise ValueError(f"sequence_digests: expected (T, m) arrays, got shape {arr.shape}")
            base = prepared[arr.shape] = _SEQ_PREFIX.copy()
            base.update(_SHAPE.pack(*arr.shape))
        h = base.copy()
        h.update(arr)
        out.append(h.digest())
    return out


def run_digest(digests: Sequence[Digest]) -> Digest:
    """Digest of an ordered run of sequences (one side of a block)."""
    h = hashlib.sha256(b"run:" + struct.pack("<Q", len(digests)))
    for d in digests:
        h.update(d)
    return h.digest()


def params_digest(params: RNTKParams) -> Digest:
    """Digest of the kernel version and the canonical parameters."""
    return hashlib.sha256(f"{KERNEL_VERSION}\n{params.canonical_json()}".encode()).digest()


@dataclass(frozen=True)
class BlockKey:
    """Where a block lives in the cache, and whether it is stored transposed."""

    digest: str
    transposed: bool

    def entry(self, kernel: str) -> str:
        """The cache entry name of one kernel ("ntk" or "nngp") of this block."""
        return f"{self.digest}:{kernel}"


def block_key(params: Digest, rows: Digest, cols: Optional[Digest]) -> BlockKey:
    """Key of block (rows, cols); ``cols=None`` is the diagonal block of a symmetric Gram."""
    if cols is None:
        kind, first, second, transposed = b"diag", rows, rows, False
    else:
        transposed = cols < rows
        kind = b"cross"
        first, second = (cols, rows) if transposed else (rows, cols)
    digest = hashlib.sha256(b"block:" + params + kind + first + second).hexdigest()
    return BlockKey(digest, transposed)
