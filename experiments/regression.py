"""Variable-length regression: next-sample prediction from windows of varying length (Figure 4).

Sinusoid (SPEC §4, the paper's Figure 4a). One period of a sinusoid sampled
1000 times, plus white Gaussian noise of σn = 0.05, drawn afresh for every
repetition. 20 training and 5000 test windows are cut from it at uniformly
random positions, each of a uniformly random length in [10, 10 + Tvar]; the
target of a window is the (noisy) sample that follows it.

Airline. The monthly passenger series (144 months). Training windows lie in
the first 70% (months 1–101, the target included), test windows entirely
after them (months 102–144): every window of every allowed length there, so
for each Tvar the test set is fixed and only the training draw varies. Lengths are in
[6, 6 + Tvar]. Each window is divided by its own last value and its target
becomes the ratio next/last (the series grows fourfold over the 12 years and
test months lie above every training month; the ratio is scale-free), and
predictions are multiplied back before scoring.

Every kernel is used by kernel ridge regression. Its ridge λ, from the
paper's grid {0, 0.01, 0.1, 0.2 … 0.8, 1, 2 … 8, 10, 100}, and its kernel
hyperparameters, from the classification experiments' grids (Appendix A;
for the RNTK with σw extended downwards, see `REGRESSION_RNTK_GRID`), are
chosen together by 5-fold cross-validation on the training windows (least
mean squared validation error; ties to the first in grid order). The RNTK
restricted to the paper's σw range is reported beside it. The RNTK reads every window at its own length; the RBF, polynomial
and MLP-NTK kernels see windows zero-padded to the longest possible length
10 + Tvar (6 + Tvar), in two ways: zeros before the window (its last sample
aligned with every other window's last sample, the alignment the RNTK itself
uses) or after it (its first sample aligned). The previous-time-step
predictor (PTS) predicts the last sample of the window. The score is the
prediction SNR 10·log10(Σy² / Σ(y − ŷ)²) in dB over the test windows.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np

from rntk_core import KernelRidge, RNTKParams, gram
from rntk_core.datasets import load_csv_series

from . import kernels
from .classification import FULL_GRID as CLASSIFICATION_GRID
from .common import DATA, Stopwatch, environment, progress, rntk_grid, section_seed, snr_db, stamp
from .ridge import cv_ridge_scores, ridge_path

RIDGES = [0.0, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 100.0]
"""The paper's ridge grid (Appendix A.2), its repeated 0.8 listed once."""

PADDINGS = ("pre", "post")
PADDED_KERNELS = ("MLP-NTK", "RBF", "Polynomial")

PAPER_RNTK_SIGMA_W = CLASSIFICATION_GRID["RNTK"]["sigma_w"]
PAPER_RNTK = "RNTK (σw ∈ [1.34, 1.47] only)"
"""The RNTK restricted to the paper's classification range of σw, reported beside the full choice."""

REGRESSION_RNTK_GRID = dict(CLASSIFICATION_GRID["RNTK"],
                            sigma_w=[0.5, 0.75, 1.0, 1.2] + CLASSIFICATION_GRID["RNTK"]["sigma_w"])
"""The paper's RNTK grid with σw extended downwards. σw sets how fast the RNTK forgets old steps
(Figure 3: for ReLU each step scales the weight of the older ones by σw²·V', V' ≤ 1/2), and next-step
prediction needs a short memory; the paper's range 1.34–1.47 was tuned for classifying whole series
(its Appendix A.2 says only that the regression used the same hyperparameter sets for all kernels).
The baselines keep their (already wide) paper grids."""

FULL = {
    "sinusoid": {"tvar": [0, 10, 20, 30, 50, 75, 100], "repetitions": 20, "n_train": 20, "n_test": 5000,
                 "n_samples": 1000, "noise": 0.05, "t_fixed": 10},
    "airline": {"tvar": [0, 6, 12, 18, 24, 30], "repetitions": 20, "n_train": 20, "t_fixed": 6,
                "train_fraction": 0.7},
    "grid": dict({k: CLASSIFICATION_GRID[k] for k in ("MLP-NTK", "RBF", "Polynomial")}, RNTK=REGRESSION_RNTK_GRID),
    "ridges": RIDGES,
    "n_folds": 5,
}

