"""The fast Gram path agrees with the independent naive oracle (SPEC.md §1.7).

``rntk_core.gram`` evaluates the NTK with the forward recursion of §1.4,
vectorised across pairs; ``naive.naive_gram`` evaluates it pair by pair with
the backward form of §1.5 (Theorem 1). Both share only the definitions of the
covariances, so agreement to 1e-10 relative pins down the NTK arithmetic, the
end alignment of unequal lengths, per-layer σ indexing, the same-sample rule,
multivariate inputs and the three directions.

A last test closes the loop without the oracle: the empirical NTK of a
finite random RNN approaches ``gram`` itself as the width grows.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rntk_core import KernelOverflowError, RNTKParams, gram

try:
    from .finite_rnn import empirical_kernels
    from .naive import naive_gram
except ImportError:  # tests/ collected without package __init__ files
    from finite_rnn import empirical_kernels
    from naive import naive_gram

RTOL = 1e-10


def assert_close(actual, expected, rtol=RTOL, what=""):
    """max|A − B| ≤ rtol·max|B|, and elementwise |A − B| ≤ rtol·|B| where |B| is not tiny.

    "Not tiny" is |B| ≥ 1e-3·max|B|: the kernels are sums of many terms, and an
    entry much smaller than the largest is the result of cancellation, whose
    relative rounding error is not meaningful.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, what
    assert actual.dtype == np.float64, what
    assert np.all(np.isfinite(actual)), what
    scale = np.max(np.abs(expected))
    err = np.max(np.abs(actual - expected))
    assert err <= rtol * scale, f"{what}: max|A-B|/max|B| = {err / scale:.3e}"
    big = np.abs(expected) >= 1e-3 * scale
    rel = np.abs(actual - expected)[big] / np.abs(expected)[big]
    assert np.all(rel <= rtol), f"{what}: elementwise relative error {np.max(rel):.3e}"


def _both(hp: dict) -> tuple[RNTKParams, dict]:
    """The same hyperparameters for the fast path and for the oracle.

    Both are built from one plain dict, so that nothing the fast path does to
    its parameters (expanding scalars per layer, say) reaches the oracle.
    """
    return RNTKParams(**hp), dict(hp)


def _sequences(rng, lengths, input_kind):
    """Random sequences with per-sequence scales; "flat" gives (T,) arrays (m = 1)."""
    m = {"flat": 1, "column": 1, "multi": 3}[input_kind]
    out = []
    for length in lengths:
        x = rng.uniform(0.3, 2.0) * rng.standard_normal((length, m))
        out.append(x[:, 0].copy() if input_kind == "flat" else x)
    return out


SIGMA_H = (0.0, 0.3, 1.0)
SIGMA_B_KINDS = ("per-layer", "scalar", "zero")

ACTIVATIONS = ["relu", "erf"]
DEPTHS = [1, 2, 3]
DIRECTIONS = ["forward", "backward", "bidirectional"]
INPUT_KINDS = ["flat", "column", "multi"]
LENGTH_KINDS = ["equal", "unequal"]


def _grid():
    """All combinations of the five factors, each with a σh and a σb kind.

    σh and σb are assigned Latin-square fashion, h = k + d + i + e and
    b = k + d + 2i (mod 3) for factor positions k (activation, depth),
    d (direction), i (input kind), e (lengths): for every activation and depth
    the map (d, i) -> (h, b) is a bijection mod 3, so all nine σh × σb
    combinations occur, and each σh meets every direction and input kind.
    """
    cases = []
    for a, L, d, i, e in itertools.product(*(range(len(f)) for f in (
            ACTIVATIONS, DEPTHS, DIRECTIONS, INPUT_KINDS, LENGTH_KINDS))):
        k = a * len(DEPTHS) + L
        cases.append(dict(
            activation=ACTIVATIONS[a], n_layers=DEPTHS[L], direction=DIRECTIONS[d],
            input_kind=INPUT_KINDS[i], lengths_kind=LENGTH_KINDS[e],
            sigma_h=SIGMA_H[(k + d + i + e) % 3], sigma_b_kind=SIGMA_B_KINDS[(k + d + 2 * i) % 3],
        ))
    return cases


CASES = _grid()


