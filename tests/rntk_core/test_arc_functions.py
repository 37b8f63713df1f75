"""The core's branch-free arcsin and arccos against NumPy's, in units of the last place.

The pair loops inline their own arcsin/arccos (a polynomial evaluated with
selects, so that the loops vectorise); every kernel value goes through them,
so they are checked here on their own, densely over [−1, 1] and closely near
±1 and 0, where reductions and cancellations would show.
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
    near_half = 0.5 + np.linspace(-1e-6, 1e-6, 2001)
    tiny = np.geomspace(1e-300, 1e-3, 2000)
    x = np.concatenate([np.linspace(-1.0, 1.0, 400_001), rng.uniform(-1.0, 1.0, 400_000),
                        near_one, near_half, tiny, [0.0, 0.5, 1.0]])
    return np.concatenate([x, -x])


def _ulps(value: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.abs(value - reference) / np.spacing(np.abs(reference)).clip(np.finfo(float).tiny)


@pytest.mark.parametrize("name, reference, bound", [("asin", np.arcsin, 2.0), ("acos", np.arccos, 2.0)])
def test_within_ulps_of_numpy(name, reference, bound):
    x = _points()
    out = {"asin": np.empty_like(x), "acos": np.empty_like(x)}
    _apply(x, out["asin"], out["acos"])
    errors = _ulps(out[name], reference(x))
    worst = int(np.argmax(errors))
    assert errors[worst] <= bound, f"{name}({x[worst]!r}) is {errors[worst]:.1f} ulps from NumPy's"


def test_exact_where_exact():
    x = np.array([0.0, -0.0, 1.0, -1.0])
    asin_out, acos_out = np.empty(4), np.empty(4)
    _apply(x, asin_out, acos_out)
    assert asin_out.tolist() == [0.0, -0.0, np.pi / 2, -np.pi / 2]
    assert acos_out.tolist() == [np.pi / 2, np.pi / 2, 0.0, np.pi]
