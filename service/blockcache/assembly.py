"""Gram matrices assembled from cached blocks.

`BlockGram.compute` cuts the Gram into the blocks of `rntk_core.tiling`
(fixed-size runs from the start of each batch, so an appended dataset keeps
its earlier blocks), fetches every block it needs in one cache round trip,
computes only the missing ones (all of them in one call when none is cached),
and stores them in batches. A symmetric Gram's lower blocks are the
transposes of its upper ones, as `rntk_core.tiling.tiled_gram` assembles
them, so the result is the library's bit for bit.

Nothing is copied that need not be: a Gram computed whole is the answer
itself, and its blocks go to the cache as views of it (read-only), which the
in-process cache keeps as they are; only a Gram assembled from cached blocks
is copied together, and only a remote cache encodes (`service.blockcache.codec`).
On a virtual machine, writing fresh memory costs about 1 ms per 2 MB in page
faults, as much as computing a tenth of an N = 500 Gram.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from rntk_core import (
    KERNELS, Block, KernelOverflowError, RNTKParams, SequenceBatch, block_bounds, block_plan, gram, pair_steps,
)

from ..metrics import Metrics
from .keys import BlockKey, Digest, block_key, params_digest, run_digest, sequence_digests
from .stores import BlockCache, stored_bytes

WHOLE_GRAM_MAX_ENTRIES = 4_000_000
"""When no block of a Gram is cached and it has at most this many entries, it is computed in one call.

