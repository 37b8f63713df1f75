"""Slow, plainly written reference implementation of the RNTK (SPEC.md §1).

This module is a test oracle. It computes the recurrent neural tangent kernel
and the NNGP kernel one pair of sequences at a time, one scalar at a time,
straight from the formulas of SPEC.md §1, so that it can be read line by line
against the spec.

The fast implementation evaluates the NTK with the *forward* recursion of
§1.4 (Θ(l,t) built up along with the covariances). This oracle instead uses
the *backward* form of §1.5 — the paper's Theorem 1 — in which the gradient
covariances Π(l,t) are propagated from the output back to (1,1) and the kernel
is Θ = Σ_l Σ_t Π(l,t)·C(l,t) + K. The two forms share only the covariance
recursion, so agreement between them is an independent check of the NTK part.

Every function computes in float64 by default; given another `Arithmetic`
(``mp_oracle.MP``: mpmath numbers, whose exponent range is unbounded) the
same formulas give the kernel free of float64's overflow and underflow.

Nothing here imports ``rntk_core``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "naive_gram",
    "pair_kernel",
    "self_covariances",
    "dual",
    "dual_derivative",
    "Arithmetic",
    "FLOAT64",
]


@dataclass(frozen=True)
class Arithmetic:
    """The numbers the oracle computes with: its functions, and how a float64 input becomes one."""

    sqrt: Callable[[Any], Any]
    acos: Callable[[Any], Any]
    asin: Callable[[Any], Any]
    pi: Callable[[], Any]
    number: Callable[[float], Any]
    dtype: Any  # of the Gram arrays that hold the results


FLOAT64 = Arithmetic(math.sqrt, math.acos, math.asin, lambda: math.pi, float, np.float64)

ACTIVATIONS = ("relu", "erf")
DIRECTIONS = ("forward", "backward", "bidirectional")


# ---------------------------------------------------------------------------
# §1.1 Dual activations of a 2x2 covariance [[K1, K3], [K3, K2]]
# ---------------------------------------------------------------------------

def dual(activation: str, k1: float, k2: float, k3: float, same: bool = False, num: Arithmetic = FLOAT64) -> float:
    """V(K) = E[φ(u) φ(v)] for (u, v) ~ N(0, [[k1, k3], [k3, k2]]).

    ``same=True`` marks a sequence paired with itself (§1.1): the correlation
    is taken to be exactly 1 instead of k3/√(k1·k2) computed in floating point.
    """
    if activation == "relu":
        q = num.sqrt(k1) * num.sqrt(k2)  # = √(k1·k2), without under/overflow of k1·k2
        if q == 0.0:
            # A zero-variance step: φ(0) = 0, so V = 0.
            return num.number(0.0)
        c = num.number(1.0) if same else min(num.number(1.0), max(num.number(-1.0), k3 / q))
        theta = num.acos(c)
        return q * (c * (num.pi() - theta) + num.sqrt(1.0 - c * c)) / (2.0 * num.pi())
    if activation == "erf":
        r = 2.0 * k3 / (num.sqrt(1.0 + 2.0 * k1) * num.sqrt(1.0 + 2.0 * k2))
        r = min(num.number(1.0), max(num.number(-1.0), r))
        return (2.0 / num.pi()) * num.asin(r)
    raise ValueError(f"unknown activation {activation!r}")


def dual_derivative(
    activation: str, k1: float, k2: float, k3: float, same: bool = False, num: Arithmetic = FLOAT64
) -> float:
    """V'(K) = E[φ'(u) φ'(v)] for (u, v) ~ N(0, [[k1, k3], [k3, k2]]).

    ReLU'(0) = 0, so a zero-variance step (k1·k2 = 0) gives 0 — also for a
    sequence paired with itself, where the variance being 0 takes precedence
    over the "correlation exactly 1" rule.

    For erf the determinant (1+2k1)(1+2k2) − 4k3² is evaluated as the spec
    writes it, and ``same`` changes nothing (erf has no singularity at
    correlation 1). Near correlation 1 that difference cancels: its relative
    error grows like k·1e-16, about 3e-9 in the final kernel for k ~ 1e8.
    The oracle is meant for moderate magnitudes.
    """
    if activation == "relu":
        q = num.sqrt(k1) * num.sqrt(k2)
        if q == 0.0:
            return num.number(0.0)
        c = num.number(1.0) if same else min(num.number(1.0), max(num.number(-1.0), k3 / q))
        theta = num.acos(c)
        return (num.pi() - theta) / (2.0 * num.pi())
    if activation == "erf":
        det = (1.0 + 2.0 * k1) * (1.0 + 2.0 * k2) - 4.0 * k3 * k3
        return 4.0 / (num.pi() * num.sqrt(det))
    raise ValueError(f"unknown activation {activation!r}")


# ---------------------------------------------------------------------------
# Inputs and hyperparameters
# ---------------------------------------------------------------------------

def as_sequence(x) -> np.ndarray:
    """One input sequence as a float64 array of shape (T, m); (T,) means m = 1."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 1:
        raise ValueError(f"a sequence must have shape (T,) or (T, m) with T >= 1, got {a.shape}")
    return a