QUICK = {
    "sinusoid": dict(FULL["sinusoid"], tvar=[0, 30], repetitions=2, n_test=500),
    "airline": dict(FULL["airline"], tvar=[0, 12], repetitions=2),
    "grid": {
        "RNTK": {"sigma_w": [1.0, math.sqrt(2)], "sigma_u": [1.0], "sigma_b": [0.0, 0.1], "sigma_h": [0.0]},
        "MLP-NTK": {"sigma_w": [math.sqrt(2)], "sigma_b": [0.1], "n_layers": [1, 2]},
        "RBF": {"alpha": [0.1, 1.0]},
        "Polynomial": {"degree": [1, 2], "offset": [1.0]},
    },
    "ridges": [0.01, 0.1, 1.0],
    "n_folds": 5,
}


# tasks: lists of windows (1-D arrays), their targets, and how to map predictions back


class Task:
    """Training and test windows of one draw, in the space the kernels see."""

    def __init__(self, train_x, train_y, test_x, test_y, max_length, test_scale=None, score_target=None):
        self.train_x = train_x
        self.train_y = np.asarray(train_y, dtype=np.float64)
        self.test_x = test_x
        self.test_y = np.asarray(test_y, dtype=np.float64)
        self.max_length = max_length
        self.test_scale = np.ones(len(test_x)) if test_scale is None else np.asarray(test_scale)
        self.score_target = self.test_y * self.test_scale if score_target is None else np.asarray(score_target)

    def score(self, prediction: np.ndarray) -> float:
        """SNR (dB) of predictions made in the kernels' space, mapped back to the data's scale."""
        return snr_db(self.score_target, np.asarray(prediction) * self.test_scale)


def sinusoid_task(rng: np.random.Generator, tvar: int, cfg: dict) -> tuple[Task, np.ndarray]:
    """One draw of the sinusoid protocol; also returns the noise-free targets of the test windows."""
    n = cfg["n_samples"]
    clean = np.sin(2 * np.pi * np.arange(n) / n)
    noisy = clean + cfg["noise"] * rng.standard_normal(n)

    def windows(count):
        lengths = rng.integers(cfg["t_fixed"], cfg["t_fixed"] + tvar + 1, size=count)
        starts = rng.integers(0, n - lengths)
        xs = [noisy[s:s + L] for s, L in zip(starts, lengths)]
        return xs, noisy[starts + lengths], clean[starts + lengths]

    train_x, train_y, _ = windows(cfg["n_train"])
    test_x, test_y, test_clean = windows(cfg["n_test"])
    return Task(train_x, train_y, test_x, test_y, cfg["t_fixed"] + tvar), test_clean


def airline_series() -> np.ndarray:
    return load_csv_series(DATA / "Airline" / "Airline.csv")


def airline_task(rng: np.random.Generator, tvar: int, cfg: dict, series: np.ndarray) -> Task:
    """One training draw of the Airline protocol (the test windows are always all of them)."""
    split = int(round(cfg["train_fraction"] * len(series)))
    lo, hi = cfg["t_fixed"], cfg["t_fixed"] + tvar
    lengths = rng.integers(lo, hi + 1, size=cfg["n_train"])
    starts = rng.integers(0, split - lengths)
    train = [(s, L) for s, L in zip(starts, lengths)]
    test = [(s, L) for L in range(lo, hi + 1) for s in range(split, len(series) - L)]

    def prepare(pairs):
        xs, ys, last = [], [], []
        for s, L in pairs:
            window = series[s:s + L]
            xs.append(window / window[-1])
            ys.append(series[s + L] / window[-1])
            last.append(window[-1])
        return xs, np.array(ys), np.array(last)

    train_x, train_y, _ = prepare(train)
    test_x, test_y, test_last = prepare(test)
    return Task(train_x, train_y, test_x, test_y, hi, test_scale=test_last)


# kernels: each family yields (hyperparameters, train Gram, a function giving the test Gram)


def rntk_family(task: Task, grid: dict, padding=None) -> Iterator:
    for hyper, params in rntk_grid(grid):
        yield hyper, gram(task.train_x, params=params), lambda p=params: gram(task.test_x, task.train_x, params=p)


def _flat(task: Task, padding: str):
    return (kernels.pad(task.train_x, task.max_length, padding),
            kernels.pad(task.test_x, task.max_length, padding))


