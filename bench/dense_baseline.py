"""Dense NumPy RNTK: the published algorithm, as the benchmark's baseline.

The RNTK authors' JAX code computes the kernel of a set of equal-length
sequences by running the forward recursion of SPEC §1.4 on the whole N×N Gram
matrix at once: at every time step and layer it forms the cross-covariance
matrix C, applies the dual activation V and its derivative V' elementwise to
the whole matrix (through the normalised correlation, with ``arccos`` and
``sqrt``), and updates the NTK matrix Θ. This module is that algorithm written
with dense NumPy array operations, which is what a user of the published code
gets on a CPU. It is the reference point that ``bench/bench_core.py`` measures
``rntk_core`` against, so it is kept faithful rather than clever: it computes
every entry of the symmetric N×N matrices (both triangles), as the original
does, and uses only in-place NumPy operations to avoid needless allocation.

Scope: equal lengths, the symmetric Gram ``K(X, X)`` only, forward direction,
``relu`` and ``erf``, L layers with per-layer σw, σu, σb, and σh with the
same-sample rule (R(l, 1) = σh² on the diagonal, 0 off it).

On the diagonal (a sample paired with itself) the exact same-sample values of
SPEC §1.1 are used: correlation c = 1 for relu, and V' = 4 / (π·√(1 + 4s)) for
erf instead of the cancellation-prone (1+2s)² − 4s². This costs O(N) per step
and keeps the diagonal free of the rounding drift that ``arccos`` near 1 would
otherwise amplify; it does not change the off-diagonal entries. The
self-covariances S(l, t) are read off the diagonal of C(l, t), as the dense
formulation has them there anyway.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np

__all__ = ["dense_gram"]

SigmaArg = Union[float, Sequence[float]]

_INV_2PI = 1.0 / (2.0 * math.pi)


def _per_layer(value: SigmaArg, n_layers: int, name: str) -> list[float]:
    """Return ``value`` as a list of one float per layer."""
    if np.ndim(value) == 0:
        return [float(value)] * n_layers
    values = [float(v) for v in value]  # type: ignore[union-attr]
    if len(values) != n_layers:
        raise ValueError(f"{name} has {len(values)} entries; expected one per layer ({n_layers})")
    return values


class _Workspace:
    """Scratch N×N buffers reused by every dual-activation evaluation."""

    def __init__(self, n: int) -> None:
        self.a = np.empty((n, n))
        self.b = np.empty((n, n))


def _relu_dual(C: np.ndarray, s: np.ndarray, V: np.ndarray, D: np.ndarray, ws: _Workspace) -> None:
    """Write the ReLU dual V(C) and derivative V'(C) of the whole matrix into V and D.

    q = √(s_i s_j), c = clip(C / q, −1, 1), θ = arccos c,
    V = q (c (π − θ) + √(1 − c²)) / (2π),  V' = (π − θ) / (2π);
    c = 1 exactly on the diagonal; rows and columns with s = 0 get
    V = V' = 0 (SPEC §1.1).
    """
    q = ws.a
    np.multiply.outer(s, s, out=q)
    np.sqrt(q, out=q)
    zero = s <= 0
    has_zero = bool(zero.any())

    c = ws.b
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(C, q, out=c)
    if has_zero:
        c[zero, :] = 0.0
        c[:, zero] = 0.0
    np.clip(c, -1.0, 1.0, out=c)
    np.fill_diagonal(c, 1.0)

    np.arccos(c, out=D)
    np.subtract(math.pi, D, out=D)
    D *= _INV_2PI

    np.multiply(c, D, out=V)
    np.multiply(c, c, out=c)
    np.subtract(1.0, c, out=c)
    np.sqrt(c, out=c)
    c *= _INV_2PI
    V += c
    V *= q

    if has_zero:
        D[zero, :] = 0.0
        D[:, zero] = 0.0


def _erf_dual(C: np.ndarray, s: np.ndarray, V: np.ndarray, D: np.ndarray, ws: _Workspace) -> None:
    """Write the erf dual V(C) and derivative V'(C) of the whole matrix into V and D.

    V = (2/π) arcsin(clip(2C / √((1+2s_i)(1+2s_j)), −1, 1)),
    V' = 4 / (π √((1+2s_i)(1+2s_j) − 4C²)); the diagonal's V' is the exact
    4 / (π √(1 + 4s)).
    """
    a = 1.0 + 2.0 * s
    den = ws.a
    np.multiply.outer(a, a, out=den)

    rho = ws.b
    np.sqrt(den, out=rho)
    np.divide(C, rho, out=rho)
    rho *= 2.0
    np.clip(rho, -1.0, 1.0, out=rho)
    np.arcsin(rho, out=V)
    V *= 2.0 / math.pi

    np.multiply(C, C, out=D)
    D *= -4.0
    D += den
    np.sqrt(D, out=D)
    np.divide(4.0 / math.pi, D, out=D)
    np.fill_diagonal(D, 4.0 / (math.pi * np.sqrt(1.0 + 4.0 * s)))


_DUALS = {"relu": _relu_dual, "erf": _erf_dual}


def dense_gram(
    X: np.ndarray,
    *,
    activation: str = "relu",
    n_layers: int = 1,
    sigma_w: SigmaArg = 2**0.5,
    sigma_u: SigmaArg = 1.0,
    sigma_b: SigmaArg = 0.0,
    sigma_h: float = 0.0,
    sigma_v: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric RNTK and NNGP Gram matrices of equal-length sequences, computed densely.

    Parameters
    ----------
    X : array of shape (N, T) or (N, T, m)
        N sequences of T steps, each step a scalar or an m-vector.
    activation : {"relu", "erf"}
    n_layers : int
        Number of recurrent layers L ≥ 1.
    sigma_w, sigma_u, sigma_b : float or sequence of L floats
        Recurrent, input and bias weight scales, one value for all layers or one per layer.
    sigma_h : float
        Scale of the initial hidden state; enters only the diagonal (same sample).
    sigma_v : float
        Output weight scale.

    Returns
    -------
    ntk, nngp : arrays of shape (N, N)
        Θ(X, X) and K(X, X) of SPEC §1.4.
    """
    if activation not in _DUALS:
        raise ValueError(f"activation must be one of {sorted(_DUALS)}, got {activation!r}")
    if int(n_layers) != n_layers or n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    n_layers = int(n_layers)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"X must have shape (N, T) or (N, T, m) with N, T, m >= 1, got {X.shape}")
    n, T, m = X.shape
    dual = _DUALS[activation]
    sw2 = [v * v for v in _per_layer(sigma_w, n_layers, "sigma_w")]
    su2 = [v * v for v in _per_layer(sigma_u, n_layers, "sigma_u")]
    sb2 = [v * v for v in _per_layer(sigma_b, n_layers, "sigma_b")]
    sh2 = float(sigma_h) ** 2
    sv2 = float(sigma_v) ** 2

    ws = _Workspace(n)
    C = np.empty((n, n))
    tmp = np.empty((n, n))
    V = [np.empty((n, n)) for _ in range(n_layers)]
    D = [np.empty((n, n)) for _ in range(n_layers)]
    theta = [np.empty((n, n)) for _ in range(n_layers)]
    diag = np.arange(n)

    for t in range(T):
        xt = X[:, t, :]
        for l in range(n_layers):
            # C(l,t) = σw²·R(l,t) + σu²·(input covariance) + σb²
            if l == 0:
                np.matmul(xt, xt.T, out=C)
                C *= su2[0] / m
            else:
                np.multiply(V[l - 1], su2[l], out=C)
            if t == 0:
                C[diag, diag] += sw2[l] * sh2
            else:
                np.multiply(V[l], sw2[l], out=tmp)
                C += tmp
            if sb2[l]:
                C += sb2[l]

            # Θ(l,t) = C + σw²·D(l,t-1)·Θ(l,t-1) + σu²·D(l-1,t)·Θ(l-1,t)
            th = theta[l]
            if t == 0:
                th[...] = C
            else:
                th *= D[l]
                th *= sw2[l]
                th += C
            if l > 0:
                np.multiply(D[l - 1], theta[l - 1], out=tmp)
                tmp *= su2[l]
                th += tmp

            s = C.diagonal().copy()
            dual(C, s, V[l], D[l], ws)

    nngp = V[-1] * sv2
    ntk = D[-1] * theta[-1]
    ntk *= sv2
    ntk += nngp
    return ntk, nngp