def per_layer(value, n_layers: int, name: str) -> list[float]:
    """A σ given as a number or as one number per layer, as a list of length L."""
    if np.ndim(value) == 0:
        return [float(value)] * n_layers
    values = [float(v) for v in value]
    if len(values) != n_layers:
        raise ValueError(f"{name} has {len(values)} entries for {n_layers} layers")
    return values


def _dot(a: np.ndarray, b: np.ndarray, num: Arithmetic):
    """⟨a, b⟩ of two float64 vectors, in `num`'s arithmetic."""
    if num is FLOAT64:
        return float(np.dot(a, b))
    return sum((num.number(float(u)) * num.number(float(v)) for u, v in zip(a, b)), num.number(0.0))


# ---------------------------------------------------------------------------
# §1.2 Self-covariances S(l,t) of one sequence
# ---------------------------------------------------------------------------

def self_covariances(x: np.ndarray, activation, sw, su, sb, sh, num: Arithmetic = FLOAT64) -> list[list[float]]:
    """S[l][t] = Σ(l+1, t+1, t+1)(x, x) (0-based indices), by SPEC §1.2."""
    n_layers = len(sw)
    length, m = x.shape
    S = [[num.number(0.0)] * length for _ in range(n_layers)]
    for l in range(n_layers):
        for t in range(length):
            if t == 0:
                recurrent = sh * sh
            else:
                s_prev = S[l][t - 1]
                recurrent = dual(activation, s_prev, s_prev, s_prev, same=True, num=num)
            if l == 0:
                below = _dot(x[t], x[t], num) / m
            else:
                s_below = S[l - 1][t]
                below = dual(activation, s_below, s_below, s_below, same=True, num=num)
            S[l][t] = sw[l] ** 2 * recurrent + su[l] ** 2 * below + sb[l] ** 2
    return S


# ---------------------------------------------------------------------------
# §1.3 + §1.5 One pair of sequences, forward direction
# ---------------------------------------------------------------------------