def _random_case(index, case):
    """Hyperparameters (a dict) and data for one case of the grid, reproducible from its index.

    Per-layer σ lists differ from layer to layer, so that a σ applied to the
    wrong layer (σu_l instead of σu_{l+1} in the backward pass, say) shows.
    Unequal lengths run from 1 to 9 and always include a sequence of length 1.
    """
    rng = np.random.default_rng(1000 + index)
    n_layers = case["n_layers"]
    per_layer = lambda lo, hi: [float(v) for v in rng.uniform(lo, hi, n_layers)]  # noqa: E731
    sigma_b = {"per-layer": per_layer(0.05, 0.6), "scalar": float(rng.uniform(0.05, 0.6)),
               "zero": 0.0}[case["sigma_b_kind"]]
    sigma_w = per_layer(0.7, 1.6) if n_layers > 1 or index % 2 else float(rng.uniform(0.7, 1.6))
    hp = dict(
        activation=case["activation"],
        n_layers=n_layers,
        sigma_w=sigma_w,
        sigma_u=per_layer(0.5, 1.5),
        sigma_b=sigma_b,
        sigma_h=case["sigma_h"],
        sigma_v=float(rng.uniform(0.5, 2.0)),
        direction=case["direction"],
    )
    if case["lengths_kind"] == "equal":
        x_lengths, z_lengths = [6] * 5, [6] * 4
    else:
        x_lengths = [int(v) for v in rng.integers(1, 10, 5)]
        x_lengths[0] = 1
        z_lengths = [int(v) for v in rng.integers(1, 10, 4)]
    X = _sequences(rng, x_lengths, case["input_kind"])
    Z = _sequences(rng, z_lengths, case["input_kind"])
    return hp, X, Z


def _case_id(case):
    return ("{activation}-L{n_layers}-{direction}-{input_kind}-{lengths_kind}"
            "-h{sigma_h}-b_{sigma_b_kind}").format(**case)


@pytest.mark.parametrize("index,case", list(enumerate(CASES)), ids=[_case_id(c) for c in CASES])
def test_gram_matches_naive(index, case):
    """Symmetric and cross Grams, NTK and NNGP, all output modes, against the oracle."""
    hp, X, Z = _random_case(index, case)
    params, hp = _both(hp)

    ref_ntk, ref_nngp = naive_gram(X, **hp)
    ntk = gram(X, params=params)
    assert_close(ntk, ref_ntk, what="symmetric ntk")
    assert_close(gram(X, params=params, output="nngp"), ref_nngp, what="symmetric nngp")
    both_ntk, both_nngp = gram(X, params=params, output="both")
    assert_close(both_ntk, ref_ntk, what="symmetric both/ntk")
    assert_close(both_nngp, ref_nngp, what="symmetric both/nngp")

    ref_ntk, ref_nngp = naive_gram(X, Z, **hp)
    assert_close(gram(X, Z, params=params), ref_ntk, what="cross ntk")
    assert_close(gram(X, Z, params=params, output="nngp"), ref_nngp, what="cross nngp")
    both_ntk, both_nngp = gram(X, Z, params=params, output="both")
    assert_close(both_ntk, ref_ntk, what="cross both/ntk")
    assert_close(both_nngp, ref_nngp, what="cross both/nngp")


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_cross_gram_with_copies_is_not_the_same_sample(activation):
    """gram(X, copies of X) has no same-sample pairs: σh does not enter its diagonal.

    The copies start from independent initial states, so a sequence and its
    copy are correlated below 1 and the usual tolerance applies. (With σh = 0
    their correlation would be exactly 1 but computed as K3/q in floating
    point, where arccos amplifies rounding to ~1e-8; such pairs are left out.)
    """
    rng = np.random.default_rng(77)
    X = _sequences(rng, [3, 5, 4, 1], "multi")
    params, hp = _both(dict(activation=activation, n_layers=2, sigma_w=[1.3, 1.1],
                            sigma_u=[0.9, 1.2], sigma_b=0.1, sigma_h=0.9))
    ref_ntk, ref_nngp = naive_gram(X, [x.copy() for x in X], **hp)
    ntk, nngp = gram(X, [x.copy() for x in X], params=params, output="both")
    assert_close(ntk, ref_ntk, what="ntk")
    assert_close(nngp, ref_nngp, what="nngp")
    sym_ntk = gram(X, params=params)
    assert np.all(np.diag(sym_ntk) - np.diag(ntk) > 1e-2)