def mlp_family(task: Task, grid: dict, padding: str) -> Iterator:
    Xtr, Xte = _flat(task, padding)
    for sw in grid["sigma_w"]:
        for sb in grid["sigma_b"]:
            by_depth = kernels.mlp_ntk(Xtr, sigma_w=sw, sigma_b=sb, depths=grid["n_layers"])
            for depth in grid["n_layers"]:
                yield ({"sigma_w": sw, "sigma_b": sb, "n_layers": depth}, by_depth[depth],
                       lambda sw=sw, sb=sb, d=depth: kernels.mlp_ntk(Xte, Xtr, sigma_w=sw, sigma_b=sb, depths=[d])[d])


def rbf_family(task: Task, grid: dict, padding: str) -> Iterator:
    Xtr, Xte = _flat(task, padding)
    sq = kernels.squared_distances(Xtr)
    for alpha in grid["alpha"]:
        yield {"alpha": alpha}, kernels.rbf(Xtr, alpha=alpha, sq=sq), lambda a=alpha: kernels.rbf(Xte, Xtr, alpha=a)


def poly_family(task: Task, grid: dict, padding: str) -> Iterator:
    Xtr, Xte = _flat(task, padding)
    inner = Xtr @ Xtr.T
    for d in grid["degree"]:
        for r in grid["offset"]:
            yield ({"degree": d, "offset": r}, kernels.polynomial(Xtr, degree=d, offset=r, inner=inner),
                   lambda d=d, r=r: kernels.polynomial(Xte, Xtr, degree=d, offset=r))


FAMILIES: dict[str, Callable] = {
    "RNTK": rntk_family, "MLP-NTK": mlp_family, "RBF": rbf_family, "Polynomial": poly_family,
}


