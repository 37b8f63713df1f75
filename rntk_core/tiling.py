"""Assemble a Gram matrix from blocks, for callers that cache or distribute blocks.

Blocks are cut from the start of each batch in fixed-size runs, so appending
sequences to a batch leaves every earlier block unchanged. A symmetric Gram
needs only the blocks on and above the diagonal; the rest are transposes
(exact, since each pair is computed symmetrically).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .float_range import KernelOverflowError
from .gram import GramResult, _Batch, _check_finite, _check_output, _select, gram
from .params import RNTKParams
from .sequences import as_sequences

Batch = list[np.ndarray]
BlockFn = Callable[[Batch, Optional[Batch]], tuple[np.ndarray, np.ndarray]]
"""Computes (ntk, nngp) of a block: ``fn(rows, None)`` is the symmetric Gram of
`rows` (a diagonal block), ``fn(rows, cols)`` the cross Gram."""


def block_bounds(n: int, block_size: int) -> list[tuple[int, int]]:
    """Half-open ranges [start, stop) of consecutive blocks covering 0..n."""
    if block_size < 1:
        raise ValueError(f"block_size: must be >= 1, got {block_size}")
    return [(lo, min(lo + block_size, n)) for lo in range(0, n, block_size)]


def direct_block_fn(params: RNTKParams) -> BlockFn:
    """The block function that simply computes each block."""
    return lambda rows, cols: gram(rows, cols, params=params, output="both")


def tiled_gram(
    X: Any,
    Z: Any = None,
    *,
    params: Optional[RNTKParams] = None,
    output: str = "ntk",
    block_size: int = 256,
    block_fn: Optional[BlockFn] = None,
) -> GramResult:
    """The same matrix as `gram(X, Z, ...)`, computed block by block through `block_fn`.

    A `KernelOverflowError` from a block is raised again with the indices of
    the whole batches, so it names the same sequences `gram` would.
    """
    params = RNTKParams() if params is None else params
    _check_output(output)
    xs = as_sequences(X, "X")
    zs = None if Z is None else as_sequences(Z, "Z", m=xs[0].shape[1])
    block_fn = direct_block_fn(params) if block_fn is None else block_fn
    rows = block_bounds(len(xs), block_size)
    cols = rows if zs is None else block_bounds(len(zs), block_size)
    n_cols = len(xs) if zs is None else len(zs)
    ntk = np.empty((len(xs), n_cols))
    nngp = np.empty((len(xs), n_cols))
    for a, (r0, r1) in enumerate(rows):
        for b, (c0, c1) in enumerate(cols):
            if zs is None and b < a:
                continue
            try:
                if zs is None and a == b:
                    k, g = block_fn(xs[r0:r1], None)
                else:
                    k, g = block_fn(xs[r0:r1], (xs if zs is None else zs)[c0:c1])
            except KernelOverflowError as exc:
                raise _in_whole_batches(exc, r0, c0, zs is None) from None
            ntk[r0:r1, c0:c1], nngp[r0:r1, c0:c1] = k, g
            if zs is None and b != a:
                ntk[c0:c1, r0:r1], nngp[c0:c1, r0:r1] = k.T, g.T
    xb, zb = _Batch("X", xs, params), None if zs is None else _Batch("Z", zs, params)
    for kernel in (ntk, nngp):
        _check_finite(kernel, xb, zb)
    return _select(ntk, nngp, output)


def _in_whole_batches(exc: KernelOverflowError, r0: int, c0: int, symmetric: bool) -> KernelOverflowError:
    """A block's error renamed: its X are the whole X from `r0`, its Z the whole Z (or X, when symmetric) from `c0`."""

    def whole(batch: str, index: int) -> tuple[str, int]:
        if batch == "X":
            return "X", r0 + index
        return ("X" if symmetric else "Z"), c0 + index

    partner = None if exc.partner is None else whole(*exc.partner)
    return exc.renamed(*whole(exc.batch, exc.index), partner=partner)