EDGE_CASES = {
    "zero sequences": dict(lengths=[3, 1, 4], scale=0.0, sigma_b=0.0, sigma_h=0.0),
    "zero sequences, sigma_h": dict(lengths=[3, 1, 4], scale=0.0, sigma_b=0.0, sigma_h=0.5),
    "zero sequences, sigma_b": dict(lengths=[3, 1, 4], scale=0.0, sigma_b=0.4, sigma_h=0.0),
    "length one": dict(lengths=[1, 1, 1], scale=1.0, sigma_b=0.2, sigma_h=0.3),
    "sigma_w zero": dict(lengths=[2, 5, 3], scale=1.0, sigma_b=0.1, sigma_h=0.4, sigma_w=0.0),
    "sigma_u zero": dict(lengths=[2, 5, 3], scale=1.0, sigma_b=0.1, sigma_h=0.4, sigma_u=0.0),
    "tiny values": dict(lengths=[2, 5, 3], scale=1e-6, sigma_b=0.0, sigma_h=0.0),
    "large values": dict(lengths=[2, 5, 3], scale=1e4, sigma_b=0.0, sigma_h=0.0),
    "moderately large values": dict(lengths=[2, 5, 3], scale=1e2, sigma_b=0.0, sigma_h=0.0),
}


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_degenerate_inputs_match_naive(name, activation):
    """Zero-variance steps (ReLU's q = 0 rule), σ's of 0, length 1, extreme scales.

    erf with inputs of size 1e4 is refused instead: its variances (~1e8) are
    above `ERF_PRECISE_VARIANCE`, where a pair of nearly collinear sequences
    loses ~s·1e-16 of its accuracy (here the data happen not to be collinear;
    the per-sequence check cannot know). Sizes up to ~1e2 are computed.
    """
    case = dict(EDGE_CASES[name])
    rng = np.random.default_rng(5)
    scale, lengths = case.pop("scale"), case.pop("lengths")
    X = [scale * rng.standard_normal((length, 2)) for length in lengths]
    X.append(np.zeros((2, 2)))
    params, hp = _both(dict(activation=activation, n_layers=2, **case))
    if (name, activation) == ("large values", "erf"):
        with pytest.raises(KernelOverflowError, match=r"^X\[0\]: its kernel with X\[1\] cannot be resolved"):
            gram(X, params=params)
        return
    ref_ntk, ref_nngp = naive_gram(X, **hp)
    ntk, nngp = gram(X, params=params, output="both")
    for actual, expected, what in ((ntk, ref_ntk, "ntk"), (nngp, ref_nngp, "nngp")):
        if np.max(np.abs(expected)) == 0.0:
            np.testing.assert_array_equal(actual, expected, err_msg=what)
        else:
            assert_close(actual, expected, rtol=RTOL, what=what)


def test_finite_rnn_converges_to_gram():
    """The empirical NTK and read-out Gram of random RNNs approach gram(X).

    erf, two layers with per-layer σ, σb and σh > 0, unequal lengths, m = 3.
    From n = 250 to 2000 a 1/√n law divides the error by √8 ≈ 2.8.
    """
    rng = np.random.default_rng(8)
    X = _sequences(rng, [4, 2, 5], "multi")
    hp = dict(activation="erf", n_layers=2, sigma_w=[1.2, 1.5], sigma_u=[1.1, 0.8],
              sigma_b=[0.3, 0.2], sigma_h=0.6, sigma_v=1.3)
    ntk_inf, nngp_inf = gram(X, params=RNTKParams(**hp), output="both")

    def mean_errors(width, n_seeds):
        e_ntk, e_nngp = [], []
        for seed in range(n_seeds):
            ntk, readout, _ = empirical_kernels(X, width, 100 + seed, **hp)
            e_ntk.append(np.linalg.norm(ntk - ntk_inf) / np.linalg.norm(ntk_inf))
            e_nngp.append(np.linalg.norm(readout - nngp_inf) / np.linalg.norm(nngp_inf))
        return np.mean(e_ntk), np.mean(e_nngp)

    small = mean_errors(250, 6)
    large = mean_errors(2000, 2)
    assert large[0] < 0.6 * small[0], (small, large)
    assert large[1] < 0.6 * small[1], (small, large)
    assert large[0] < 0.1 and large[1] < 0.1, (small, large)
