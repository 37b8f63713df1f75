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
from .float_range import (
    ERF_PRECISE_VARIANCE, KernelOverflowError, describe, is_homogeneous, power_of_two_exponents, scale_back,
)
from .params import MAX_VARIANCE, RNTKParams
from .sequences import as_sequences

KERNELS = ("ntk", "nngp")
"""The kernels a Gram holds: the RNTK Θ and the NNGP K."""
OUTPUTS = (*KERNELS, "both")
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
    peak: np.ndarray  # (N,) largest self-tangent term (inf: overflow or NaN)
    peak_at: np.ndarray  # (N,) step · L + layer on the grid where it is reached
    peak_var: np.ndarray  # (N,) largest self-variance
    order: np.ndarray  # position in the sorted layout -> index in the caller's batch
    exps: Optional[np.ndarray]  # (N,) caller's order: each sequence was computed at 2^-e scale (None: all e = 0)


@dataclass(frozen=True)
class _Coefficients:
    act: int
    homogeneous: bool  # K(c·x, d·z) = c·d·K(x, z): far-out sequences are computed at a power-of-two scale
    sw2: np.ndarray
    su2: np.ndarray
    sb2: np.ndarray
    sh2: float
    sv2: float


def _coefficients(params: RNTKParams) -> _Coefficients:
    sq = lambda values: np.asarray(values, dtype=np.float64) ** 2  # noqa: E731
    return _Coefficients(
        act=_engine.RELU if params.activation == "relu" else _engine.ERF,
        homogeneous=is_homogeneous(params),
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
    exps = None
    if coef.homogeneous:
        exps = power_of_two_exponents(np.max(np.abs(x), axis=(0, 1)))
        if exps is not None:
            x = np.ldexp(x, -exps)
            exps = exps[np.argsort(order)]
    with parallel_region(int(lengths.sum()) * len(coef.sw2)):
        f, g, diag_ntk, diag_nngp, peak, peak_at, peak_var = _engine.self_pass(
            x, start, coef.act, coef.sw2, coef.su2, coef.sb2, coef.sh2, coef.sv2, 1.0 / m
        )
    return _Layout(x, start, f, g, diag_ntk, diag_nngp, peak, peak_at, peak_var, order.astype(np.int64), exps)


@dataclass(frozen=True)
class _Batch:
    """A batch as the caller named it: for messages about its sequences."""

    name: str  # "X" or "Z"
    seqs: list[np.ndarray]  # as given (before any power-of-two scaling)
    params: RNTKParams
    reverse: bool = False

    def data(self, index: int) -> str:
        return f"largest |value| {float(np.max(np.abs(self.seqs[index]))):.3g}; {describe(self.params)}"


def _refuse_overflow(lay: _Layout, batch: _Batch) -> None:
    """Refuse the first sequence (in the caller's order) whose recursion leaves `MAX_VARIANCE`.

    Checked per sequence, before any pair is computed: every number of a
    pair's recursion is bounded by its two sequences' self terms.
    """
    over = ~(lay.peak <= MAX_VARIANCE)
    if not over.any():
        return
    pos = int(np.flatnonzero(over)[np.argmin(lay.order[over])])
    index = int(lay.order[pos])
    n_layers = len(batch.params.sigma_w)
    step, layer = divmod(int(lay.peak_at[pos]), n_layers)
    length = batch.seqs[index].shape[0]
    t = step - int(lay.start[pos])
    t = length - 1 - t if batch.reverse else t
    peak = float(lay.peak[pos])
    size = f"~{peak:.3g}" if np.isfinite(peak) else "beyond 1.8e308"
    raise KernelOverflowError(
        batch.name, index,
        f"exceeds the float64 range (self-variance or tangent term {size} at step {t + 1} of {length}, "
        f"layer {layer + 1}, above 2^1020; {batch.data(index)}): rescale the sequences or lower these parameters",
    )


def _refuse_unresolved_erf(rows: _Layout, cols: _Layout, xb: _Batch, zb: Optional[_Batch]) -> None:
    """With erf, refuse a pair whose two sequences both have variances above `ERF_PRECISE_VARIANCE`.

    Checked per sequence from the peaks of the self pass; only such pairs are
    refused (a sequence of huge variance is resolved against one of moderate
    variance, and with itself).
    """
    big_rows = rows.order[rows.peak_var > ERF_PRECISE_VARIANCE]
    big_cols = cols.order[cols.peak_var > ERF_PRECISE_VARIANCE]
    if zb is None and big_rows.shape[0] < 2 or zb is not None and (big_rows.size == 0 or big_cols.size == 0):
        return
    i = int(big_rows.min())
    j = int(np.sort(big_cols)[1]) if zb is None else int(big_cols.min())
    other = xb if zb is None else zb
    var_i = float(rows.peak_var[np.flatnonzero(rows.order == i)[0]])
    var_j = float(cols.peak_var[np.flatnonzero(cols.order == j)[0]])
    largest = [float(np.max(np.abs(b.seqs[k]))) for b, k in ((xb, i), (other, j))]
    raise KernelOverflowError(
        xb.name, i,
        f"cannot be resolved in float64 with erf: both self-variances exceed 2^20 (~{var_i:.3g} and ~{var_j:.3g}; "
        f"largest |values| {largest[0]:.3g} and {largest[1]:.3g}; {describe(xb.params)}), where the erf derivative "
        f"near correlation ±1 loses about s·1e-16 of its accuracy: rescale the sequences (for example to unit "
        f"norm) or lower these parameters",
        partner=(other.name, j),
    )


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
    xs: list[np.ndarray], zs: Optional[list[np.ndarray]], coef: _Coefficients, reverse: bool,
    xb: _Batch, zb: Optional[_Batch],
) -> tuple[np.ndarray, np.ndarray]:
    """Both kernels for one reading direction, of the sequences as scaled in their layouts (`_scaled_back` undoes it)."""
    t_max = max(s.shape[0] for s in xs + (zs or []))
    rows = _layout(xs, t_max, reverse, coef)
    _refuse_overflow(rows, xb)
    cols = rows
    if zs is not None:
        cols = _layout(zs, t_max, reverse, coef)
        _refuse_overflow(cols, zb)
    if coef.act == _engine.ERF:
        _refuse_unresolved_erf(rows, cols, xb, zb)
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
    return _scaled_back(ntk, rows.exps, cols.exps), _scaled_back(nngp, rows.exps, cols.exps)


