"""Time-series classification (SPEC §4, the paper's Table 1/Table 2 protocol).

For every dataset: each series is scaled to unit norm; the RNTK sees the
series as they are (any length), the fixed-length kernels (MLP-NTK, RBF,
polynomial) see them flattened and, where lengths differ, zero-padded at the
end. Each kernel is used by a C-SVM on the precomputed kernel
(scikit-learn's ``SVC(kernel="precomputed")``, one-vs-one) and by kernel
ridge classification (`rntk_core.KernelRidge`: centred one-hot targets,
argmax). Every hyperparameter, the SVM's C and the ridge included, is chosen
by stratified 10-fold cross-validation on the training set alone; the
highest mean CV accuracy wins, and ties go to the most regularised candidate
(smallest C, largest λ), then to the first kernel configuration in grid order
(grids ascending). The chosen model is refitted on the whole training set and
scored once on the test set.

Each kernel hyperparameter's Gram matrix is computed once for train and test
sequences together and sliced for the folds: the training block of
``gram(train + test)`` is exactly ``gram(train)`` and its test rows are
exactly ``gram(test, train)``.

Because the training sets are small (40–270 series), many configurations tie
on CV accuracy; the results therefore also give the spread of test accuracy
over the tied configurations, and the best test accuracy anywhere on the
grid (an oracle, which no valid protocol could report as its result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from rntk_core import RNTKParams, gram
from rntk_core.datasets import load_ts, unit_norm

from . import kernels
from .common import DATA, Stopwatch, environment, progress, rntk_grid, section_seed, stamp
from .ridge import centred_one_hot, cv_ridge_scores, fit_predict_kernelridge, ridge_path

DATASETS = ("GunPoint", "ItalyPowerDemand", "BasicMotions", "JapaneseVowels")

PAPER_ACCURACY = {"GunPoint": {"RNTK": 98.00, "MLP-NTK": 95.33, "RBF": 95.33, "Polynomial": 94.00}}
"""Test accuracies (%) of the paper's Table 2 (C-SVM); the paper reports none of the other three datasets."""

KERNELS = ("RNTK", "MLP-NTK", "RBF", "Polynomial")

SQRT2 = math.sqrt(2.0)

