"""Dual activations V and V' (SPEC §1.1) as branch-free scalar functions.

They are inlined into the pair loops, which is what lets those loops run as
SIMD code: arccos and arcsin come from one rational approximation (the
classic fdlibm minimax fit, accurate to about one ulp in float64) evaluated
with selects instead of branches, so no call into libm breaks vectorisation.

Per-sequence quantities are precomputed once per time step (`relu_stats`,
`erf_stats`), so a pair only multiplies two of them. Every pair function is
symmetric in its two sequences to the last bit, which makes K(A, B) exactly
K(B, A)ᵀ and lets a cache share one block for both.
"""

from __future__ import annotations

import math

import numba

from ._numba_config import JIT_OPTIONS

PI = math.pi
HALF_PI = 0.5 * math.pi
INV_2PI = 0.5 / math.pi
TWO_OVER_PI = 2.0 / math.pi
FOUR_OVER_PI = 4.0 / math.pi

_P0 = 1.66666666666666657415e-01
_P1 = -3.25565818622400915405e-01
_P2 = 2.01212532134862925881e-01
_P3 = -4.00555345006794114027e-02
_P4 = 7.91534994289814532176e-04
_P5 = 3.47933107596021167570e-05
_Q1 = -2.40339491173441421878e00
_Q2 = 2.02094576023350569471e00
_Q3 = -6.88283971605453293030e-01
_Q4 = 7.70381505559019352791e-02

inline = numba.njit(inline="always", **JIT_OPTIONS)


@inline
def _asin_core(a):
    """For a in [0, 1]: (a > 1/2, asin(u)) with u = a, or u = √((1 − a)/2) when a > 1/2."""
    big = a > 0.5
    z = (1.0 - a) * 0.5 if big else a * a
    s = math.sqrt(z)
    u = s if big else a
    p = z * (_P0 + z * (_P1 + z * (_P2 + z * (_P3 + z * (_P4 + z * _P5)))))
    q = 1.0 + z * (_Q1 + z * (_Q2 + z * (_Q3 + z * _Q4)))
    return big, u + u * (p / q)


@inline
def fast_acos(x):
    """arccos(x) for x in [−1, 1]."""
    big, r = _asin_core(abs(x))
    small_val = HALF_PI - (r if x >= 0.0 else -r)
    big_val = 2.0 * r if x >= 0.0 else PI - 2.0 * r
    return big_val if big else small_val


@inline
def fast_asin(x):
    """arcsin(x) for x in [−1, 1]."""
    big, r = _asin_core(abs(x))
    mag = HALF_PI - 2.0 * r if big else r
    return mag if x >= 0.0 else -mag


@inline
def clip_unit(c):
    """Clamp a correlation to [−1, 1] (rounding can step just outside)."""
    return min(max(c, -1.0), 1.0)


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
    c = clip_unit((k3 * lo) * hi)
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
