"""Figure 2: finite RNNs converge to the RNTK as their width grows.

Left: the kernel between x = (1, −1, 1) (3 steps) and x' = (cos α, sin α)
(2 steps), m = 1, over α ∈ [0, 2π], for one weight-tied network of each
finite width and for the RNTK (width ∞), computed by `rntk_core.gram`. The
two inputs have different lengths, so the RNTK aligns x' with the last two
steps of x (SPEC §1.3); the finite network simply runs each input from its
own first step.

Right: the relative error ‖Θ̂ − Θ‖_F / ‖Θ‖_F of the empirical NTK Gram of 50
standard-normal signals of length 5 against the RNTK Gram, for weight-tied
and untied networks of growing width: the median over independent draws.

Hyperparameters: the library defaults (ReLU, σw = √2, σu = 1, σb = 0,
σh = 0, σv = 1, one layer).
"""

from __future__ import annotations

import math

import numpy as np

from rntk_core import RNTKParams, gram

from . import finite_rnn
from .common import Stopwatch, environment, progress, section_seed, stamp

FULL = {
    "alphas": 181,
    "left_widths": [10, 100, 1000],
    "right_widths": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    "draws": 20,
    "n_signals": 50,
    "length": 5,
}
QUICK = dict(FULL, alphas=37, left_widths=[10, 100], right_widths=[16, 64, 256], draws=2, n_signals=10)


def left_inputs(n_alpha: int):
    alphas = np.linspace(0.0, 2 * math.pi, n_alpha)
    x = np.array([1.0, -1.0, 1.0])
    xp = np.stack([np.cos(alphas), np.sin(alphas)], axis=1)
    return alphas, x, xp


def run(quick: bool = False) -> dict:
    clock = Stopwatch()
    cfg = QUICK if quick else FULL
    seed = section_seed("figure2")
    params = RNTKParams()

    alphas, x, xp = left_inputs(cfg["alphas"])
    exact_left = gram([x], list(xp), params=params)[0]
    left = {}
    for width in progress(cfg["left_widths"], desc="figure2 left"):
        rng = np.random.default_rng([seed, 0, width])
        net = finite_rnn.draw(rng, width, 1, 3, tied=True)
        left[str(width)] = finite_rnn.ntk(net, finite_rnn.run(net, x[None, :]), finite_rnn.run(net, xp))[0]

    signals = np.random.default_rng([seed, 1]).standard_normal((cfg["n_signals"], cfg["length"]))
    exact = gram(list(signals), params=params)
    errors = {"tied": {}, "untied": {}}
    steps = [(w, d, tied) for w in cfg["right_widths"] for d in range(cfg["draws"]) for tied in (True, False)]
    for width, d, tied in progress(steps, desc="figure2 right"):
        rng = np.random.default_rng([seed, 2, width, d, int(tied)])
        net = finite_rnn.draw(rng, width, 1, cfg["length"], tied=tied)
        r = finite_rnn.run(net, signals)
        emp = finite_rnn.ntk(net, r, r)
        err = float(np.linalg.norm(emp - exact) / np.linalg.norm(exact))
        errors["tied" if tied else "untied"].setdefault(str(width), []).append(err)

    slopes = {}
    for kind, by_width in errors.items():
        w = np.array([float(k) for k in by_width])
        e = np.array([np.median(v) for v in by_width.values()])
        slopes[kind] = float(np.polyfit(np.log(w), np.log(e), 1)[0])

    return {
        "section": "figure2",
        "quick": quick,
        "seed": seed,
        "config": cfg,
        "params": params.to_dict(),
        "left": {"alpha": alphas, "exact": exact_left, "finite": left,
                 "max_abs_error": {k: float(np.max(np.abs(v - exact_left))) for k, v in left.items()}},
        "right": {"relative_error": errors, "loglog_slope": slopes},
        "seconds": clock.seconds(),
        "when": stamp(),
        "environment": environment(),
    }