Blocks cut from the whole are the blocks' own numbers bit for bit (`rntk_core.gram`),
and one call shares its work out over the threads better than one call per
block; the price is both kernels of the whole Gram in memory at once (64 MB here).
"""

STORE_BATCH_BYTES = 32 << 20
"""New blocks go to the cache in batches of about this many bytes."""


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


@dataclass(frozen=True)
class _Tile:
    """One block of the Gram (`rntk_core.block_plan`) and its cache key."""

    block: Block
    key: BlockKey


class _PendingStores:
    """New cache entries, sent in batches of about `STORE_BATCH_BYTES`: one round trip each, bounded memory."""

    def __init__(self, cache: BlockCache) -> None:
        self.cache = cache
        self.items: list[tuple[str, np.ndarray]] = []
        self.size = 0

    def add(self, name: str, block: np.ndarray) -> None:
        self.items.append((name, block))
        self.size += stored_bytes(block)
        if self.size >= STORE_BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.items:
            self.cache.put_many(self.items)
        self.items, self.size = [], 0


class BlockGram:
    """Computes Grams block by block through a `BlockCache`, counting hits, misses and work."""

    def __init__(self, cache: BlockCache, block_size: int, metrics: Metrics) -> None:
        self.cache = cache
        self.block_size = block_size
        self.metrics = metrics

    def compute(
        self,
        xs: SequenceBatch,
        zs: Optional[SequenceBatch],
        params: RNTKParams,
        output: str,
        stats: Optional[CacheStats] = None,
    ) -> dict[str, np.ndarray]:
        """The kernels `output` names ("ntk", "nngp" or both) of gram(xs) or gram(xs, zs), by name.

        `xs` and `zs` must be validated batches (`rntk_core.sequences.as_sequences`).
        The matrices are read-only (C-ordered): the cache may hold views of them.
        Raises `rntk_core.KernelOverflowError` (a `ValueError` naming a sequence of
        `xs` or `zs`) if the kernel leaves float64.
        """
        stats = stats if stats is not None else CacheStats()
        kernels = KERNELS if output == "both" else (output,)
        tiles = self._tiles(xs, zs, params_digest(params))
        names = [t.key.entry(k) for t in tiles for k in kernels]
        fetched = dict(zip(names, self.cache.get_many(names), strict=True))
        shape = (len(xs), len(xs) if zs is None else len(zs))
        cached = [self._cached(tile, kernels, fetched) for tile in tiles]
        pending = _PendingStores(self.cache)
        whole = None
        if all(b is None for b in cached) and shape[0] * shape[1] <= WHOLE_GRAM_MAX_ENTRIES:
            whole = self._gram(xs, zs, params, stats)
        out = {k: whole[k] for k in kernels} if whole is not None else {k: np.empty(shape) for k in kernels}
        for tile, blocks in zip(tiles, cached, strict=True):
            stats.blocks += 1
            if blocks is None:
                computed = (self._gram(*tile.block.operands(xs, zs), params, stats, tile.block) if whole is None
                            else {k: tile.block.cut(m) for k, m in whole.items()})
                blocks = self._missed(tile, computed, kernels, stats, pending)
            else:
                stats.hits += 1
                self.metrics.cache_hits.inc()
            if whole is not None:
                continue
            for kernel, block in zip(kernels, blocks, strict=True):
                tile.block.place(out[kernel], block)
        pending.flush()
        for matrix in out.values():
            matrix.flags.writeable = False
        return out

    # internals

    def _tiles(self, xs: SequenceBatch, zs: Optional[SequenceBatch], params: Digest) -> list[_Tile]:
        """Every block the Gram needs (on and above the diagonal when symmetric), with its cache key."""
        plan = block_plan(len(xs), None if zs is None else len(zs), self.block_size)
        row_runs = self._runs(xs)
        col_runs = row_runs if zs is None else self._runs(zs)
        return [_Tile(b, block_key(params, row_runs[b.row], None if b.diagonal else col_runs[b.col])) for b in plan]

    def _runs(self, seqs: SequenceBatch) -> list[Digest]:
        """The digest of each run of `block_size` sequences (a block's side), from one digest per sequence."""
        digests = sequence_digests(seqs)
        return [run_digest(digests[lo:hi]) for lo, hi in block_bounds(len(digests), self.block_size)]

    @staticmethod
    def _cached(
        tile: _Tile, kernels: tuple[str, ...], fetched: dict[str, Optional[np.ndarray]]
    ) -> Optional[list[np.ndarray]]:
        """The block's matrices from the prefetched entries, or None if any is missing or not the tile's shape."""
        found = []
        for kernel in kernels:
            block = fetched[tile.key.entry(kernel)]
            if block is None:
                return None
            block = block.T if tile.key.transposed else block
            if block.shape != tile.block.shape:
                return None
            found.append(block)
        return found

    def _gram(
        self, rows: SequenceBatch, cols: Optional[SequenceBatch], params: RNTKParams, stats: CacheStats,
        block: Optional[Block] = None,
    ) -> dict[str, np.ndarray]:
        """Both kernels of gram(rows) or gram(rows, cols) (read-only), with the work counted.

        A kernel beyond float64 raises `rntk_core.KernelOverflowError` naming the
        sequences of the whole request (`block`: the block these rows and columns are).
        """
        started = time.perf_counter()
        try:
            ntk, nngp = gram(rows, cols, params=params, output="both")
        except KernelOverflowError as exc:
            if block is None:
                raise
            raise block.renamed(exc) from None
        ntk.flags.writeable = nngp.flags.writeable = False
        elapsed = time.perf_counter() - started
        steps = pair_steps([s.shape[0] for s in rows], None if cols is None else [s.shape[0] for s in cols], params)
        stats.pair_steps += steps
        stats.compute_seconds += elapsed
        self.metrics.compute_seconds.inc(elapsed)
        self.metrics.pair_steps.inc(steps)
        return {"ntk": ntk, "nngp": nngp}

    def _missed(
        self,
        tile: _Tile,
        computed: dict[str, np.ndarray],
        kernels: tuple[str, ...],
        stats: CacheStats,
        pending: "_PendingStores",
    ) -> list[np.ndarray]:
        """Count a missing block, queue both its kernels for the cache, and return the kernels asked for."""
        stats.misses += 1
        self.metrics.cache_misses.inc()
        for kernel, matrix in computed.items():
            pending.add(tile.key.entry(kernel), matrix.T if tile.key.transposed else matrix)
        return [computed[k] for k in kernels]