def kfold(n: int, n_folds: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled K-fold splits of n training windows."""
    order = rng.permutation(n)
    parts = np.array_split(order, n_folds)
    return [(np.sort(np.concatenate(parts[:k] + parts[k + 1:])), np.sort(parts[k])) for k in range(n_folds)]


def evaluate(task: Task, family: Callable, grid: dict, ridges, folds, padding=None) -> list[tuple]:
    """CV score of every (kernel hyperparameters, λ): a list of (hyperparameters, K, test-Gram function, scores)."""
    return [(hyper, K, cross, cv_ridge_scores(K, folds, task.train_y, ridges, "regression", relative=False))
            for hyper, K, cross in family(task, grid, padding)]


def choose(task: Task, candidates: list[tuple], ridges) -> dict:
    """The candidate of least CV error (first in grid order on ties), refitted on all training windows."""
    best, best_score = None, -np.inf
    for hyper, K, cross, scores in candidates:
        j = int(np.argmax(scores))
        if np.isfinite(scores[j]) and (best is None or scores[j] > best_score + 1e-15 * abs(best_score)):
            best, best_score = (hyper, K, cross, ridges[j]), scores[j]
    if best is None:
        return {"prediction": np.full(len(task.test_x), np.nan), "hyperparameters": None, "cv_mse": None}
    hyper, K, cross, ridge = best
    prediction = ridge_path(K, cross(), task.train_y, [ridge])[0]
    return {"prediction": prediction, "hyperparameters": dict(hyper, ridge=ridge), "cv_mse": -best_score}


def run_draw(task: Task, cfg: dict, rng: np.random.Generator) -> dict:
    """Every method on one draw: predictions in the kernels' space and chosen hyperparameters."""
    folds = kfold(len(task.train_x), cfg["n_folds"], rng)
    out = {"PTS": {"prediction": np.array([x[-1] for x in task.test_x]), "hyperparameters": None}}
    rntk = evaluate(task, rntk_family, cfg["grid"]["RNTK"], cfg["ridges"], folds)
    out["RNTK"] = choose(task, rntk, cfg["ridges"])
    low = min(PAPER_RNTK_SIGMA_W)
    out[PAPER_RNTK] = choose(task, [c for c in rntk if c[0]["sigma_w"] >= low - 1e-12], cfg["ridges"])
    for kernel in PADDED_KERNELS:
        for padding in PADDINGS:
            candidates = evaluate(task, FAMILIES[kernel], cfg["grid"][kernel], cfg["ridges"], folds, padding)
            out[f"{kernel} ({padding}-padded)"] = choose(task, candidates, cfg["ridges"])
    return out


def _kernelridge_check(task: Task, rntk: dict) -> float:
    """Largest |difference| between the RNTK predictions and `rntk_core.KernelRidge`'s with the same choice."""
    h = dict(rntk["hyperparameters"])
    ridge = h.pop("ridge")
    try:
        model = KernelRidge(params=RNTKParams(**h), ridge=ridge).fit(task.train_x, task.train_y)
    except ValueError:
        return float("nan")
    scale = max(float(np.max(np.abs(rntk["prediction"]))), 1e-300)
    return float(np.max(np.abs(model.predict(task.test_x) - rntk["prediction"])) / scale)


def run_protocol(name: str, cfg: dict, seed: int) -> dict:
    """All Tvar values and repetitions of one protocol ("sinusoid" or "airline")."""
    clock = Stopwatch()
    pcfg = cfg[name]
    series = airline_series() if name == "airline" else None
    methods = None
    snr, snr_clean, chosen, checks = {}, {}, {}, []
    steps = [(tvar, rep) for tvar in pcfg["tvar"] for rep in range(pcfg["repetitions"])]
    for tvar, rep in progress(steps, desc=f"regression {name}", leave=True):
        rng = np.random.default_rng([seed, int(tvar), rep])
        if name == "sinusoid":
            task, test_clean = sinusoid_task(rng, tvar, pcfg)
        else:
            task, test_clean = airline_task(rng, tvar, pcfg, series), None
        draw = run_draw(task, cfg, rng)
        if methods is None:
            methods = list(draw)
            snr = {m: {str(t): [] for t in pcfg["tvar"]} for m in methods}
            snr_clean = {m: {str(t): [] for t in pcfg["tvar"]} for m in methods}
            chosen = {m: {str(t): [] for t in pcfg["tvar"]} for m in methods if m != "PTS"}
        for method, res in draw.items():
            snr[method][str(tvar)].append(task.score(res["prediction"]))
            if test_clean is not None:
                snr_clean[method][str(tvar)].append(snr_db(test_clean, res["prediction"]))
            if method != "PTS":
                chosen[method][str(tvar)].append(res["hyperparameters"])
        if rep == 0:
            checks.append({"tvar": tvar, "max_relative_difference": _kernelridge_check(task, draw["RNTK"])})
    result = {
        "config": pcfg,
        "methods": methods,
        "snr_db": snr,
        "summary": summarise(snr, pcfg["tvar"]),
        "chosen": chosen,
        "kernelridge_check": checks,
        "seconds": clock.seconds(),
    }
    if name == "sinusoid":
        result["snr_db_clean_target"] = snr_clean
        result["summary_clean_target"] = summarise(snr_clean, pcfg["tvar"])
    return result


def summarise(snr: dict, tvars) -> dict:
    """Median, quartiles, mean and standard deviation of the SNR per method and Tvar."""
    out = {}
    for method, by_t in snr.items():
        out[method] = {}
        for t in tvars:
            v = np.array([x for x in by_t[str(t)] if x is not None and np.isfinite(x)])
            if v.size == 0:
                continue
            out[method][str(t)] = {
                "median": float(np.median(v)), "q25": float(np.percentile(v, 25)),
                "q75": float(np.percentile(v, 75)), "mean": float(np.mean(v)), "std": float(np.std(v)),
                "n": int(v.size),
            }
    return out


def run(quick: bool = False) -> dict:
    """The regression section: the sinusoid and the Airline protocols.

    Its Grams are tiny (20 windows), so the RNTK core runs on one thread:
    starting Numba's parallel region costs more than the work, tenfold more
    when the other core is busy. One thread changes no result.
    """
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return _run(quick)
    finally:
        numba.set_num_threads(threads)


def _run(quick: bool) -> dict:
    clock = Stopwatch()
    cfg = QUICK if quick else FULL
    seed = section_seed("regression")
    return {
        "section": "regression",
        "quick": quick,
        "seed": seed,
        "seed_rule": "each (Tvar, repetition) draws from numpy.random.default_rng([seed, Tvar, repetition])",
        "grid": cfg["grid"],
        "ridges": cfg["ridges"],
        "n_folds": cfg["n_folds"],
        "sinusoid": run_protocol("sinusoid", cfg, seed),
        "airline": run_protocol("airline", cfg, seed + 1),
        "seconds": clock.seconds(),
        "when": stamp(),
        "environment": environment(),
    }
