"""The one solver path of kernel ridge regression: a fitted state from a training Gram, outputs from a cross Gram."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from ..params import RNTKParams
from ..sequences import SequenceBatch
from . import _inputs
from . import _linalg as la
from ._labels import as_label_array
from .state import FittedState

AUTO_RIDGE_GRID = np.logspace(-6, 3, 37)
"""Candidate ridges for ``ridge="auto"``, as multiples of the mean of diag(K):
four per decade from 1e-6 to 1e3, so the grid follows the kernel's scale."""


def fit_state(
    K: np.ndarray, t: _inputs.Targets, ridge: Union[float, str], *, params: RNTKParams, kernel: str, task: str,
    X: Optional[SequenceBatch],
) -> FittedState:
    """Solve (K + λI)α = Y by Cholesky, choosing λ by leave-one-out first when `ridge` is ``"auto"``."""
    n = K.shape[0]
    loo = None
    if ridge == "auto":
        loo = _auto_curve(K, t.Y.reshape(n, -1), t.codes)
        ridge = la.select_ridge(loo)
    L = la.cholesky(K, ridge)
    return FittedState(
        params=params, kernel=kernel, task=task, ridge=float(ridge),
        ridge_setting="auto" if loo is not None else float(ridge), dual_coef=la.cho_solve(L, t.Y),
        classes=t.classes, loo_curve=loo, cholesky=L, X=X,
    )


def cross_gram(state: FittedState, K: Any) -> np.ndarray:
    """K as a finite float64 cross Gram K(X*, X) against the training set, or a `ValueError` naming ``K``."""
    n = state.n_train
    return _inputs.gram_matrix(K, "K", None, n, f"a cross Gram K(X*, X) of shape (M, {n})")


def check_std(state: FittedState) -> None:
    """A `ValueError` naming ``return_std`` unless the model has a posterior variance."""
    if state.kernel != "nngp":
        raise ValueError(
            "return_std: the posterior standard deviation is that of a Gaussian process "
            "whose covariance is the NNGP kernel; fit with kernel='nngp' (this model uses "
            f"kernel={state.kernel!r}, whose trained-network variance is not provided)"
        )
    if state.cholesky is None:
        raise ValueError("return_std: this model carries no Cholesky factor to compute variances")


def predictions(state: FittedState, K: np.ndarray, return_std: bool, K_diag: Any):
    """Labels or outputs from a validated cross Gram `K`, with the posterior std when asked."""
    if return_std:
        check_std(state)
    scores = K @ state.dual_coef
    out = scores if state.classes is None else state.classes[np.argmax(scores, axis=1)]
    if not return_std:
        return out
    if K_diag is None:
        raise ValueError("K_diag: return_std needs the prior variances K(x*, x*) (gram_diagonal) of the rows of K")
    prior = _inputs.diagonal(K_diag, K.shape[0])
    v = la.solve_lower(state.cholesky, K.T)
    variance = prior - np.einsum("ij,ij->j", v, v)
    return out, np.sqrt(np.maximum(variance, 0.0))


def score(classes: Optional[np.ndarray], prediction: np.ndarray, y: Any) -> float:
    """Accuracy of predicted labels (`classes` given) or R² averaged over outputs."""
    n = len(prediction)
    if classes is not None:
        labels = as_label_array(y)
        if labels.shape != (n,):
            raise ValueError(f"y: has {len(labels)} labels but X has {n} sequences")
        return float(np.mean(prediction == labels))
    Y = _inputs.regression_targets(y, n).reshape(n, -1)
    residual = ((Y - prediction.reshape(n, -1)) ** 2).sum(axis=0)
    total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    r2 = np.where(total > 0, 1.0 - residual / safe, np.where(residual == 0, 1.0, 0.0))
    return float(np.mean(r2))


def _auto_curve(K: np.ndarray, Y: np.ndarray, codes: Optional[np.ndarray]) -> dict:
    n = K.shape[0]
    if n < 2:
        raise ValueError("ridge: 'auto' uses leave-one-out and needs at least 2 training sequences")
    scale = float(np.mean(np.diag(K)))
    if not scale > 0:
        raise ValueError(
            "ridge: 'auto' scales its grid by the mean of diag(K), which is 0 here; pass a ridge > 0"
        )
    return la.loo_curve(K, Y, AUTO_RIDGE_GRID * scale, labels=codes)
