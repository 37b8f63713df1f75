"""The jitted core: dual activations, self-covariances per sequence, then the pair recursion.

Layout. Sequences of a batch share one time grid of length ``t_max`` and are
aligned at its end (SPEC §1.3), stored as ``x[g, k, n]``; sequence n occupies
steps ``start[n] .. t_max - 1``. Columns are sorted by decreasing length, so at
any step the pairs already under way in a tile are a prefix of its columns.

Work is cut into tiles (one row against a run of up to a few hundred
columns). Inside a tile time runs in the outer loop and columns in the inner
loop, which is contiguous and branch-free, so it runs as SIMD code; tiles run
in parallel. A tile keeps two numbers per pair and layer: the layer's dual
activation V(C) (the next step's recurrent covariance) and V'(C)·Θ (the next
step's recurrent tangent term), so memory stays O(N·M) for the result plus
O(N·T) for the per-sequence tables.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS

RELU = 0
ERF = 1

# Dual activations V and V' (SPEC §1.1), as branch-free scalar functions.
#
# They are inlined into the pair loops, which is what lets those loops run as
# SIMD code: arccos and arcsin come from one polynomial (fdlibm's reduction of
# both to asin on [0, 1/2], then a minimax polynomial in place of its rational
# fit, so there is no division; within 2 ulps of the true arcsin and arccos
# over [−1, 1]) evaluated with selects instead of branches, so no
# call into libm breaks vectorisation.
# Per-sequence quantities are precomputed once per time step (`relu_stats`,
# `erf_stats`), so a pair only multiplies two of them. Every pair function is
# symmetric in its two sequences to the last bit, which makes K(A, B) exactly
# K(B, A)ᵀ and lets a cache share one block for both.
#
# They live in this module, beside the loops they are inlined into, because
# Numba's on-disk cache only notices changes to the file of the cached function.

PI = math.pi
HALF_PI = 0.5 * math.pi
HALF_PI_LO = 6.123233995736766e-17
"""π/2 − HALF_PI: what the float64 π/2 leaves out, added back where asin subtracts from π/2."""
_QUARTER_PI = 0.25 * math.pi
INV_2PI = 0.5 / math.pi
TWO_OVER_PI = 2.0 / math.pi
FOUR_OVER_PI = 4.0 / math.pi

# asin(u) = u + u·z·P(z), z = u², u in [0, 1/2]: P's coefficients, a minimax
# fit of degree 11 (evaluated by Estrin's scheme, whose short dependency chains
# keep the pipelines full).
_A0 = 0.16666666666666646
_A1 = 0.07500000000021978
_A2 = 0.04464285710146497
_A3 = 0.030381947490254527
_A4 = 0.022372043664706378
_A5 = 0.017355334434132383
_A6 = 0.013928781847841392
_A7 = 0.011882032645784928
_A8 = 0.0077714397645414456
_A9 = 0.016129764409156828
_A10 = -0.010908304349000406
_A11 = 0.028285381520428275

_SNAP = 1.0 - 4.5e-16
"""Correlations at least this close to ±1 are within rounding of ±1 (4 ulps)."""

inline = numba.njit(inline="always", **JIT_OPTIONS)


@inline
def _asin_core(a):
    """For a in [0, 1]: (a > 1/2, u, t) with asin(u) = u + t, where u = a, or u = √((1 − a)/2) when a > 1/2.

    The two parts are returned apart so that asin(a) = π/2 − 2·asin(u) can be
    formed without first rounding asin(u): that difference cancels up to half
    of its leading bits just above a = 1/2.
    """
    big = a > 0.5
    z = (1.0 - a) * 0.5 if big else a * a
    s = math.sqrt(z)
    u = s if big else a
    z2 = z * z
    z4 = z2 * z2
    z8 = z4 * z4
    e0 = _A0 + _A1 * z
    e1 = _A2 + _A3 * z
    e2 = _A4 + _A5 * z
    e3 = _A6 + _A7 * z
    e4 = _A8 + _A9 * z
    e5 = _A10 + _A11 * z
    p = (e0 + e1 * z2) + (e2 + e3 * z2) * z4 + (e4 + e5 * z2) * z8
    return big, u, u * (z * p)


@inline
def fast_acos(x):
    """arccos(x) for x in [−1, 1]."""
    big, u, t = _asin_core(abs(x))
    r = u + t
    small_val = HALF_PI - (r if x >= 0.0 else -r)
    big_val = 2.0 * r if x >= 0.0 else PI - 2.0 * r
    return big_val if big else small_val


@inline
def fast_asin(x):
    """arcsin(x) for x in [−1, 1]."""
    big, u, t = _asin_core(abs(x))
    # π/2 − 2(u + t) with the rounding after the cancellation: exactly π/2 − 2u
    # where that is exact (Sterbenz: 2u ≥ π/4), else after summing 2(u + t) below 1
    rest = 2.0 * t - HALF_PI_LO
    twice = 2.0 * u
    mag = ((HALF_PI - twice) - rest if twice >= _QUARTER_PI else HALF_PI - (twice + rest)) if big else u + t
    return mag if x >= 0.0 else -mag


@inline
def clip_unit(c):
    """Clamp a correlation to [−1, 1] (rounding can step just outside)."""
    return min(max(c, -1.0), 1.0)


@inline
def snap_unit(c):
    """Clamp a correlation to [−1, 1], and round it to ±1 within a few ulps of them.

    Near ±1 the correlation carries a few ulps of rounding from its factors,
    and V'(c) has a square-root singularity there: one ulp moves it by ~1e-8.
    Perfectly (anti-)correlated steps — equal or sign-flipped data — are common
    (a first step, a copy of a series), so the value the rounding cannot
    distinguish from ±1 is taken to be ±1.
    """
    return c if abs(c) < _SNAP else (1.0 if c > 0.0 else -1.0)


@inline
def relu_stats(s):
    """Per-sequence factors for ReLU: (√s, 1/√s), with 1/√s = 0 for a zero variance."""
    root = math.sqrt(s)
    return root, (1.0 / root if s > 0.0 else 0.0)


@inline
def relu_pair(k3, root_a, inv_a, root_b, inv_b):
    """ReLU (V, V') of [[s_a, k3], [k3, s_b]] from the two sequences' factors."""
    lo = min(inv_a, inv_b)
    hi = max(inv_a, inv_b)
    c = snap_unit((k3 * lo) * hi)
    theta = fast_acos(c)
    both = lo > 0.0
    v = (root_a * root_b) * (c * (PI - theta) + math.sqrt((1.0 - c) * (1.0 + c))) * INV_2PI
    d = (PI - theta) * INV_2PI
    return (v if both else 0.0), (d if both else 0.0)


@inline
def relu_self(s):
    """ReLU (V, V') of a variance with itself: correlation exactly 1."""
    return 0.5 * s, (0.5 if s > 0.0 else 0.0)


@inline
def erf_stats(s):
    """Per-sequence factors for erf: (a, a²) with a = 1/√(1 + 2s)."""
    a = 1.0 / math.sqrt(1.0 + 2.0 * s)
    return a, a * a


@inline
def erf_pair(k3, a, a2, b, b2):
    """erf (V, V') of [[s_a, k3], [k3, s_b]].

    The determinant (1+2s_a)(1+2s_b) − 4k3² is at least 1 + 2s_a + 2s_b by
    Cauchy–Schwarz; that bound, in normalised form, keeps V' finite when
    rounding pushes the correlation to ±1.
    """
    ab = a * b
    c = clip_unit(2.0 * k3 * ab)
    det_norm = max((1.0 - c) * (1.0 + c), a2 + b2 - a2 * b2)
    return TWO_OVER_PI * fast_asin(c), FOUR_OVER_PI * ab / math.sqrt(det_norm)


@inline
def erf_self(s):
    """erf (V, V') of a variance with itself."""
    v = TWO_OVER_PI * fast_asin(2.0 * s / (1.0 + 2.0 * s))
    return v, FOUR_OVER_PI / math.sqrt(1.0 + 4.0 * s)


@inline
def _self_dual(act, s):
    if act == RELU:
        return relu_self(s)
    return erf_self(s)


@inline
def _stats(act, s):
    if act == RELU:
        return relu_stats(s)
    return erf_stats(s)


@inline
def _pair_dual(act, k3, f_a, g_a, f_b, g_b):
    if act == RELU:
        return relu_pair(k3, f_a, g_a, f_b, g_b)
    return erf_pair(k3, f_a, g_a, f_b, g_b)


SELF_CHUNK = 128
"""Sequences advanced together by one thread in `self_pass`."""


@numba.njit(**PARALLEL_JIT_OPTIONS)
def self_pass(x, start, act, sw2, su2, sb2, sh2, sv2, inv_m):
    """Per-sequence tables and the exact diagonal of the Gram (a sample with itself).

    Runs of `SELF_CHUNK` sequences go to the threads; within a run time is the
    outer loop and sequences the inner one, so the tables are written a
    contiguous row at a time and the inner loop runs as SIMD code. A sequence
    that has not started yet (``step < start``) keeps its zero state.

    Returns
    -------
    f, g : (L, t_max, N) arrays
        Per-step factors of S(l, t) used by the pair dual (see `_stats`).
    diag_ntk, diag_nngp : (N,) arrays
        Θ(x, x) and K(x, x) with correlation exactly 1 and the same-sample σh rule.
    peak : (N,) array
        The largest self-tangent term Θ(l, t)(x, x) over every step and layer
        (it is at least S(l, t)); inf if any of them overflowed or was NaN.
        Every number of a pair's recursion is bounded by its two sequences'
        self terms (Cauchy–Schwarz), so this one figure tells whether all of
        them stay in float64's range.
    peak_at : (N,) int64 array
        Where the peak is first reached: ``step · L + layer`` on the grid.
    peak_var : (N,) array
        The largest self-variance S(l, t) (inf for NaN or overflow).
    """
    t_max, m, n = x.shape
    n_layers = sw2.shape[0]
    f = np.zeros((n_layers, t_max, n))
    g = np.zeros((n_layers, t_max, n))
    diag_ntk = np.empty(n)
    diag_nngp = np.empty(n)
    peak = np.zeros(n)
    peak_at = np.zeros(n, dtype=np.int64)
    peak_var = np.zeros(n)
    for chunk in numba.prange((n + SELF_CHUNK - 1) // SELF_CHUNK):
        lo = chunk * SELF_CHUNK
        hi = min(n, lo + SELF_CHUNK)
        width = hi - lo
        v_prev = np.zeros((n_layers, width))
        dt_prev = np.zeros((n_layers, width))
        lower_v = np.empty(width)
        lower_dt = np.zeros(width)
        begin = start[lo:hi]
        top_l = peak[lo:hi]
        top_at = peak_at[lo:hi]
        top_var = peak_var[lo:hi]
        first_step = t_max
        for jj in range(width):
            first_step = min(first_step, begin[jj])
        for step in range(first_step, t_max):
            x_step = x[step]
            for jj in range(width):
                sq = 0.0
                for k in range(m):
                    sq += x_step[k, lo + jj] * x_step[k, lo + jj]
                lower_v[jj] = sq * inv_m
                lower_dt[jj] = 0.0
            for layer in range(n_layers):
                w2 = sw2[layer]
                u2 = su2[layer]
                b2 = sb2[layer]
                v_l = v_prev[layer]
                dt_l = dt_prev[layer]
                f_row = f[layer, step, lo:hi]
                g_row = g[layer, step, lo:hi]
                for jj in range(width):
                    active = step >= begin[jj]
                    first = step == begin[jj]
                    rec_v = sh2 if first else v_l[jj]
                    rec_dt = 0.0 if first else dt_l[jj]
                    s = w2 * rec_v + u2 * lower_v[jj] + b2
                    theta = s + w2 * rec_dt + u2 * lower_dt[jj]
                    # NaN counts as overflow: no comparison lets it through
                    q = theta if theta <= math.inf else math.inf
                    q = q if active else 0.0
                    higher = q > top_l[jj]
                    top_at[jj] = step * n_layers + layer if higher else top_at[jj]
                    top_l[jj] = q if higher else top_l[jj]
                    q_var = s if s <= math.inf else math.inf
                    top_var[jj] = max(top_var[jj], q_var if active else 0.0)
                    v, d = _self_dual(act, s)
                    f_s, g_s = _stats(act, s)
                    f_row[jj] = f_s if active else 0.0
                    g_row[jj] = g_s if active else 0.0
                    v_l[jj] = v if active else 0.0
                    dt_l[jj] = d * theta if active else 0.0
                    lower_v[jj] = v_l[jj]
                    lower_dt[jj] = dt_l[jj]
        top = n_layers - 1
        for jj in range(width):
            diag_nngp[lo + jj] = sv2 * v_prev[top, jj]
            diag_ntk[lo + jj] = diag_nngp[lo + jj] + sv2 * dt_prev[top, jj]
    return f, g, diag_ntk, diag_nngp, peak, peak_at, peak_var


@numba.njit(**PARALLEL_JIT_OPTIONS)
def pair_tiles(
    tile_row, tile_lo, tile_hi,
    row_x, row_f, row_g, row_start,
    col_x, col_f, col_g, col_start,
    act, sw2, su2, sb2, sv2, inv_m,
    row_out, col_out, mirror, ntk, nngp,
):
    """Θ and K for every (row, column) pair named by the tiles.

    Tile t pairs row ``tile_row[t]`` with columns ``tile_lo[t] .. tile_hi[t]-1``
    (columns sorted by decreasing length). Results go to
    ``ntk[row_out[i], col_out[j]]`` and, when ``mirror``, to the transposed
    position as well. No pair here is a sample with itself.
    """
    t_max, m, _ = col_x.shape
    n_layers = sw2.shape[0]
    for t in numba.prange(tile_row.shape[0]):
        i = tile_row[t]
        lo = tile_lo[t]
        hi = tile_hi[t]
        width = hi - lo
        v = np.zeros((n_layers, width))
        dt = np.zeros((n_layers, width))
        inp = np.empty(width)
        no_dt = np.zeros(width)
        active = lo
        for step in range(max(row_start[i], col_start[lo]), t_max):
            while active < hi and col_start[active] <= step:
                active += 1
            n_act = active - lo
            xi = row_x[step, 0, i]
            x_cols = col_x[step, 0, lo:hi]
            for jj in range(n_act):
                inp[jj] = xi * x_cols[jj]
            for k in range(1, m):
                xi = row_x[step, k, i]
                x_cols = col_x[step, k, lo:hi]
                for jj in range(n_act):
                    inp[jj] += xi * x_cols[jj]
            for layer in range(n_layers):
                if layer == 0:
                    lower_v = inp
                    lower_dt = no_dt
                else:
                    lower_v = v[layer - 1]
                    lower_dt = dt[layer - 1]
                v_l = v[layer]
                dt_l = dt[layer]
                w2 = sw2[layer]
                u2 = su2[layer] * inv_m if layer == 0 else su2[layer]
                b2 = sb2[layer]
                f_i = row_f[layer, step, i]
                g_i = row_g[layer, step, i]
                f_cols = col_f[layer, step, lo:hi]
                g_cols = col_g[layer, step, lo:hi]
                for jj in range(n_act):
                    c = w2 * v_l[jj] + u2 * lower_v[jj] + b2
                    theta = c + w2 * dt_l[jj] + su2[layer] * lower_dt[jj]
                    vv, d = _pair_dual(act, c, f_i, g_i, f_cols[jj], g_cols[jj])
                    v_l[jj] = vv
                    dt_l[jj] = d * theta
        top = n_layers - 1
        for jj in range(width):
            k_val = sv2 * v[top, jj]
            th_val = k_val + sv2 * dt[top, jj]
            r = row_out[i]
            c_ = col_out[lo + jj]
            nngp[r, c_] = k_val
            ntk[r, c_] = th_val
            if mirror:
                nngp[c_, r] = k_val
                ntk[c_, r] = th_val
