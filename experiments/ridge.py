"""Kernel ridge regression on a precomputed kernel matrix, for a whole grid of ridges at once.

Cross-validation over ridges needs the solve (K + λI)⁻¹Y for many λ on the
same fold; one eigendecomposition K = QΛQᵀ gives all of them:
ŷ(λ) = K* Q diag(1/(Λ + λ)) QᵀY. The conventions are those of
`rntk_core.KernelRidge`: classification regresses on centred one-hot
targets (1 − 1/k for the true class, −1/k otherwise) and predicts the argmax,
classes in ``numpy.unique`` order; a ridge at which K + λI is numerically
singular (condition number at least 1/(N·eps), the bound `KernelRidge`'s
Cholesky check enforces) is not a candidate.

`fit_predict_kernelridge` runs the project's own `KernelRidge` on a
precomputed matrix (its ``fit_gram`` / ``predict_gram``), for the final fits.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def centred_one_hot(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows 1 − 1/k at the true class and −1/k elsewhere (KernelRidge's classification targets)."""
    return np.eye(n_classes)[codes] - 1.0 / n_classes


def ridge_path(K_train: np.ndarray, K_eval: np.ndarray, Y: np.ndarray, ridges: Sequence[float]) -> np.ndarray:
    """Predictions K_eval (K_train + λI)⁻¹ Y for every λ; NaN rows where λ is not admissible.

    Parameters
    ----------
    K_train : (n, n) symmetric kernel matrix of the training points
    K_eval : (M, n) kernel between evaluation and training points
    Y : (n,) or (n, k) targets
    ridges : absolute ridges λ ≥ 0

    Returns
    -------
    (G, M) or (G, M, k) predictions, G = len(ridges)
    """
    Y2 = np.asarray(Y, dtype=np.float64).reshape(K_train.shape[0], -1)
    values, Q = np.linalg.eigh(K_train)
    B = K_eval @ Q
    QtY = Q.T @ Y2
    n = K_train.shape[0]
    top = max(float(values.max()), 0.0)
    lam = np.asarray(ridges, dtype=np.float64).reshape(-1)
    shifted = values[None, :] + lam[:, None]                      # (G, n)
    low = shifted.min(axis=1)
    admissible = (low > 0) & (low >= n * np.finfo(np.float64).eps * (top + lam))
    shifted = np.where(admissible[:, None], shifted, 1.0)
    out = B @ (QtY[None, :, :] / shifted[:, :, None])             # (G, M, k)
    out[~admissible] = np.nan
    return out.reshape(len(lam), K_eval.shape[0]) if np.ndim(Y) == 1 else out


def fit_predict_kernelridge(
    K_full: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    y_train: np.ndarray,
    ridge: float,
    task: str,
):
    """Fit `rntk_core.KernelRidge` on rows `train` of a precomputed Gram and predict rows `test`.

    `KernelRidge.fit_gram` on ``K_full[train, train]`` and ``predict_gram`` on
    ``K_full[test, train]``: exactly KernelRidge's fit and prediction
    (Cholesky solve, target coding, argmax), on any kernel.
    """
    from rntk_core import KernelRidge

    model = KernelRidge(ridge=float(ridge), task=task)
    model.fit_gram(K_full[np.ix_(train, train)], y_train)
    return model.predict_gram(K_full[np.ix_(test, train)]), model


def cv_ridge_scores(
    K: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    ridges: Sequence[float],
    task: str,
    relative: bool,
    codes: Optional[np.ndarray] = None,
    n_classes: Optional[int] = None,
) -> np.ndarray:
    """Cross-validated score of every ridge: accuracy (classification) or −MSE (regression).

    ``relative=True`` scales the ridges by the mean of the fold's training
    diagonal, so one grid serves kernels of any scale. Inadmissible ridges
    score −inf.
    """
    scores = np.zeros(len(ridges))
    counts = 0
    for train, val in folds:
        Ktr = K[np.ix_(train, train)]
        scale = float(np.mean(np.diag(Ktr))) if relative else 1.0
        lam = np.asarray(ridges, dtype=np.float64) * scale
        if task == "classification":
            Y = centred_one_hot(codes[train], n_classes)
            pred = ridge_path(Ktr, K[np.ix_(val, train)], Y, lam)
            bad = np.isnan(pred).any(axis=(1, 2))
            hit = (np.argmax(np.nan_to_num(pred), axis=2) == codes[val][None, :]).sum(axis=1)
            scores += np.where(bad, -np.inf, hit)
        else:
            pred = ridge_path(Ktr, K[np.ix_(val, train)], y[train], lam)
            bad = np.isnan(pred).any(axis=1)
            sq = ((np.nan_to_num(pred) - y[val][None, :]) ** 2).sum(axis=1)
            scores += np.where(bad, -np.inf, -sq)
        counts += len(val)
    return scores / counts
