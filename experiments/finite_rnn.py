"""Empirical NTK of finite single-layer ReLU Elman RNNs, weight-tied and untied, on batches of sequences.

The network is SPEC §1's with L = 1 and φ = ReLU, in the NTK parameterisation:

    g_t = σw/√n W_t h_{t-1} + σu/√m U_t x_t + σb b_t,   h_t = relu(g_t),   h_0 = 0 (σh = 0)
    f(x) = σv/√n vᵀ h_T

Weight-tied: W_t = W, U_t = U, b_t = b for every t (the usual RNN).
Untied: independent standard-normal W_t, U_t, b_t at every step (the paper's
Theorem 3); its infinite-width NTK is the same RNTK for inputs of equal length.

Backpropagation through time is written out: with δ_t = ∂f/∂g_t,

    δ_T = φ'(g_T) ⊙ σv/√n v,      δ_t = φ'(g_t) ⊙ σw/√n W_{t+1}ᵀ δ_{t+1},

and the gradient inner product of two inputs is, without forming any n×n gradient,

    tied:    Σ_{t,t'} ⟨δ_t, δ'_t'⟩ (σw²/n ⟨h_{t-1}, h'_{t'-1}⟩ + σu²/m ⟨x_t, x'_t'⟩ + σb²) + σv²/n ⟨h_T, h'_T⟩
    untied:  Σ_t ⟨δ_t, δ'_t⟩ (σw²/n ⟨h_{t-1}, h'_{t-1}⟩ + σu²/m ⟨x_t, x'_t⟩ + σb²) + σv²/n ⟨h_T, h'_T⟩

(untied: equal lengths only, step t of one input meeting step t of the other).
A batch is a set of sequences of one length, processed together as n × N
matrices, which is what makes widths in the thousands affordable for the
figure; the test oracle ``tests/rntk_core/finite_rnn.py`` runs one sequence
at a time (any depth, σh > 0, tied only), and
``tests/experiments/test_finite_rnn.py`` checks this module against it and
against finite differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Net:
    """Hyperparameters and the drawn weights: lists W, U, b with one entry (tied) or one per step (untied)."""

    sigma_w: float
    sigma_u: float
    sigma_b: float
    sigma_v: float
    W: list
    U: list
    b: list
    v: np.ndarray
    tied: bool

    @property
    def width(self) -> int:
        return self.v.shape[0]


def draw(rng: np.random.Generator, width: int, input_dim: int, steps: int, tied: bool, *,
         sigma_w=math.sqrt(2.0), sigma_u=1.0, sigma_b=0.0, sigma_v=1.0) -> Net:
    """A network with standard-normal weights; untied networks get `steps` independent sets."""
    count = 1 if tied else steps
    W = [rng.standard_normal((width, width)) for _ in range(count)]
    U = [rng.standard_normal((width, input_dim)) for _ in range(count)]
    b = [rng.standard_normal(width) for _ in range(count)]
    v = rng.standard_normal(width)
    return Net(sigma_w, sigma_u, sigma_b, sigma_v, W, U, b, v, tied)


@dataclass
class Run:
    """Forward and backward quantities of a batch: x (T, m, N), h (T+1, n, N), delta (T, n, N)."""

    x: np.ndarray
    h: np.ndarray
    delta: np.ndarray
    f: np.ndarray


def run(net: Net, X: np.ndarray) -> Run:
    """Forward pass and BPTT for a batch X of shape (N, T, m) (all sequences of one length)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[:, :, None]
    N, T, m = X.shape
    if not net.tied and T > len(net.W):
        raise ValueError(f"untied network drawn for {len(net.W)} steps, input has {T}")
    n = net.width
    x = np.transpose(X, (1, 2, 0))
    h = np.zeros((T + 1, n, N))
    g = np.zeros((T, n, N))
    pick = (lambda t: 0) if net.tied else (lambda t: t)
    for t in range(T):
        k = pick(t)
        g[t] = (net.sigma_w / math.sqrt(n) * (net.W[k] @ h[t])
                + net.sigma_u / math.sqrt(m) * (net.U[k] @ x[t])
                + net.sigma_b * net.b[k][:, None])
        h[t + 1] = np.maximum(g[t], 0.0)
    f = net.sigma_v / math.sqrt(n) * (net.v @ h[T])
    delta = np.zeros((T, n, N))
    delta[T - 1] = (g[T - 1] > 0.0) * (net.sigma_v / math.sqrt(n) * net.v)[:, None]
    for t in range(T - 2, -1, -1):
        delta[t] = (g[t] > 0.0) * (net.sigma_w / math.sqrt(n) * (net.W[pick(t + 1)].T @ delta[t + 1]))
    return Run(x, h, delta, f)


def ntk(net: Net, a: Run, b: Run) -> np.ndarray:
    """The (N_a, N_b) empirical NTK between two batches (of possibly different lengths if tied)."""
    n = net.width
    m = a.x.shape[1]
    Ta, Tb = a.delta.shape[0], b.delta.shape[0]
    sw2, su2, sb2 = net.sigma_w ** 2, net.sigma_u ** 2, net.sigma_b ** 2
    out = net.sigma_v ** 2 / n * (a.h[Ta].T @ b.h[Tb])
    if net.tied:
        pairs = [(t, u) for t in range(Ta) for u in range(Tb)]
    else:
        if Ta != Tb:
            raise ValueError("the untied NTK is defined here for inputs of equal length")
        pairs = [(t, t) for t in range(Ta)]
    for t, u in pairs:
        dd = a.delta[t].T @ b.delta[u]
        weight = sw2 / n * (a.h[t].T @ b.h[u]) + su2 / m * (a.x[t].T @ b.x[u]) + sb2
        out += dd * weight
    return out