def pair_kernel(
    x, xp, same: bool, activation, sw, su, sb, sh, sv, num: Arithmetic = FLOAT64
) -> tuple[float, float]:
    """(NTK, NNGP) of two sequences read forward, via Theorem 1 (SPEC §1.5).

    ``same`` is True only for a sequence paired with itself as the diagonal
    entry of a symmetric Gram (§1.3): then the initial hidden states are the
    same draw (R(l,1) = σh²) and correlations are exactly 1.
    """
    x = as_sequence(x)
    xp = as_sequence(xp)
    if x.shape[1] != xp.shape[1]:
        raise ValueError("the two sequences have different input dimensions")
    if x.shape[0] > xp.shape[0]:
        x, xp = xp, x  # Θ and K are symmetric; keep T <= T'
    n_layers = len(sw)
    T, m = x.shape
    Tp = xp.shape[0]
    tau = Tp - T  # step t of x meets step t + tau of x' (end alignment)

    S1 = self_covariances(x, activation, sw, su, sb, sh, num)
    S2 = self_covariances(xp, activation, sw, su, sb, sh, num)

    # Cross covariances C[l][t] along the aligned diagonal (§1.3).
    C = [[0.0] * T for _ in range(n_layers)]
    for l in range(n_layers):
        for t in range(T):
            if t == 0:
                recurrent = sh * sh if same else 0.0
            else:
                recurrent = dual(activation, S1[l][t - 1], S2[l][t - 1 + tau], C[l][t - 1], same, num)
            if l == 0:
                below = _dot(x[t], xp[t + tau], num) / m
            else:
                below = dual(activation, S1[l - 1][t], S2[l - 1][t + tau], C[l - 1][t], same, num)
            C[l][t] = sw[l] ** 2 * recurrent + su[l] ** 2 * below + sb[l] ** 2

    # D(l,t) = V'(C(l,t) | S_x(l,t), S_x'(l,t+τ)).
    D = [[dual_derivative(activation, S1[l][t], S2[l][t + tau], C[l][t], same, num) for t in range(T)]
         for l in range(n_layers)]

    last = n_layers - 1
    nngp = sv ** 2 * dual(activation, S1[last][T - 1], S2[last][Tp - 1], C[last][T - 1], same, num)

    # Backward pass of gradient covariances Π(l,t) (§1.5), from (L,T) down to (1,1).
    Pi = [[0.0] * T for _ in range(n_layers)]
    for l in range(last, -1, -1):
        for t in range(T - 1, -1, -1):
            if l == last and t == T - 1:
                Pi[l][t] = sv ** 2 * D[l][t]
                continue
            upstream = 0.0
            if t < T - 1:
                upstream += sw[l] ** 2 * Pi[l][t + 1]
            if l < last:
                upstream += su[l + 1] ** 2 * Pi[l + 1][t]
            Pi[l][t] = D[l][t] * upstream

    ntk = nngp
    for l in range(n_layers):
        for t in range(T):
            ntk += Pi[l][t] * C[l][t]
    return ntk, nngp


# ---------------------------------------------------------------------------
# Gram matrices
# ---------------------------------------------------------------------------

def naive_gram(
    X: Sequence,
    Z: Sequence | None = None,
    *,
    activation: str = "relu",
    n_layers: int = 1,
    sigma_w=2 ** 0.5,
    sigma_u=1.0,
    sigma_b=0.0,
    sigma_h=0.0,
    sigma_v=1.0,
    direction: str = "forward",
    num: Arithmetic = FLOAT64,
) -> tuple[np.ndarray, np.ndarray]:
    """(NTK, NNGP) Gram matrices of SPEC §1, one pair at a time.

    X and Z are lists of sequences, each of shape (T_i, m) or (T_i,) for m = 1;
    lengths may differ. ``Z=None`` gives the symmetric Gram of X, whose
    diagonal entries are "the same sample" (§1.3); in a cross Gram no pair is.
    sigma_w, sigma_u, sigma_b are numbers or lists with one entry per layer.
    ``direction="backward"`` is the forward kernel of the time-reversed
    sequences; ``"bidirectional"`` is the sum of the forward and backward
    kernels (§1.6). ``num`` is the arithmetic (float64 unless given); the
    arrays hold its numbers.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    if n_layers < 1:
        raise ValueError("n_layers must be >= 1")
    sw = [num.number(v) for v in per_layer(sigma_w, n_layers, "sigma_w")]
    su = [num.number(v) for v in per_layer(sigma_u, n_layers, "sigma_u")]
    sb = [num.number(v) for v in per_layer(sigma_b, n_layers, "sigma_b")]
    sh = num.number(float(sigma_h))
    sv = num.number(float(sigma_v))

    xs = [as_sequence(x) for x in X]
    symmetric = Z is None
    zs = xs if symmetric else [as_sequence(z) for z in Z]

    readings = []
    if direction in ("forward", "bidirectional"):
        readings.append(lambda s: s)
    if direction in ("backward", "bidirectional"):
        readings.append(lambda s: s[::-1])

    ntk = np.full((len(xs), len(zs)), num.number(0.0), dtype=num.dtype)
    nngp = np.full((len(xs), len(zs)), num.number(0.0), dtype=num.dtype)
    for i in range(len(xs)):
        for j in range(len(zs)):
            if symmetric and j < i:
                ntk[i, j] = ntk[j, i]
                nngp[i, j] = nngp[j, i]
                continue
            same = symmetric and i == j
            for read in readings:
                a, b = pair_kernel(read(xs[i]), read(zs[j]), same, activation, sw, su, sb, sh, sv, num)
                ntk[i, j] += a
                nngp[i, j] += b
    return ntk, nngp
