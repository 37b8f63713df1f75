"""Figure 3: per-time-step sensitivity s(t) = ‖∇_{x_t} Θ(x, x')‖ of the RNTK.

For two independent standard-normal sequences x, x' of length T = 100
(m = 1), the gradient of Θ(x, x') with respect to every x_t is computed
exactly by forward-mode differentiation of the single-layer recursion of
SPEC §1.2–1.4 (`rntk_and_gradient`), for many pairs at once, and averaged
over pairs; the figure shows the mean s(t) divided by its maximum over t,
as the paper does.

Two checks run with it: the kernel value of that recursion against
`rntk_core.gram`, and the gradient against central differences of
`rntk_core.gram` itself at two step sizes combined by Richardson
extrapolation, (4·D(h/2) − D(h))/3, which cancels the h² term.
"""

from __future__ import annotations

import math

import numpy as np

from rntk_core import RNTKParams, gram

from .common import Stopwatch, environment, progress, section_seed, stamp

FULL = {"length": 100, "pairs": 10000, "checked_pairs": 3, "step": 1e-4}
QUICK = dict(FULL, length=30, pairs=200, checked_pairs=1)

SQ2 = math.sqrt(2.0)
BASE = {
    "relu": {"sigma_w": SQ2, "sigma_u": 1.0, "sigma_b": 0.0, "sigma_h": 0.0},
    "erf": {"sigma_w": 1.0, "sigma_u": 0.01, "sigma_b": 0.05, "sigma_h": 0.0},
}
"""The paper's reference settings S_ReLU = {√2, 1, 0, 0} and S_erf = {1, 0.01, 0.05, 0} (σw, σu, σb, σh)."""

VARY = {
    "relu": {"sigma_w": [1.30, 1.38, SQ2, 1.45, 1.50], "sigma_b": [0.0, 0.1, 0.5, 1.0],
             "sigma_h": [0.0, 0.1, 0.5, 1.0]},
    "erf": {"sigma_w": [0.5, 0.8, 1.0, 1.2, 1.5], "sigma_b": [0.0, 0.05, 0.1, 0.5],
            "sigma_h": [0.0, 0.1, 0.5, 1.0]},
}
"""Each panel varies one σ of the reference setting and keeps the others."""


def _relu(A, B, C, dA, dC):
    """ReLU's V, V' (SPEC §1.1) at [[A, C], [C, B]] and their derivatives given dA, dC (dB = 0)."""
    q = np.sqrt(A * B)
    c = np.clip(C / q, -1.0, 1.0)
    theta = np.arccos(c)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    J = (c * (math.pi - theta) + s) / (2 * math.pi)
    D = (math.pi - theta) / (2 * math.pi)
    dq = (B / (2 * q))[:, None] * dA
    dc = dC / q[:, None] - (c / (2 * A))[:, None] * dA
    dV = J[:, None] * dq + (q * D)[:, None] * dc
    inv = np.where(s > 1e-12, 1.0 / (2 * math.pi * np.where(s > 1e-12, s, 1.0)), 0.0)
    dD = inv[:, None] * dc
    return q * J, dV, D, dD


def _relu_diag(A, dA):
    return A / 2.0, dA / 2.0


def _erf(A, B, C, dA, dC):
    """erf's V, V' (SPEC §1.1) at [[A, C], [C, B]] and their derivatives given dA, dC (dB = 0)."""
    P = np.sqrt((1 + 2 * A) * (1 + 2 * B))
    z = np.clip(2 * C / P, -1.0, 1.0)
    V = (2 / math.pi) * np.arcsin(z)
    dz = 2 * dC / P[:, None] - (z / (1 + 2 * A))[:, None] * dA
    dV = (2 / math.pi) * dz / np.sqrt(1 - z * z)[:, None]
    Q = P * P - 4 * C * C
    D = 4 / (math.pi * np.sqrt(Q))
    dQ = (2 * (1 + 2 * B))[:, None] * dA - (8 * C)[:, None] * dC
    dD = (-(2 / math.pi) * Q ** -1.5)[:, None] * dQ
    return V, dV, D, dD


def _erf_diag(A, dA):
    z = 2 * A / (1 + 2 * A)
    dz = (2 / (1 + 2 * A) ** 2)[:, None] * dA
    return (2 / math.pi) * np.arcsin(z), (2 / math.pi) * dz / np.sqrt(1 - z * z)[:, None]


