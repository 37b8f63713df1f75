"""No NaN or inf for any finite input (SPEC §1.7)."""

import numpy as np
import pytest

from rntk_core import KernelOverflowError, RNTKParams, gram, gram_diagonal

RNG = np.random.default_rng(7)

BATCHES = {
    "zero sequences": [np.zeros(10), np.zeros(3), RNG.normal(size=5)],
    "length 1": [np.ones(1), RNG.normal(size=1), RNG.normal(size=7)],
    "T = 5000": [RNG.normal(size=5000), RNG.normal(size=4000), RNG.normal(size=5000)],
    "tiny values 1e-150": [RNG.normal(size=50) * 1e-150 for _ in range(3)],
    "huge values 1e150": [RNG.normal(size=50) * 1e150 for _ in range(3)],
    "opposite signs": [np.ones(4), -np.ones(4), np.ones(2)],
}

PARAMS = {
    "default": dict(),
    "all sigma zero but sigma_v": dict(sigma_w=0.0, sigma_u=0.0, sigma_b=0.0, sigma_h=0.0),
    "deep, biased, sigma_h": dict(n_layers=3, sigma_b=1.0, sigma_h=1.0),
}


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("params", PARAMS.values(), ids=PARAMS.keys())
@pytest.mark.parametrize("batch", BATCHES.values(), ids=BATCHES.keys())
def test_kernels_are_finite(activation, params, batch):
    p = RNTKParams(activation=activation, direction="bidirectional", **params)
    outputs = (gram_diagonal(batch, params=p),)
    if activation == "erf" and np.max(np.abs(batch[0])) > 1e100 and params.get("sigma_u", 1.0) > 0:
        # erf cannot resolve a pair of such variances in float64 (rntk_core.float_range.ERF_PRECISE_VARIANCE)
        with pytest.raises(KernelOverflowError, match=r"^X\[0\]: its kernel with X\[1\] cannot be resolved"):
            gram(batch, params=p)
        with pytest.raises(KernelOverflowError, match=r"^X\[0\]: its kernel with Z\[0\] cannot be resolved"):
            gram(batch, batch[::-1], params=p)
    else:
        outputs += gram(batch, params=p, output="both") + gram(batch, batch[::-1], params=p, output="both")
    for out in outputs:
        assert np.all(np.isfinite(out))


def test_all_sigmas_zero_but_readout_gives_zero_kernel():
    p = RNTKParams(sigma_w=0.0, sigma_u=0.0, sigma_b=0.0, sigma_h=0.0)
    K, G = gram([RNG.normal(size=5), RNG.normal(size=3)], params=p, output="both")
    assert np.all(K == 0.0) and np.all(G == 0.0)


def test_zero_sequence_has_zero_relu_kernel_with_everything():
    X = [np.zeros(6), RNG.normal(size=4), RNG.normal(size=9)]
    K = gram(X)
    assert np.all(K[0] == 0.0) and np.all(K[:, 0] == 0.0)
    assert np.all(K[1:, 1:] > 0.0)


def test_relu_kernel_is_positively_homogeneous():
    """With σb = σh = 0 the ReLU RNTK scales as K(ax, bx') = ab·K(x, x'), to rounding."""
    X = [RNG.normal(size=(8, 2)), RNG.normal(size=(5, 2))]
    Z = [RNG.normal(size=(6, 2)), RNG.normal(size=(9, 2))]
    K = gram(X, Z, params=RNTKParams(n_layers=2))
    Ks = gram([3.0 * x for x in X], [0.5 * z for z in Z], params=RNTKParams(n_layers=2))
    np.testing.assert_allclose(Ks, 1.5 * K, rtol=1e-13)


def test_results_beyond_float64_are_refused_by_name():
    """Kernels scale like |x|²: inputs near 1e200 have no float64 answer, and say so."""
    with pytest.raises(ValueError, match=r"^X\[1\]: its kernel exceeds the float64 range"):
        gram([np.ones(3), np.full(3, 1e200)])
    with pytest.raises(ValueError, match=r"^X\[0\]: its kernel exceeds the float64 range"):
        gram_diagonal([np.full(2, 1e200)])
