"""Gram matrices assembled from cached blocks.

`BlockGram.compute` hands `rntk_core.tiling.tiled_gram` a block function that
looks each block up in the cache first and computes (then stores) only the
missing ones. Every lookup the Gram will need is fetched in one round trip
before assembly. A block is stored per kernel as raw little-endian float64
bytes behind a small header giving its shape — never pickle — so a cache
entry can be read by anything and cannot execute code.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from rntk_core import RNTKParams, gram
from rntk_core.tiling import block_bounds, tiled_gram

from .cache import BlockCache
from .hashing import BlockKey, Digest, block_key, params_digest, run_digest, sequence_digest
from .library import overflow_error
from .limits import DIRECTION_PASSES, cross_pair_steps, symmetric_pair_steps
from .metrics import Metrics

KERNELS = ("ntk", "nngp")

_MAGIC = b"RNTKBLK1"
_HEADER = struct.Struct("<8sQQ")


class CorruptBlock(ValueError):
    """A cache entry that is not a well-formed block."""


def encode_block(matrix: np.ndarray) -> bytes:
    """Header (magic, rows, cols) + the values as C-ordered little-endian float64."""
    arr = np.ascontiguousarray(matrix, dtype="<f8")
    return _HEADER.pack(_MAGIC, *arr.shape) + arr.tobytes()


def decode_block(data: bytes) -> np.ndarray:
    """The matrix of an `encode_block` entry (read-only, no copy)."""
    if len(data) < _HEADER.size:
        raise CorruptBlock("entry shorter than its header")
    magic, rows, cols = _HEADER.unpack_from(data)
    if magic != _MAGIC or len(data) != _HEADER.size + 8 * rows * cols:
        raise CorruptBlock("bad magic or length")
    return np.frombuffer(data, dtype="<f8", offset=_HEADER.size).reshape(rows, cols)


@dataclass
class CacheStats:
    """Block cache use of one request (or one fit / predict)."""

    blocks: int = 0
    hits: int = 0
    misses: int = 0
    pair_steps: int = 0
    compute_seconds: float = 0.0

    def as_dict(self) -> dict[str, int]:
        """The figures a response reports."""
        return {"blocks": self.blocks, "hits": self.hits, "misses": self.misses}


@dataclass
class _Request:
    """State of one Gram assembly: digests by array identity and prefetched entries."""

    params: RNTKParams
    params_digest: Digest
    kernels: tuple[str, ...]
    stats: CacheStats
    digests: dict[int, Digest] = field(default_factory=dict)
    fetched: dict[str, Optional[bytes]] = field(default_factory=dict)


class BlockGram:
    """Computes Grams block by block through a `BlockCache`, counting hits, misses and work."""

    def __init__(self, cache: BlockCache, block_size: int, metrics: Metrics) -> None:
        self.cache = cache
        self.block_size = block_size
        self.metrics = metrics

    def compute(
        self,
        xs: list[np.ndarray],
        zs: Optional[list[np.ndarray]],
        params: RNTKParams,
        output: str,
        stats: Optional[CacheStats] = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ntk, nngp) of gram(xs) or gram(xs, zs); with ``output`` "ntk" or "nngp" the other is a stand-in.

        `xs` and `zs` must be validated sequences (`rntk_core.sequences.as_sequences`).
        Raises `InvalidInput` if the kernel is not finite in float64 (enormous inputs).
        """
        kernels = KERNELS if output == "both" else (output,)
        req = _Request(params, params_digest(params), kernels, stats if stats is not None else CacheStats())
        for seq in xs + (zs or []):
            req.digests.setdefault(id(seq), sequence_digest(seq))
        self._prefetch(req, xs, zs)
        try:
            return tiled_gram(
                xs, zs, params=params, output="both", block_size=self.block_size,
                block_fn=lambda rows, cols: self._block(req, rows, cols),
            )
        except OverflowError:
            raise overflow_error(xs + (zs or [])) from None

    def gram_fn(self, stats: CacheStats):
        """A `gram(X, Z=None, *, params, output)` look-alike that goes through this cache."""

        def fn(X, Z=None, *, params: RNTKParams, output: str = "ntk"):
            ntk, nngp = self.compute(list(X), None if Z is None else list(Z), params, output, stats)
            return {"ntk": ntk, "nngp": nngp, "both": (ntk, nngp)}[output]

        return fn

    # internals

    def _side(self, req: _Request, seqs: Sequence[np.ndarray]) -> Digest:
        digests = []
        for s in seqs:
            d = req.digests.get(id(s))
            if d is None:  # not one of the arrays we hashed (tiling copied it): hash it now
                d = req.digests[id(s)] = sequence_digest(s)
            digests.append(d)
        return run_digest(digests)

    def _key(self, req: _Request, rows: Sequence[np.ndarray], cols: Optional[Sequence[np.ndarray]]) -> BlockKey:
        return block_key(req.params_digest, self._side(req, rows), None if cols is None else self._side(req, cols))

    def _prefetch(self, req: _Request, xs: list[np.ndarray], zs: Optional[list[np.ndarray]]) -> None:
        """Fetch, in one call, every entry the assembly will ask for."""
        rows = block_bounds(len(xs), self.block_size)
        cols = rows if zs is None else block_bounds(len(zs), self.block_size)
        names = []
        for a, (r0, r1) in enumerate(rows):
            for b, (c0, c1) in enumerate(cols):
                if zs is None and b < a:
                    continue
                other = None if zs is None and a == b else (xs if zs is None else zs)[c0:c1]
                key = self._key(req, xs[r0:r1], other)
                names.extend(key.entry(k) for k in req.kernels)
        req.fetched = dict(zip(names, self.cache.get_many(names), strict=True))

    def _lookup(self, req: _Request, key: BlockKey) -> Optional[tuple[np.ndarray, ...]]:
        names = [key.entry(k) for k in req.kernels]
        missing = [n for n in names if n not in req.fetched]
        if missing:
            req.fetched.update(zip(missing, self.cache.get_many(missing), strict=True))
        try:
            found = [decode_block(req.fetched[n]) for n in names if req.fetched[n] is not None]
        except CorruptBlock:
            return None
        if len(found) != len(names):
            return None
        return tuple(m.T if key.transposed else m for m in found)

    def _block(self, req: _Request, rows: list[np.ndarray], cols: Optional[list[np.ndarray]]):
        key = self._key(req, rows, cols)
        req.stats.blocks += 1
        found = self._lookup(req, key)
        if found is not None:
            req.stats.hits += 1
            self.metrics.cache_hits.inc()
            return (found[0], found[-1]) if len(found) == 2 else (found[0], found[0])
        req.stats.misses += 1
        self.metrics.cache_misses.inc()
        started = time.perf_counter()
        try:
            ntk, nngp = gram(rows, cols, params=req.params, output="both")
        except ValueError as exc:  # sequences were validated: only a float64 overflow is left
            raise OverflowError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        steps = self._pair_steps(rows, cols, req.params)
        req.stats.pair_steps += steps
        req.stats.compute_seconds += elapsed
        self.metrics.compute_seconds.inc(elapsed)
        self.metrics.pair_steps.inc(steps)
        for kernel, matrix in (("ntk", ntk), ("nngp", nngp)):
            self.cache.put(key.entry(kernel), encode_block(matrix.T if key.transposed else matrix))
        return ntk, nngp

    @staticmethod
    def _pair_steps(rows: list[np.ndarray], cols: Optional[list[np.ndarray]], params: RNTKParams) -> int:
        r = np.fromiter((s.shape[0] for s in rows), dtype=np.int64, count=len(rows))
        if cols is None:
            per_layer = symmetric_pair_steps(r)
        else:
            per_layer = cross_pair_steps(r, np.fromiter((s.shape[0] for s in cols), dtype=np.int64, count=len(cols)))
        return per_layer * params.n_layers * DIRECTION_PASSES[params.direction]
