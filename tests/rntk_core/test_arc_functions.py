"""The core's branch-free arcsin and arccos against the true values, in units of the last place.

The pair loops inline their own arcsin/arccos (a polynomial evaluated with
selects, so that the loops vectorise); every kernel value goes through them,
so they are checked here on their own, densely over [−1, 1] and closely near
±1, 1/2 and 0, where reductions and cancellations would show. The reference
is the C library's arcsin/arccos in x86 extended precision (64-bit
significands), which is exact to far below a float64 ulp; NumPy's float64
functions are not a reference at this resolution (on AVX-512 machines they
are vectorised approximations themselves).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from rntk_core import _engine


@numba.njit
def _apply(x, asin_out, acos_out):
    for i in range(x.shape[0]):
        asin_out[i] = _engine.fast_asin(x[i])
        acos_out[i] = _engine.fast_acos(x[i])


def _points() -> np.ndarray:
    rng = np.random.default_rng(7)
    near_one = 1.0 - np.geomspace(1e-16, 1e-2, 4000)
    near_half = np.concatenate([0.5 + np.linspace(-1e-6, 1e-6, 2001), np.linspace(0.5, 0.75, 20_001)])
    tiny = np.geomspace(1e-300, 1e-3, 2000)
    x = np.concatenate([np.linspace(-1.0, 1.0, 400_001), rng.uniform(-1.0, 1.0, 400_000),
                        near_one, near_half, tiny, [0.0, 0.5, 1.0]])
    return np.concatenate([x, -x])


def _ulps(value: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|value − exact| in units of the float64 last place at `exact` (a long double array)."""
    spacing = np.spacing(np.abs(exact.astype(np.float64))).clip(np.finfo(float).tiny)
    return (np.abs(value.astype(np.longdouble) - exact) / spacing).astype(np.float64)


_REFERENCE_SLACK = 0.0 if np.finfo(np.longdouble).nmant >= 63 else 1.0
"""Ulps the reference itself may be off: none where long double is extended (x86 and aarch64 Linux);
where it is only float64 (macOS on ARM, Windows) the reference is the C library's float64 function,
within an ulp of the true value, and the bounds allow for that."""


@pytest.mark.parametrize("name, reference, bound", [("asin", np.arcsin, 2.0), ("acos", np.arccos, 2.0)])
def test_within_two_ulps_of_the_true_value(name, reference, bound):
    x = _points()
    out = {"asin": np.empty_like(x), "acos": np.empty_like(x)}
    _apply(x, out["asin"], out["acos"])
    errors = _ulps(out[name], reference(x.astype(np.longdouble)))
    worst = int(np.argmax(errors))
    assert errors[worst] <= bound + _REFERENCE_SLACK, \
        f"{name}({x[worst]!r}) is {errors[worst]:.2f} ulps from the reference"
    assert np.mean(errors > 1.0 + _REFERENCE_SLACK) < 0.02  # mostly faithful: within one ulp almost everywhere


def test_exact_where_exact():
    x = np.array([0.0, -0.0, 1.0, -1.0])
    asin_out, acos_out = np.empty(4), np.empty(4)
    _apply(x, asin_out, acos_out)
    assert asin_out.tolist() == [0.0, -0.0, np.pi / 2, -np.pi / 2]
    assert acos_out.tolist() == [np.pi / 2, np.pi / 2, 0.0, np.pi]
