"""A finite, weight-tied Elman RNN and its empirical NTK (SPEC.md §1).

This module is a test oracle for the *meaning* of the kernel rather than its
formulas: the RNTK is defined as the infinite-width limit of the gradient
inner product ⟨∇θ f(x), ∇θ f(x')⟩ of the network

    g(l,t) = σw_l/√n W_l h(l,t-1) + σu_l/√fan U_l h(l-1,t) + σb_l b_l,   h(l,t) = φ(g(l,t))
    h(0,t) = x_t,   h(l,0) ~ N(0, σh²) i.i.d. per input,   f(x) = σv/√n vᵀ h(L,T)

with every entry of W_l, U_l, b_l, v drawn from N(0, 1). The trained
parameters are W_l, U_l, b_l and v; the initial hidden states are not.
Each input runs through the same network from its own t = 1 with its own
draw of h(l,0), whatever its length.

The gradient is written out by hand (backpropagation through time), with no
autodiff library, so that it can be checked against finite differences and
then used to watch the empirical NTK approach the analytic one as n grows.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np

try:
    from scipy.special import erf as _erf
except ImportError:  # scipy is optional: fall back to the scalar libm erf
    _erf = np.vectorize(math.erf, otypes=[np.float64])

__all__ = [
    "Hyper",
    "make_hyper",
    "standard_normal",
    "init_params",
    "draw_network",
    "network_kernels",
    "forward",
    "backward",
    "output",
    "gradients",
    "flatten",
    "empirical_kernels",
    "empirical_ntk",
]


@dataclass(frozen=True)
class Hyper:
    """Hyperparameters of the network, with σw, σu, σb given per layer."""

    activation: str
    sigma_w: tuple
    sigma_u: tuple
    sigma_b: tuple
    sigma_h: float
    sigma_v: float

    @property
    def n_layers(self) -> int:
        return len(self.sigma_w)


def _per_layer(value, n_layers, name):
    if np.ndim(value) == 0:
        return (float(value),) * n_layers
    values = tuple(float(v) for v in value)
    if len(values) != n_layers:
        raise ValueError(f"{name} has {len(values)} entries for {n_layers} layers")
    return values


def make_hyper(*, activation="relu", n_layers=1, sigma_w=2 ** 0.5, sigma_u=1.0,
               sigma_b=0.0, sigma_h=0.0, sigma_v=1.0) -> Hyper:
    """Build a :class:`Hyper` from the same arguments the kernel takes."""
    if activation not in ("relu", "erf"):
        raise ValueError(f"unknown activation {activation!r}")
    return Hyper(
        activation=activation,
        sigma_w=_per_layer(sigma_w, n_layers, "sigma_w"),
        sigma_u=_per_layer(sigma_u, n_layers, "sigma_u"),
        sigma_b=_per_layer(sigma_b, n_layers, "sigma_b"),
        sigma_h=float(sigma_h),
        sigma_v=float(sigma_v),
    )


def _phi(activation, g):
    if activation == "relu":
        return np.maximum(g, 0.0)
    return _erf(g)


def _phi_prime(activation, g):
    if activation == "relu":
        return (g > 0.0).astype(np.float64)
    return (2.0 / math.sqrt(math.pi)) * np.exp(-g * g)


def _as_sequence(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def standard_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """An array of i.i.d. N(0, 1) entries, reproducible from ``rng``.

    The array is filled in two halves by two child generators spawned from
    ``rng``; large halves are filled in two threads (NumPy releases the GIL
    while sampling), which halves the time to draw the n×n weights of wide
    networks. The values do not depend on whether threads are used.
    """
    out = np.empty(shape)
    halves = np.array_split(out.reshape(-1), 2)
    children = rng.spawn(2)
    if out.size < 1 << 20:
        for child, half in zip(children, halves):
            child.standard_normal(out=half)
        return out
    threads = [threading.Thread(target=child.standard_normal, kwargs={"out": half})
               for child, half in zip(children, halves)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def init_params(rng: np.random.Generator, width: int, input_dim: int, n_layers: int) -> dict:
    """Standard-normal W_l (n×n), U_l (n×m for l = 1, n×n above), b_l (n) and v (n)."""
    params = {"W": [], "U": [], "b": []}
    for l in range(n_layers):
        fan = input_dim if l == 0 else width
        params["W"].append(standard_normal(rng, (width, width)))
        params["U"].append(standard_normal(rng, (width, fan)))
        params["b"].append(standard_normal(rng, width))
    params["v"] = standard_normal(rng, width)
    return params


def forward(params: dict, x, h0: list, hyper: Hyper) -> dict:
    """Run one sequence through the network, keeping what backpropagation needs.

    Returns a dict with (0-based l, t):
      ``g[l][t]``     pre-activation g(l+1, t+1);
      ``h[l][t]``     hidden state h(l+1, t), so ``h[l][0]`` is the initial state;
      ``below[l][t]`` the input to U_{l+1} at step t+1 (x_{t+1} for the first layer);
      ``f``           the output.
    """
    x = _as_sequence(x)
    length, input_dim = x.shape
    n = params["v"].shape[0]
    g = [[None] * length for _ in range(hyper.n_layers)]
    h = [[h0[l]] + [None] * length for l in range(hyper.n_layers)]
    below = [[None] * length for _ in range(hyper.n_layers)]
    for l in range(hyper.n_layers):
        fan = input_dim if l == 0 else n
        for t in range(length):
            below[l][t] = x[t] if l == 0 else h[l - 1][t + 1]
            g[l][t] = (hyper.sigma_w[l] / math.sqrt(n) * (params["W"][l] @ h[l][t])
                       + hyper.sigma_u[l] / math.sqrt(fan) * (params["U"][l] @ below[l][t])
                       + hyper.sigma_b[l] * params["b"][l])
            h[l][t + 1] = _phi(hyper.activation, g[l][t])
    f = hyper.sigma_v / math.sqrt(n) * float(params["v"] @ h[-1][length])
    return {"g": g, "h": h, "below": below, "f": f, "length": length, "input_dim": input_dim}


def output(params: dict, x, h0: list, hyper: Hyper) -> float:
    """f(x) for the given parameters and initial hidden states."""
    return forward(params, x, h0, hyper)["f"]


def backward(params: dict, cache: dict, hyper: Hyper) -> list:
    """Backpropagation through time: δ[l][t] = ∂f/∂g(l+1, t+1).

    ∂f/∂h(l,t) collects three paths — the read-out (only at (L,T)), the same
    layer's next step through W_l, and the next layer's same step through
    U_{l+1} — and δ(l,t) = φ'(g(l,t)) ⊙ ∂f/∂h(l,t).
    """
    n = params["v"].shape[0]
    length = cache["length"]
    last = hyper.n_layers - 1
    delta = [[None] * length for _ in range(hyper.n_layers)]
    for l in range(last, -1, -1):
        for t in range(length - 1, -1, -1):
            dh = np.zeros(n)
            if l == last and t == length - 1:
                dh += hyper.sigma_v / math.sqrt(n) * params["v"]
            if t < length - 1:
                dh += hyper.sigma_w[l] / math.sqrt(n) * (params["W"][l].T @ delta[l][t + 1])
            if l < last:
                dh += hyper.sigma_u[l + 1] / math.sqrt(n) * (params["U"][l + 1].T @ delta[l + 1][t])
            delta[l][t] = _phi_prime(hyper.activation, cache["g"][l][t]) * dh
    return delta


def gradients(params: dict, x, h0: list, hyper: Hyper) -> dict:
    """∇θ f(x) for θ = (W_l, U_l, b_l, v), with the same structure as ``params``.

    Weight tying makes each weight's gradient a sum over time steps.
    """
    cache = forward(params, x, h0, hyper)
    delta = backward(params, cache, hyper)
    n = params["v"].shape[0]
    grads = {"W": [], "U": [], "b": []}
    for l in range(hyper.n_layers):
        fan = cache["input_dim"] if l == 0 else n
        dW = np.zeros_like(params["W"][l])
        dU = np.zeros_like(params["U"][l])
        db = np.zeros_like(params["b"][l])
        for t in range(cache["length"]):
            dW += hyper.sigma_w[l] / math.sqrt(n) * np.outer(delta[l][t], cache["h"][l][t])
            dU += hyper.sigma_u[l] / math.sqrt(fan) * np.outer(delta[l][t], cache["below"][l][t])
            db += hyper.sigma_b[l] * delta[l][t]
        grads["W"].append(dW)
        grads["U"].append(dU)
        grads["b"].append(db)
    grads["v"] = hyper.sigma_v / math.sqrt(n) * cache["h"][-1][cache["length"]]
    return grads


def flatten(tree: dict) -> np.ndarray:
    """All arrays of a params/gradients dict as one vector, in a fixed order."""
    parts = []
    for key in ("W", "U", "b"):
        parts.extend(a.ravel() for a in tree[key])
    parts.append(tree["v"].ravel())
    return np.concatenate(parts)


def _pair_ntk(a: dict, b: dict, n: int, hyper: Hyper) -> float:
    """⟨∇θ f(x), ∇θ f(x')⟩ from the two inputs' forward caches and δ's.

    Uses ⟨Σ_t u_t p_tᵀ, Σ_t' u'_t' p'_t'ᵀ⟩_F = Σ_{t,t'} ⟨u_t, u'_t'⟩⟨p_t, p'_t'⟩,
    which is the flattened-gradient inner product without forming the n×n
    gradient matrices.
    """
    total = 0.0
    for l in range(hyper.n_layers):
        fan = a["input_dim"] if l == 0 else n
        d_a = np.array(a["delta"][l])            # (T, n)
        d_b = np.array(b["delta"][l])            # (T', n)
        prev_a = np.array(a["h"][l][:-1])        # h(l, t-1), t = 1..T
        prev_b = np.array(b["h"][l][:-1])
        in_a = np.array(a["below"][l])           # h(l-1, t)
        in_b = np.array(b["below"][l])
        dd = d_a @ d_b.T
        weights = (hyper.sigma_w[l] ** 2 / n * (prev_a @ prev_b.T)
                   + hyper.sigma_u[l] ** 2 / fan * (in_a @ in_b.T)
                   + hyper.sigma_b[l] ** 2)
        total += float(np.sum(dd * weights))
    total += hyper.sigma_v ** 2 / n * float(a["h"][-1][-1] @ b["h"][-1][-1])
    return total


def draw_network(width: int, seed: int, input_dim: int, n_layers: int, n_inputs: int) -> dict:
    """One random network and the standard-normal noise of its inputs' initial states.

    Returns ``{"params": ..., "h0_noise": [per input: [per layer: (n,) array]]}``,
    all drawn from ``np.random.default_rng(seed)``; input i starts from
    h(l,0) = σh · h0_noise[i][l]. The draw does not depend on the activation
    or the σ's, so one draw can be evaluated under several hyperparameters.
    """
    rng = np.random.default_rng(seed)
    params = init_params(rng, width, input_dim, n_layers)
    h0_noise = [[rng.standard_normal(width) for _ in range(n_layers)] for _ in range(n_inputs)]
    return {"params": params, "h0_noise": h0_noise}


def network_kernels(network: dict, X: Sequence, hyper: Hyper):
    """Empirical NTK, read-out Gram and outputs of a drawn network on sequences X.

    Returns

      ``ntk``      (N, N) ⟨∇θ f(x_i), ∇θ f(x_j)⟩ over all trained parameters;
      ``readout``  (N, N) σv²/n ⟨h(L,T_i), h(L,T_j)⟩, the covariance of f given
                   the hidden states, which tends to the NNGP kernel K;
      ``outputs``  (N,) f(x_i).
    """
    params = network["params"]
    width = params["v"].shape[0]
    xs = [_as_sequence(x) for x in X]
    if len(xs) > len(network["h0_noise"]):
        raise ValueError("the network was drawn for fewer inputs")
    runs = []
    for x, noise in zip(xs, network["h0_noise"]):
        h0 = [hyper.sigma_h * z for z in noise]
        cache = forward(params, x, h0, hyper)
        cache["delta"] = backward(params, cache, hyper)
        runs.append(cache)
    N = len(xs)
    ntk = np.zeros((N, N))
    readout = np.zeros((N, N))
    for i in range(N):
        for j in range(i, N):
            ntk[i, j] = ntk[j, i] = _pair_ntk(runs[i], runs[j], width, hyper)
            readout[i, j] = readout[j, i] = (
                hyper.sigma_v ** 2 / width * float(runs[i]["h"][-1][-1] @ runs[j]["h"][-1][-1]))
    outputs = np.array([r["f"] for r in runs])
    return ntk, readout, outputs


def empirical_kernels(X: Sequence, width: int, seed: int, **hyperparameters):
    """(ntk, readout, outputs) of the network ``draw_network(width, seed, ...)``.

    Keyword arguments are those of :func:`make_hyper`; see
    :func:`network_kernels` for the results.
    """
    hyper = make_hyper(**hyperparameters)
    xs = [_as_sequence(x) for x in X]
    network = draw_network(width, seed, xs[0].shape[1], hyper.n_layers, len(xs))
    return network_kernels(network, xs, hyper)


def empirical_ntk(X: Sequence, width: int, seed: int, **hyperparameters):
    """(ntk, outputs) of one random network; see :func:`empirical_kernels`."""
    ntk, _, outputs = empirical_kernels(X, width, seed, **hyperparameters)
    return ntk, outputs