def rntk_and_gradient(x: np.ndarray, xp: np.ndarray, activation: str, sigma_w: float, sigma_u: float,
                      sigma_b: float, sigma_h: float, sigma_v: float = 1.0):
    """Θ(x, x') and ∂Θ/∂x_t for R pairs of equal-length scalar sequences (single layer, forward).

    Parameters
    ----------
    x, xp : (R, T) arrays; row r is one pair (two different samples, so
        the cross term of σh is 0, SPEC §1.3)

    Returns
    -------
    theta : (R,)
    grad : (R, T), grad[r, t] = ∂Θ(x_r, x'_r)/∂x_{r,t}
    """
    dual, diag = (_relu, _relu_diag) if activation == "relu" else (_erf, _erf_diag)
    w, u, b, h, v = sigma_w ** 2, sigma_u ** 2, sigma_b ** 2, sigma_h ** 2, sigma_v ** 2
    R, T = x.shape
    A = w * h + u * x[:, 0] ** 2 + b
    B = w * h + u * xp[:, 0] ** 2 + b
    C = u * x[:, 0] * xp[:, 0] + b
    dA = np.zeros((R, T))
    dC = np.zeros((R, T))
    dA[:, 0] = 2 * u * x[:, 0]
    dC[:, 0] = u * xp[:, 0]
    Th, dTh = C.copy(), dC.copy()
    for t in range(1, T):
        V, dV, D, dD = dual(A, B, C, dA, dC)
        VA, dVA = diag(A, dA)
        VB, _ = diag(B, np.zeros((R, 1)))
        newA = w * VA + u * x[:, t] ** 2 + b
        dA = w * dVA
        dA[:, t] += 2 * u * x[:, t]
        B = w * VB + u * xp[:, t] ** 2 + b
        C = w * V + u * x[:, t] * xp[:, t] + b
        dCn = w * dV
        dCn[:, t] += u * xp[:, t]
        dTh = dCn + w * (dD * Th[:, None] + D[:, None] * dTh)
        Th = C + w * D * Th
        A, dC = newA, dCn
    V, dV, D, dD = dual(A, B, C, dA, dC)
    theta = v * (V + D * Th)
    grad = v * (dV + dD * Th[:, None] + D[:, None] * dTh)
    return theta, grad


def central_difference(x: np.ndarray, xp: np.ndarray, params: RNTKParams, step: float) -> np.ndarray:
    """∂Θ(x, x')/∂x_t for one pair by Richardson-extrapolated central differences of `rntk_core.gram`."""
    T = len(x)

    def diff(h):
        hs = h * np.maximum(1.0, np.abs(x))
        seqs = []
        for t in range(T):
            for sign in (1.0, -1.0):
                y = x.copy()
                y[t] += sign * hs[t]
                seqs.append(y)
        k = gram(seqs, [xp], params=params)[:, 0]
        return (k[0::2] - k[1::2]) / (2 * hs)

    coarse, fine = diff(step), diff(step / 2)
    return (4 * fine - coarse) / 3, coarse, fine


def configurations() -> list[tuple[str, str, float, dict]]:
    """(activation, varied σ, value, full σ setting) for every curve of the figure."""
    out = []
    for act in ("relu", "erf"):
        for name, values in VARY[act].items():
            for value in values:
                out.append((act, name, value, dict(BASE[act], **{name: value})))
    return out


def run(quick: bool = False) -> dict:
    clock = Stopwatch()
    cfg = QUICK if quick else FULL
    seed = section_seed("figure3")
    rng = np.random.default_rng(seed)
    T, R = cfg["length"], cfg["pairs"]
    x = rng.standard_normal((R, T))
    xp = rng.standard_normal((R, T))
    curves, checks = [], []
    for act, name, value, sig in progress(configurations(), desc="figure3 configurations"):
        theta, grad = rntk_and_gradient(x, xp, act, **sig)
        s = np.abs(grad)
        mean = s.mean(axis=0)
        params = RNTKParams(activation=act, **sig)
        k = cfg["checked_pairs"]
        exact = np.array([gram([x[r]], [xp[r]], params=params)[0, 0] for r in range(k)])
        worst_grad, worst_steps = 0.0, 0.0
        for r in range(k):
            rich, coarse, fine = central_difference(x[r], xp[r], params, cfg["step"])
            norm = np.linalg.norm(grad[r])
            worst_grad = max(worst_grad, float(np.linalg.norm(rich - grad[r]) / norm))
            worst_steps = max(worst_steps, float(np.linalg.norm(coarse - fine) / norm))
        checks.append({
            "activation": act, "varied": name, "value": value,
            "kernel_max_relative_difference": float(np.max(np.abs(theta[:k] - exact) / np.abs(exact))),
            "gradient_vs_richardson_relative": worst_grad,
            "two_steps_relative_difference": worst_steps,
        })
        curves.append({"activation": act, "varied": name, "value": value, "sigmas": sig,
                       "mean_s": mean, "normalised": mean / mean.max(),
                       "any_nonfinite": bool(not np.all(np.isfinite(grad)))})
    return {
        "section": "figure3",
        "quick": quick,
        "seed": seed,
        "config": cfg,
        "base": BASE,
        "vary": VARY,
        "curves": curves,
        "checks": checks,
        "seconds": clock.seconds(),
        "when": stamp(),
        "environment": environment(),
    }
