"""Assemble a Gram matrix from blocks, for callers that cache or distribute blocks.

Blocks are cut from the start of each batch in fixed-size runs, so appending
sequences to a batch leaves every earlier block unchanged. A symmetric Gram
needs only the blocks on and above the diagonal; the rest are transposes
(exact, since each pair is computed symmetrically).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .gram import GramResult, _check_output, _select, gram
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
    """The same matrix as `gram(X, Z, ...)`, computed block by block through `block_fn`."""
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
            if zs is None and a == b:
                k, g = block_fn(xs[r0:r1], None)
            else:
                k, g = block_fn(xs[r0:r1], (xs if zs is None else zs)[c0:c1])
            ntk[r0:r1, c0:c1], nngp[r0:r1, c0:c1] = k, g
            if zs is None and b != a:
                ntk[c0:c1, r0:r1], nngp[c0:c1, r0:r1] = k.T, g.T
    return _select(ntk, nngp, output)
