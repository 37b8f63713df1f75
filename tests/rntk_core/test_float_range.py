"""Inputs of any magnitude from 1e-300 to 1e300: the right kernel, or a refusal naming the sequence.

Against `mp_oracle` (the naive oracle in 700-digit mpmath arithmetic, whose
exponent range is unbounded), for sequences whose magnitudes are drawn
independently from 10^-300 .. 10^300, in X and in Z, symmetric and cross,
ReLU (homogeneous or not) and erf, every direction, 1 to 3 layers:

- a result is finite and agrees with the oracle: |A − B| ≤ rtol·√(B_ii·B_jj) + ATOL,
  the scale of entry (i, j) being that of its two sequences' own kernels
  (Cauchy–Schwarz bounds the entry by it; an entry far below it comes from
  cancellation, whose relative error means nothing);
- a refusal is a `KernelOverflowError` that names a sequence which can cause
  it: one whose own values are enormous (its recursion overflows), a pair
  whose true kernel is beyond float64, or, with erf, two sequences of large
  variance;
- no refusal where every number is comfortably representable: the
  homogeneous ReLU kernel whenever its true result is (it is computed at an
  exact power-of-two scale), and any kernel of values within 1e-100 .. 1e100
  (with erf, unless two sequences both exceed |value| 100: see
  `rntk_core.float_range.ERF_PRECISE_VARIANCE`).

ATOL = 2^-1000 is the absolute floor. Below 2^-1022 float64 has only
subnormal numbers, whose rounding is absolute (2^-1074 per operation), and a
true value below 2^-1074 is 0: an entry whose terms fall there carries an
absolute error of a few 2^-1074 times the σ² factors of at most 9 steps and
layers. 2^-1000 bounds that with a wide margin and is still some 300
decades below any kernel of data of ordinary size.
"""

from __future__ import annotations

import re

import mpmath
import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from rntk_core import KernelOverflowError, RNTKParams, gram, gram_diagonal, tiled_gram

try:
    from .mp_oracle import mp_gram
except ImportError:  # tests/ collected without package __init__ files
    from mp_oracle import mp_gram

ATOL = mpmath.mpf(2) ** -1000
RTOL = {"relu": 1e-8, "erf": 1e-8}
"""Both duals are steep near correlation ±1: ReLU's V' = (π − arccos c)/2π turns the ~1e-16 rounding of a
correlation just outside the snapping distance (4.5e-16) into ~3e-9; erf's V' loses s·1e-15 (s < 2^20).
Small random draws (m = 1, one or two steps) are often that nearly collinear."""
COMFORTABLE = 1e300
"""A kernel below this (2^997) is comfortably inside float64's range."""

NAMED = re.compile(r"^(X|Z)\[(\d+)\]: its kernel (?:with (X|Z)\[(\d+)\] )?(exceeds|cannot be resolved)")


@st.composite
def cases(draw):
    activation = draw(st.sampled_from(["relu", "erf"]))
    homogeneous = activation == "relu" and draw(st.booleans())
    n_layers = draw(st.integers(1, 3))
    hp = dict(
        activation=activation,
        n_layers=n_layers,
        sigma_w=draw(st.floats(0.5, 1.5)),
        sigma_u=draw(st.floats(0.5, 1.5)),
        sigma_b=0.0 if homogeneous else draw(st.sampled_from([0.0, 0.1, 0.7])),
        sigma_h=0.0 if homogeneous else draw(st.sampled_from([0.0, 0.5])),
        direction=draw(st.sampled_from(["forward", "backward", "bidirectional"])),
    )
    if not homogeneous and hp["sigma_b"] == 0.0 and hp["sigma_h"] == 0.0:
        hp["sigma_b"] = 0.1 if activation == "relu" else 0.0
    m = draw(st.sampled_from([1, 2]))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))

    def batch(n):
        # the whole range, with extra weight on sizes where erf saturates but nothing overflows
        exps = draw(st.lists(st.integers(-300, 300) | st.integers(2, 100), min_size=n, max_size=n))
        return [rng.standard_normal((int(rng.integers(1, 4)), m)) * 10.0 ** e for e in exps]

    X = batch(draw(st.integers(1, 3)))
    Z = None if draw(st.booleans()) else batch(draw(st.integers(1, 2)))
    return hp, X, Z


def _largest(seq: np.ndarray) -> float:
    return float(np.max(np.abs(seq)))


