"""The experiments' batched finite RNN (Figure 2) against the test oracle and against finite differences.

NumPy only. The oracle ``tests/rntk_core/finite_rnn.py`` runs one sequence at
a time; here both compute the empirical NTK of the same weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments import finite_rnn

from ..rntk_core.finite_rnn import draw_network, make_hyper, network_kernels


def test_tied_batched_ntk_equals_the_oracle_on_the_same_weights():
    sigma_b = 0.3
    x = np.array([1.0, -1.0, 1.0])                  # Figure 2's inputs: lengths 3 and 2
    alphas = np.linspace(0.0, 2 * math.pi, 7)
    xp = np.stack([np.cos(alphas), np.sin(alphas)], axis=1)
    inputs = [x] + list(xp)
    network = draw_network(40, 11, 1, 1, len(inputs))
    expected, _, _ = network_kernels(network, inputs, make_hyper(sigma_b=sigma_b))
    p = network["params"]
    net = finite_rnn.Net(math.sqrt(2.0), 1.0, sigma_b, 1.0, [p["W"][0]], [p["U"][0]], [p["b"][0]], p["v"], True)
    got = finite_rnn.ntk(net, finite_rnn.run(net, x[None, :]), finite_rnn.run(net, xp))[0]
    np.testing.assert_allclose(got, expected[0, 1:], rtol=1e-10)
    same = finite_rnn.ntk(net, finite_rnn.run(net, xp), finite_rnn.run(net, xp))
    np.testing.assert_allclose(same, expected[1:, 1:], rtol=1e-10)


def _outputs(net: finite_rnn.Net, X: np.ndarray) -> np.ndarray:
    return finite_rnn.run(net, X).f


def _jacobian(net: finite_rnn.Net, X: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """∂f(x_i)/∂θ for every trained weight (every step's copy when untied), by central differences."""
    arrays = [*net.W, *net.U, *net.b, net.v]
    columns = []
    for array in arrays:
        flat = array.reshape(-1)
        for k in range(flat.size):
            keep = flat[k]
            flat[k] = keep + step
            up = _outputs(net, X)
            flat[k] = keep - step
            down = _outputs(net, X)
            flat[k] = keep
            columns.append((up - down) / (2 * step))
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("tied", [True, False])
def test_ntk_is_the_gradient_inner_product(tied):
    rng = np.random.default_rng(5)
    net = finite_rnn.draw(rng, 4, 2, 3, tied=tied, sigma_w=1.3, sigma_u=0.9, sigma_b=0.4, sigma_v=1.1)
    X = rng.standard_normal((5, 3, 2))
    J = _jacobian(net, X)
    r = finite_rnn.run(net, X)
    np.testing.assert_allclose(r.f, _outputs(net, X))
    np.testing.assert_allclose(finite_rnn.ntk(net, r, r), J @ J.T, rtol=1e-6, atol=1e-8)