def _scaled_back(kernel: np.ndarray, row_exps: Optional[np.ndarray], col_exps: Optional[np.ndarray]) -> np.ndarray:
    return kernel if row_exps is None and col_exps is None else scale_back(kernel, row_exps, col_exps)


def _check_finite(kernel: np.ndarray, xb: _Batch, zb: Optional[_Batch]) -> None:
    """Refuse a result that left the float64 range, naming the first entry's sequences.

    The recursion itself stayed in range (`_refuse_overflow`); what is left is
    the read-out σv², the sum of two directions, or the exact scaling back
    of the homogeneous ReLU kernel.
    """
    finite = np.isfinite(kernel)
    if finite.all():
        return
    if kernel.ndim == 1:
        i, partner = int(np.argmin(finite)), None
    else:
        i = int(np.argmin(finite.all(axis=1)))
        j = int(np.argmin(finite[i]))
        other = xb if zb is None else zb
        partner = None if zb is None and i == j else (other.name, j)
    raise KernelOverflowError(
        xb.name, i, f"exceeds the float64 range ({xb.data(i)}): rescale the sequences or lower these parameters",
        partner=partner,
    )


def select_output(ntk: np.ndarray, nngp: np.ndarray, output: str) -> GramResult:
    """The kernel(s) `output` names: ntk, nngp, or both as a tuple."""
    if output == "ntk":
        return ntk
    if output == "nngp":
        return nngp
    return ntk, nngp


def check_output(output: str) -> None:
    """Refuse an `output` that names no kernel."""
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
    check_output(output)
    xs = as_sequences(X, "X")
    zs = None if Z is None else as_sequences(Z, "Z", m=xs[0].shape[1])
    coef = _coefficients(params)
    ntk, nngp = None, None
    for reverse in params.reversals:
        xb = _Batch("X", xs, params, reverse)
        zb = None if zs is None else _Batch("Z", zs, params, reverse)
        d_ntk, d_nngp = _one_direction(xs, zs, coef, reverse, xb, zb)
        ntk = d_ntk if ntk is None else ntk + d_ntk
        nngp = d_nngp if nngp is None else nngp + d_nngp
    xb, zb = _Batch("X", xs, params), None if zs is None else _Batch("Z", zs, params)
    for kernel in (ntk, nngp):
        _check_finite(kernel, xb, zb)
    return select_output(ntk, nngp, output)


def gram_diagonal(
    X: Any, *, params: Optional[RNTKParams] = None, output: str = "ntk"
) -> GramResult:
    """The diagonal of ``gram(X)`` (each sample with itself) in O(N·T) time.

    Gaussian-process variances need K(x, x) for every test sequence, which
    does not justify computing the whole test Gram.
    """
    params = RNTKParams() if params is None else params
    check_output(output)
    xs = as_sequences(X, "X")
    coef = _coefficients(params)
    t_max = max(s.shape[0] for s in xs)
    ntk = np.zeros(len(xs))
    nngp = np.zeros(len(xs))
    for reverse in params.reversals:
        lay = _layout(xs, t_max, reverse, coef)
        _refuse_overflow(lay, _Batch("X", xs, params, reverse))
        d_ntk, d_nngp = np.empty(len(xs)), np.empty(len(xs))
        d_ntk[lay.order], d_nngp[lay.order] = lay.diag_ntk, lay.diag_nngp
        ntk += _scaled_back(d_ntk, lay.exps, lay.exps)
        nngp += _scaled_back(d_nngp, lay.exps, lay.exps)
    for kernel in (ntk, nngp):
        _check_finite(kernel, _Batch("X", xs, params), None)
    return select_output(ntk, nngp, output)