def _must_compute(hp: dict, X: list, Z, oracle: dict, rows: range, cols: range) -> bool:
    """Whether every number of this Gram is comfortably representable, so refusing it is wrong."""
    out = [abs(oracle[k][i, j]) for k in oracle for i in rows for j in cols]
    if max(out) >= COMFORTABLE:
        return False
    homogeneous = hp["activation"] == "relu" and hp["sigma_b"] == 0.0 and hp["sigma_h"] == 0.0
    if homogeneous:
        return True
    seqs = X + (Z or [])
    if not all(1e-100 <= _largest(s) <= 1e100 for s in seqs):
        return False
    if hp["activation"] == "erf":
        big_x = sum(_largest(s) > 100 for s in X)
        big_z = sum(_largest(s) > 100 for s in (Z or []))
        return big_x < 2 if Z is None else big_x == 0 or big_z == 0
    return True


def _check_refusal(exc: KernelOverflowError, hp: dict, X: list, Z, oracle: dict, n_x: int) -> None:
    """The refusal names a sequence (and partner) of the right batch that can cause it."""
    found = NAMED.match(str(exc))
    assert found, str(exc)
    batch, index, partner_batch, partner_index, kind = found.groups()
    assert (exc.batch, exc.index) == (batch, int(index))
    if Z is None:
        assert batch == "X" and partner_batch in (None, "X")
    seq = (X if batch == "X" else Z)[int(index)]
    for name in ("sigma_w", "sigma_u", "sigma_b", "sigma_h", "sigma_v"):
        assert name + "=" in str(exc)
    if kind == "cannot be resolved":  # erf: two sequences of large variance
        partner = (X if partner_batch == "X" else Z)[int(partner_index)]
        assert hp["activation"] == "erf" and _largest(seq) > 100 and _largest(partner) > 100, str(exc)
        return
    if "self-variance" in str(exc):  # its own recursion overflowed: enormous values
        assert _largest(seq) > 1e100, str(exc)
        assert partner_batch is None
        return
    # the result itself: the true entry is beyond float64 (or within a whisker of it)
    i = int(index)
    j = i if partner_batch is None else int(partner_index) + (n_x if Z is not None else 0)
    assert max(abs(oracle[k][i, j]) for k in oracle) > 1e307, str(exc)