FULL_GRID = {
    "svm_C": [0.01, 0.1, 1.0, 10.0, 100.0],
    "krr_ridge_relative": [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
    "RNTK": {
        "sigma_w": sorted([1.34, 1.35, 1.36, 1.37, 1.38, 1.39, 1.40, 1.41, SQRT2, 1.42,
                           1.43, 1.44, 1.45, 1.46, 1.47]),
        "sigma_u": [1.0],
        "sigma_b": [0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.0, 2.0],
        "sigma_h": [0.0, 0.01, 0.1, 0.5, 1.0],
    },
    "MLP-NTK": {
        "sigma_w": [0.5, 1.0, SQRT2, 2.0, 2.5, 3.0],
        "sigma_b": [0.0, 0.01, 0.1, 0.2, 0.5, 0.8, 1.0, 2.0, 5.0],
        "n_layers": list(range(1, 11)),
    },
    "RBF": {"alpha": [0.01, 0.05, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 1, 2, 3, 4, 5, 10, 20, 30, 40, 100]},
    "Polynomial": {"degree": [1, 2, 3, 4, 5], "offset": [0.0, 0.1, 0.2, 0.5, 1.0, 2.0]},
}
"""The paper's grids (Appendix A) for every kernel and C; the KRR ridge grid is this project's
(λ as a multiple of the mean of the fold's training diagonal, so one grid fits every kernel's scale)."""

QUICK_GRID = {
    "svm_C": [1.0, 100.0],
    "krr_ridge_relative": [1e-3, 1e-1],
    "RNTK": {"sigma_w": [SQRT2], "sigma_u": [1.0], "sigma_b": [0.0, 0.1], "sigma_h": [0.0]},
    "MLP-NTK": {"sigma_w": [SQRT2], "sigma_b": [0.1], "n_layers": [1, 3]},
    "RBF": {"alpha": [0.1, 1.0]},
    "Polynomial": {"degree": [1, 3], "offset": [1.0]},
}
"""A tiny grid that runs the whole pipeline in seconds (``--quick``); its numbers mean nothing."""

N_FOLDS = 10


@dataclass
class Data:
    """One dataset: unit-norm series, labels as codes, and the train/test index sets."""

    name: str
    series: list
    codes: np.ndarray
    classes: np.ndarray
    train: np.ndarray
    test: np.ndarray
    lengths: tuple
    dims: int
    flat: np.ndarray = field(repr=False, default=None)


def load(name: str, quick: bool = False) -> Data:
    """Read a dataset's train and test files; with `quick`, keep a small stratified subset."""
    Xtr, ytr = load_ts(DATA / name / f"{name}_TRAIN.ts")
    Xte, yte = load_ts(DATA / name / f"{name}_TEST.ts")
    if quick:
        keep = np.sort(np.random.default_rng(0).permutation(len(Xte))[:60])
        Xte, yte = [Xte[i] for i in keep], yte[keep]
    series = unit_norm(Xtr + Xte)
    labels = np.concatenate([ytr, yte])
    classes, codes = np.unique(labels, return_inverse=True)
    n = len(Xtr)
    lengths = tuple(sorted({s.shape[0] for s in series}))
    data = Data(name, series, codes, classes, np.arange(n), np.arange(n, len(series)),
                lengths, series[0].shape[1])
    data.flat = kernels.pad(series, where="post")
    return data


def stratified_folds(codes: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified K-fold splits of the training indices (scikit-learn's StratifiedKFold, shuffled)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, va) for tr, va in splitter.split(np.zeros(len(codes)), codes)]


# kernel families: each yields (hyperparameters, full Gram) in grid order


def rntk_family(data: Data, grid: dict) -> Iterator[tuple[dict, np.ndarray]]:
    for hyper, params in rntk_grid(grid):
        yield hyper, gram(data.series, params=params)


def mlp_family(data: Data, grid: dict) -> Iterator[tuple[dict, np.ndarray]]:
    inner = data.flat @ data.flat.T
    for sw in grid["sigma_w"]:
        for sb in grid["sigma_b"]:
            by_depth = kernels.mlp_ntk(data.flat, sigma_w=sw, sigma_b=sb, depths=grid["n_layers"], inner=inner)
            for depth in grid["n_layers"]:
                yield {"sigma_w": sw, "sigma_b": sb, "n_layers": depth}, by_depth[depth]


def rbf_family(data: Data, grid: dict) -> Iterator[tuple[dict, np.ndarray]]:
    sq = kernels.squared_distances(data.flat)
    for alpha in grid["alpha"]:
        yield {"alpha": alpha}, kernels.rbf(data.flat, alpha=alpha, sq=sq)


def poly_family(data: Data, grid: dict) -> Iterator[tuple[dict, np.ndarray]]:
    inner = data.flat @ data.flat.T
    for degree in grid["degree"]:
        for offset in grid["offset"]:
            yield {"degree": degree, "offset": offset}, kernels.polynomial(
                data.flat, degree=degree, offset=offset, inner=inner)


FAMILIES: dict[str, Callable] = {
    "RNTK": rntk_family, "MLP-NTK": mlp_family, "RBF": rbf_family, "Polynomial": poly_family,
}


def grid_size(grid: dict) -> int:
    return int(np.prod([len(v) for v in grid.values()]))


# evaluation of one Gram


def svm_scores(K: np.ndarray, data: Data, folds, Cs) -> tuple[np.ndarray, np.ndarray]:
    """CV accuracy and test accuracy of the precomputed-kernel C-SVM for every C."""
    from sklearn.svm import SVC

    y = data.codes
    tr, te = data.train, data.test
    cv = np.zeros(len(Cs))
    test = np.zeros(len(Cs))
    for j, C in enumerate(Cs):
        hits = 0
        for f_tr, f_va in folds:
            a, b = tr[f_tr], tr[f_va]
            model = SVC(kernel="precomputed", C=C).fit(K[np.ix_(a, a)], y[a])
            hits += int(np.sum(model.predict(K[np.ix_(b, a)]) == y[b]))
        cv[j] = hits / len(tr)
        model = SVC(kernel="precomputed", C=C).fit(K[np.ix_(tr, tr)], y[tr])
        test[j] = float(np.mean(model.predict(K[np.ix_(te, tr)]) == y[te]))
    return cv, test


def krr_scores(K: np.ndarray, data: Data, folds, ridges) -> tuple[np.ndarray, np.ndarray]:
    """CV accuracy and test accuracy of kernel ridge classification for every relative ridge."""
    y = data.codes
    tr, te = data.train, data.test
    k = len(data.classes)
    Ktr = K[np.ix_(tr, tr)]
    cv = cv_ridge_scores(Ktr, folds, None, ridges, "classification", relative=True,
                         codes=y[tr], n_classes=k)
    lam = np.asarray(ridges) * float(np.mean(np.diag(Ktr)))
    pred = ridge_path(Ktr, K[np.ix_(te, tr)], centred_one_hot(y[tr], k), lam)
    bad = np.isnan(pred).any(axis=(1, 2))
    test = np.where(bad, np.nan, np.mean(np.argmax(np.nan_to_num(pred), axis=2) == y[te][None, :], axis=1))
    return cv, test


def _select(configs: list[dict], cv: np.ndarray, test: np.ndarray, second: list, second_name: str,
            prefer_large: bool) -> dict:
    """Pick a configuration of highest CV accuracy; describe the ties and the grid's best test score.

    Among tied candidates the most regularised wins (the smallest C, or the
    largest λ with ``prefer_large``), then the first kernel configuration in
    grid order: `rntk_core.KernelRidge` breaks ties between ridges the same way.
    """
    flat_cv = cv.reshape(-1)
    flat_test = test.reshape(-1)
    best = np.nanmax(flat_cv)
    tied = np.flatnonzero(flat_cv >= best - 1e-12)
    rows, cols = np.divmod(tied, cv.shape[1])
    col = cols.max() if prefer_large else cols.min()
    pick = int(tied[np.flatnonzero(cols == col)[0]])
    i, j = divmod(pick, cv.shape[1])
    tied_test = flat_test[tied]
    tied_test = tied_test[np.isfinite(tied_test)]
    return {
        "hyperparameters": dict(configs[i], **{second_name: second[j]}),
        "cv_accuracy": float(flat_cv[pick]),
        "test_accuracy": float(flat_test[pick]),
        "n_tied": int(len(tied)),
        "tied_test_min": float(np.min(tied_test)),
        "tied_test_median": float(np.median(tied_test)),
        "tied_test_max": float(np.max(tied_test)),
        "grid_best_test": float(np.nanmax(flat_test)),
        "n_candidates": int(np.isfinite(flat_cv).sum()),
        "_config_index": i,
    }


def run_dataset(name: str, grid: dict, seed: int, quick: bool) -> dict:
    """All four kernels with both classifiers on one dataset."""
    clock = Stopwatch()
    data = load(name, quick)
    folds = stratified_folds(data.codes[data.train], N_FOLDS, seed)
    result = {
        "n_train": int(len(data.train)), "n_test": int(len(data.test)),
        "n_classes": int(len(data.classes)), "dims": int(data.dims),
        "lengths": [int(min(data.lengths)), int(max(data.lengths))],
        "padded": len(data.lengths) > 1, "kernels": {}, "seconds": {},
    }
    for kernel in KERNELS:
        kclock = Stopwatch()
        configs, svm_cv, svm_test, krr_cv, krr_test = [], [], [], [], []
        family = FAMILIES[kernel](data, grid[kernel])
        for hyper, K in progress(family, total=grid_size(grid[kernel]), desc=f"{name} {kernel}"):
            configs.append(hyper)
            cv, te = svm_scores(K, data, folds, grid["svm_C"])
            svm_cv.append(cv)
            svm_test.append(te)
            cv, te = krr_scores(K, data, folds, grid["krr_ridge_relative"])
            krr_cv.append(cv)
            krr_test.append(te)
        svm = _select(configs, np.array(svm_cv), np.array(svm_test), grid["svm_C"], "C", prefer_large=False)
        krr = _select(configs, np.array(krr_cv), np.array(krr_test), grid["krr_ridge_relative"], "ridge_relative",
                      prefer_large=True)
        krr.update(_final_kernelridge(kernel, data, grid, configs[krr.pop("_config_index")], krr))
        svm.pop("_config_index")
        result["kernels"][kernel] = {"svm": svm, "krr": krr, "n_configs": len(configs)}
        result["seconds"][kernel] = kclock.seconds()
    result["seconds"]["total"] = clock.seconds()
    return result


def _final_kernelridge(kernel: str, data: Data, grid: dict, hyper: dict, chosen: dict) -> dict:
    """Refit the chosen KRR configuration with `rntk_core.KernelRidge` and score it on the test set.

    The RNTK goes through KernelRidge with its own parameters (its Gram
    computed by `rntk_core.gram`); the other kernels through its precomputed
    mode (``fit_gram`` / ``predict_gram``) on their matrices. The accuracy
    reported is KernelRidge's; the agreement with the eigendecomposition path
    used for CV is recorded.
    """
    from rntk_core import KernelRidge

    sub = {k: [v] for k, v in hyper.items()}
    _, K = next(iter(FAMILIES[kernel](data, dict(grid[kernel], **sub))))
    tr, te = data.train, data.test
    lam = chosen["hyperparameters"]["ridge_relative"] * float(np.mean(np.diag(K[np.ix_(tr, tr)])))
    y_train = data.classes[data.codes[tr]]
    try:
        if kernel == "RNTK":
            params = RNTKParams(**{k: hyper[k] for k in ("sigma_w", "sigma_u", "sigma_b", "sigma_h")})
            model = KernelRidge(params=params, ridge=lam, task="classification")
            model.fit([data.series[i] for i in tr], y_train)
            predicted = model.predict([data.series[i] for i in te])
        else:
            predicted, _ = fit_predict_kernelridge(K, tr, te, y_train, lam, "classification")
    except ValueError as exc:
        return {"kernelridge_error": str(exc)}
    accuracy = float(np.mean(predicted == data.classes[data.codes[te]]))
    return {
        "ridge_absolute": lam,
        "test_accuracy": accuracy,
        "cv_path_test_accuracy": chosen["test_accuracy"],
        "kernelridge_agrees": bool(abs(accuracy - chosen["test_accuracy"]) < 1e-12),
    }


def run(quick: bool = False) -> dict:
    """The classification section: every dataset, every kernel, both classifiers."""
    clock = Stopwatch()
    grid = QUICK_GRID if quick else FULL_GRID
    seed = section_seed("classification")
    results = {}
    for name in progress(DATASETS, desc="classification datasets", leave=True):
        results[name] = run_dataset(name, grid, seed, quick)
    return {
        "section": "classification",
        "quick": quick,
        "seed": seed,
        "cv": f"stratified {N_FOLDS}-fold (sklearn StratifiedKFold, shuffle=True, random_state={seed}), "
              "same folds for every kernel and classifier",
        "grid": grid,
        "grid_sizes": {k: grid_size(grid[k]) for k in KERNELS},
        "paper": PAPER_ACCURACY,
        "datasets": results,
        "seconds": clock.seconds(),
        "when": stamp(),
        "environment": environment(),
    }
