"""The jitted core: self-covariances per sequence, then the pair recursion.

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

import numba
import numpy as np

from ._duals import erf_pair, erf_self, erf_stats, relu_pair, relu_self, relu_stats
from ._numba_config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS

RELU = 0
ERF = 1


@numba.njit(inline="always", **JIT_OPTIONS)
def _self_dual(act, s):
    if act == RELU:
        return relu_self(s)
    return erf_self(s)


@numba.njit(inline="always", **JIT_OPTIONS)
def _stats(act, s):
    if act == RELU:
        return relu_stats(s)
    return erf_stats(s)


@numba.njit(inline="always", **JIT_OPTIONS)
def _pair_dual(act, k3, f_a, g_a, f_b, g_b):
    if act == RELU:
        return relu_pair(k3, f_a, g_a, f_b, g_b)
    return erf_pair(k3, f_a, g_a, f_b, g_b)


@numba.njit(**PARALLEL_JIT_OPTIONS)
def self_pass(x, start, act, sw2, su2, sb2, sh2, sv2, inv_m):
    """Per-sequence tables and the exact diagonal of the Gram (a sample with itself).

    Returns
    -------
    f, g : (L, t_max, N) arrays
        Per-step factors of S(l, t) used by the pair dual (see `_duals`).
    diag_ntk, diag_nngp : (N,) arrays
        Θ(x, x) and K(x, x) with correlation exactly 1 and the same-sample σh rule.
    """
    t_max, m, n = x.shape
    n_layers = sw2.shape[0]
    f = np.zeros((n_layers, t_max, n))
    g = np.zeros((n_layers, t_max, n))
    diag_ntk = np.empty(n)
    diag_nngp = np.empty(n)
    for i in numba.prange(n):
        v_prev = np.zeros(n_layers)
        dt_prev = np.zeros(n_layers)
        for step in range(start[i], t_max):
            first = step == start[i]
            sq = 0.0
            for k in range(m):
                sq += x[step, k, i] * x[step, k, i]
            lower_v = sq * inv_m
            lower_dt = 0.0
            for layer in range(n_layers):
                rec_v = sh2 if first else v_prev[layer]
                rec_dt = 0.0 if first else dt_prev[layer]
                s = sw2[layer] * rec_v + su2[layer] * lower_v + sb2[layer]
                theta = s + sw2[layer] * rec_dt + su2[layer] * lower_dt
                v, d = _self_dual(act, s)
                f[layer, step, i], g[layer, step, i] = _stats(act, s)
                v_prev[layer] = v
                dt_prev[layer] = d * theta
                lower_v = v
                lower_dt = d * theta
        diag_nngp[i] = sv2 * v_prev[n_layers - 1]
        diag_ntk[i] = diag_nngp[i] + sv2 * dt_prev[n_layers - 1]
    return f, g, diag_ntk, diag_nngp


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
