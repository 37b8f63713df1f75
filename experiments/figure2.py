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
    "draws": 10,
    "n_signals": 50,
    "length": 5,
}
QUICK = dict(FULL, alphas=37, left_widths=[10, 100], right_widths=[16, 64, 256], draws=2, n_signals=10)


def left_inputs(n_alpha: int):
    alphas = np.linspace(0.0, 2 * math.pi, n_alpha)
    x = np.array([1.0, -1.0, 1.0])
    xp = np.stack([np.cos(alphas), np.sin(alphas)], axis=1)
    return alphas, x, xp


def reference_check(seed: int, width: int = 64) -> float:
    """Largest relative difference between `finite_rnn.ntk` and the one-sequence-at-a-time
    reference ``tests/rntk_core/finite_rnn.py`` on the left panel's inputs, same weights."""
    from tests.rntk_core import finite_rnn as reference

    _, x, xp = left_inputs(9)
    inputs = [x] + list(xp)
    network = reference.draw_network(width, seed, 1, 1, len(inputs))
    expected, _, _ = reference.network_kernels(network, inputs, reference.make_hyper())
    net = finite_rnn.from_reference(network)
    got = finite_rnn.ntk(net, finite_rnn.run(net, x[None, :]), finite_rnn.run(net, xp))[0]
    return float(np.max(np.abs(got - expected[0, 1:])) / np.max(np.abs(expected[0, 1:])))


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
        "reference_check_max_relative_difference": reference_check(seed),
        "seconds": clock.seconds(),
        "when": stamp(),
        "environment": environment(),
    }