@settings(max_examples=45, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_any_magnitude_gives_the_oracle_or_a_named_refusal(case):
    hp, X, Z = case
    note(f"{hp}, X={[x.tolist() for x in X]}, Z={None if Z is None else [z.tolist() for z in Z]}")
    params = RNTKParams(**hp)
    # one symmetric oracle Gram of X and Z together holds the cross block and every sequence's own kernel
    o_ntk, o_nngp = mp_gram(X + (Z or []), **hp)
    oracle = {"ntk": o_ntk, "nngp": o_nngp}
    n_x = len(X)
    rows = range(n_x)
    cols = rows if Z is None else range(n_x, n_x + len(Z))
    try:
        ntk, nngp = gram(X, Z, params=params, output="both")
    except KernelOverflowError as exc:
        assert not _must_compute(hp, X, Z, oracle, rows, cols), f"refused a representable kernel: {exc}"
        _check_refusal(exc, hp, X, Z, oracle, n_x)
        return
    for name, got in (("ntk", ntk), ("nngp", nngp)):
        assert np.all(np.isfinite(got)), name
        ref = oracle[name]
        for a, i in enumerate(rows):
            for b, j in enumerate(cols):
                scale = mpmath.sqrt(abs(ref[i, i]) * abs(ref[j, j]))
                err = abs(mpmath.mpf(float(got[a, b])) - ref[i, j])
                assert err <= RTOL[hp["activation"]] * scale + ATOL, (
                    f"{name}[{a}, {b}] = {got[a, b]!r}, oracle {mpmath.nstr(ref[i, j], 17)}")


def test_homogeneous_relu_far_beyond_float64_squares():
    """1e300 against 1e-300 (squares 1e±600), 1e200 against 1e-150: exact power-of-two scaling gives them."""
    hp = dict(n_layers=2, sigma_w=1.3, direction="bidirectional")
    X = [np.array([[1.0, -2.0], [0.5, 3.0]]) * 1e300, np.array([[0.3, 0.1]]) * 1e200]
    Z = [np.array([[0.7, 1.1], [2.0, -0.4], [1.0, 1.0]]) * 1e-300, np.array([[1.5, 0.2]]) * 1e-150]
    ntk, nngp = gram(X, Z, params=RNTKParams(**hp), output="both")
    o_ntk, o_nngp = mp_gram(X + Z, **hp)
    for got, ref in ((ntk, o_ntk), (nngp, o_nngp)):
        want = np.array([[float(ref[i, 2 + j]) for j in range(2)] for i in range(2)])
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
        assert np.all(got != 0.0)


def test_sequences_inside_the_safe_band_are_computed_unscaled_bit_for_bit():
    """Scaling by a power of two is exact: a batch with one far-out sequence leaves the others' entries unchanged."""
    rng = np.random.default_rng(4)
    X = [rng.standard_normal((5, 2)) for _ in range(3)]
    far = [rng.standard_normal((4, 2)) * 2.0 ** 450]
    ref = gram(X, params=RNTKParams(n_layers=2))
    both = gram(X + far, params=RNTKParams(n_layers=2))
    assert np.array_equal(both[:3, :3], ref)
    # and a far-out sequence gives exactly 2^450 times what its 2^-450 copy gives
    assert np.array_equal(gram(far, X), gram([far[0] * 2.0 ** -450], X) * 2.0 ** 450)


def test_refusals_name_z_and_the_parameters():
    params = RNTKParams(sigma_b=0.1)
    try:
        gram([[1.0, 2.0], [2.0]], [[1.0], [1e160]], params=params)
    except KernelOverflowError as exc:
        assert (exc.batch, exc.index) == ("Z", 1)
        assert str(exc).startswith("Z[1]: its kernel exceeds the float64 range (self-variance")
        assert "largest |value| 1e+160" in str(exc) and "sigma_b=[0.1]" in str(exc)
    else:
        raise AssertionError("not refused")
    # a large sigma_u alone (the data are of size 1): the message names it
    try:
        gram([[1e-3]], [[1.0, 1.0] * 3], params=RNTKParams(sigma_u=1e153, sigma_b=0.1))
    except KernelOverflowError as exc:
        assert exc.batch == "Z" and "largest |value| 1;" in str(exc) and "sigma_u=[1e+153]" in str(exc)
    else:
        raise AssertionError("not refused")
    # sigma_v alone takes the result beyond float64: the recursion is fine, the read-out is not
    try:
        gram([[1e100]], params=RNTKParams(sigma_v=1e150, sigma_b=0.1))
    except KernelOverflowError as exc:
        assert str(exc).startswith("X[0]: its kernel exceeds the float64 range (largest |value| 1e+100")
        assert "sigma_v=1e+150" in str(exc)
    else:
        raise AssertionError("not refused")


def test_gram_diagonal_refuses_like_gram():
    try:
        gram_diagonal([[1.0], [1e200, 1.0]], params=RNTKParams(activation="erf", sigma_b=0.5))
    except KernelOverflowError as exc:
        assert (exc.batch, exc.index) == ("X", 1) and "at step 1 of 2, layer 1" in str(exc)
    else:
        raise AssertionError("not refused")


def test_tiled_gram_names_sequences_of_the_whole_batch():
    """A block's refusal is raised again with the indices of the whole batches, as gram names them."""
    rng = np.random.default_rng(9)
    X = [rng.standard_normal(3) for _ in range(5)]
    Z = [rng.standard_normal(2) for _ in range(5)]
    p = RNTKParams(sigma_b=0.2)
    cases = [
        (X[:3] + [X[3] * 1e200] + X[4:], None, p, ("X", 3, None)),
        (X, Z[:4] + [Z[4] * 1e200], p, ("Z", 4, None)),
        (X[:1] + [X[1] * 1e4] + X[2:4] + [X[4] * 1e4], None, RNTKParams(activation="erf"), ("X", 1, ("X", 4))),
        (X[:2] + [X[2] * 1e4] + X[3:], Z[:3] + [Z[3] * 1e4] + Z[4:], RNTKParams(activation="erf"),
         ("X", 2, ("Z", 3))),
    ]
    for xs, zs, params, (batch, index, partner) in cases:
        errors = []
        for compute in (gram, lambda *a, **k: tiled_gram(*a, block_size=2, **k)):
            try:
                compute(xs, zs, params=params)
            except KernelOverflowError as exc:
                errors.append(exc)
        assert len(errors) == 2
        for exc in errors:
            assert (exc.batch, exc.index, exc.partner) == (batch, index, partner)
        assert str(errors[0]) == str(errors[1])
