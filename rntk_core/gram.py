"""Public Gram-matrix functions: validate, lay out, run the jitted core.

`gram` is the whole-matrix call. A block of a larger Gram is the same call on
two slices: ``gram(A, B)`` for an off-diagonal block and ``gram(A)`` for a
diagonal block of a symmetric Gram. Every pair is computed independently and
symmetrically in its two sequences, so a block gives bit-for-bit the numbers
the whole-matrix call puts in that place, and ``gram(B, A)`` is exactly
``gram(A, B).T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from . import _engine
from .config import parallel_region
from .params import RNTKParams
from .sequences import as_sequences

OUTPUTS = ("ntk", "nngp", "both")
TILE_WIDTH = 256
_TILE_SHUFFLE_SEED = 0x5EED
_MAX_TILE_GROUP = 32
"""At most this many rows share a run of columns in a row (enough to reuse its tables from cache)."""
_MIN_TILE_GROUPS = 64
"""Groups are made smaller than `_MAX_TILE_GROUP` where needed to leave at least this many to share out."""

GramResult = Union[np.ndarray, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class _Layout:
    """A batch laid out for the core: end-aligned values and per-step tables."""

    x: np.ndarray  # (t_max, m, N), sorted order
    start: np.ndarray  # (N,) first step of each sequence on the grid
    f: np.ndarray  # (L, t_max, N)
    g: np.ndarray  # (L, t_max, N)
    diag_ntk: np.ndarray  # (N,)
    diag_nngp: np.ndarray  # (N,)
    order: np.ndarray  # position in the sorted layout -> index in the caller's batch


@dataclass(frozen=True)
class _Coefficients:
    act: int
    sw2: np.ndarray
    su2: np.ndarray
    sb2: np.ndarray
    sh2: float
    sv2: float


def _coefficients(params: RNTKParams) -> _Coefficients:
    sq = lambda values: np.asarray(values, dtype=np.float64) ** 2  # noqa: E731
    return _Coefficients(
        act=_engine.RELU if params.activation == "relu" else _engine.ERF,
        sw2=sq(params.sigma_w),
        su2=sq(params.sigma_u),
        sb2=sq(params.sigma_b),
        sh2=float(params.sigma_h) ** 2,
        sv2=float(params.sigma_v) ** 2,
    )


def _layout(seqs: list[np.ndarray], t_max: int, reverse: bool, coef: _Coefficients) -> _Layout:
    lengths = np.fromiter((s.shape[0] for s in seqs), dtype=np.int64, count=len(seqs))
    order = np.argsort(-lengths, kind="stable")
    m = seqs[0].shape[1]
    x = np.zeros((t_max, m, len(seqs)))
    for pos, idx in enumerate(order):
        seq = seqs[idx][::-1] if reverse else seqs[idx]
        x[t_max - seq.shape[0]:, :, pos] = seq
    start = (t_max - lengths[order]).astype(np.int64)
    with parallel_region(int(lengths.sum()) * len(coef.sw2)):
        f, g, diag_ntk, diag_nngp = _engine.self_pass(
            x, start, coef.act, coef.sw2, coef.su2, coef.sb2, coef.sh2, coef.sv2, 1.0 / m
        )
    return _Layout(x, start, f, g, diag_ntk, diag_nngp, order.astype(np.int64))


def _tiles(n_rows: int, n_cols: int, upper: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tiles (row, first column, end column); with `upper`, only columns after the row.

    Columns are cut into fixed runs of `TILE_WIDTH`. Consecutive rows against
    one run of columns form a group: a thread working through a group reads
    that run's per-step tables from its cache. Groups are shuffled, so that
    every thread's share mixes long and short columns and cheap and costly
    rows, and the threads finish together.
    """
    rows, los, his = [], [], []
    for first in range(0, n_cols, TILE_WIDTH):
        end = min(first + TILE_WIDTH, n_cols)
        row = np.arange(min(n_rows, end - 1) if upper else n_rows, dtype=np.int64)
        rows.append(row)
        los.append(np.maximum(row + 1, first) if upper else np.full(row.shape, first, dtype=np.int64))
        his.append(np.full(row.shape, end, dtype=np.int64))
    row, lo, hi = (np.concatenate(a) if a else np.empty(0, np.int64) for a in (rows, los, his))
    size = int(np.clip(row.shape[0] // _MIN_TILE_GROUPS, 1, _MAX_TILE_GROUP))
    groups = np.random.default_rng(_TILE_SHUFFLE_SEED).permutation(-(-row.shape[0] // size))
    order = (groups[:, None] * size + np.arange(size)).ravel()
    order = order[order < row.shape[0]]
    return row[order], lo[order], hi[order]


def _one_direction(
    xs: list[np.ndarray], zs: Optional[list[np.ndarray]], coef: _Coefficients, reverse: bool
) -> tuple[np.ndarray, np.ndarray]:
    t_max = max(s.shape[0] for s in xs + (zs or []))
    rows = _layout(xs, t_max, reverse, coef)
    cols = rows if zs is None else _layout(zs, t_max, reverse, coef)
    n, m = rows.order.shape[0], cols.order.shape[0]
    ntk = np.empty((n, m))
    nngp = np.empty((n, m))
    symmetric = zs is None
    if symmetric:
        ntk[rows.order, rows.order] = rows.diag_ntk
        nngp[rows.order, rows.order] = rows.diag_nngp
    tile_row, tile_lo, tile_hi = _tiles(n, m, upper=symmetric)
    pairs = n * (n - 1) // 2 if symmetric else n * m
    with parallel_region(pairs * t_max * len(coef.sw2)):
        _engine.pair_tiles(
            tile_row, tile_lo, tile_hi,
            rows.x, rows.f, rows.g, rows.start,
            cols.x, cols.f, cols.g, cols.start,
            coef.act, coef.sw2, coef.su2, coef.sb2, coef.sv2, 1.0 / rows.x.shape[1],
            rows.order, cols.order, symmetric, ntk, nngp,
        )
    return ntk, nngp


def _check_finite(kernel: np.ndarray) -> None:
    """Refuse a result that left the float64 range (inputs of magnitude ~1e155 and up)."""
    finite = np.isfinite(kernel)
    if not finite.all():
        row = int(np.argmin(finite.all(axis=1))) if kernel.ndim == 2 else int(np.argmin(finite))
        raise ValueError(
            f"X[{row}]: its kernel values exceed the float64 range; "
            "rescale the sequences (for example to unit norm)"
        )


def _select(ntk: np.ndarray, nngp: np.ndarray, output: str) -> GramResult:
    _check_finite(ntk)
    _check_finite(nngp)
    if output == "ntk":
        return ntk
    if output == "nngp":
        return nngp
    return ntk, nngp


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"output: must be one of {OUTPUTS}, got {output!r}")


def gram(
    X: Any,
    Z: Any = None,
    *,
    params: Optional[RNTKParams] = None,
    output: str = "ntk",
) -> GramResult:
    """The RNTK (and/or NNGP) Gram matrix of one batch, or between two batches.

    Parameters
    ----------
    X, Z : sequences of arrays shaped (T_i, m), or (T_i,) when m = 1
        Lengths may differ; m must agree. With ``Z=None`` the symmetric Gram
        of X is returned, where each diagonal entry is a sample with itself
        (correlation exactly 1; σh enters there). With Z, the (N, M) cross
        Gram, where no pair is the same sample.
    params : RNTKParams, optional
        Hyperparameters; defaults to ``RNTKParams()``.
    output : "ntk", "nngp" or "both"
        Which kernel to return; "both" returns the tuple (ntk, nngp).

    Returns
    -------
    ndarray of float64, or a tuple of two
    """
    params = RNTKParams() if params is None else params
    if not isinstance(params, RNTKParams):
        raise ValueError(f"params: expected RNTKParams, got {type(params).__name__}")
    _check_output(output)
    xs = as_sequences(X, "X")
    zs = None if Z is None else as_sequences(Z, "Z", m=xs[0].shape[1])
    coef = _coefficients(params)
    ntk, nngp = None, None
    for reverse in params.reversals:
        d_ntk, d_nngp = _one_direction(xs, zs, coef, reverse)
        ntk = d_ntk if ntk is None else ntk + d_ntk
        nngp = d_nngp if nngp is None else nngp + d_nngp
    return _select(ntk, nngp, output)


def gram_diagonal(
    X: Any, *, params: Optional[RNTKParams] = None, output: str = "ntk"
) -> GramResult:
    """The diagonal of ``gram(X)`` (each sample with itself) in O(N·T) time.

    Gaussian-process variances need K(x, x) for every test sequence, which
    does not justify computing the whole test Gram.
    """
    params = RNTKParams() if params is None else params
    _check_output(output)
    xs = as_sequences(X, "X")
    coef = _coefficients(params)
    t_max = max(s.shape[0] for s in xs)
    ntk = np.zeros(len(xs))
    nngp = np.zeros(len(xs))
    for reverse in params.reversals:
        lay = _layout(xs, t_max, reverse, coef)
        ntk[lay.order] += lay.diag_ntk
        nngp[lay.order] += lay.diag_nngp
    return _select(ntk, nngp, output)
