"""Validation of what the estimator is given besides sequences: targets and precomputed Grams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ._labels import encode_labels

SYMMETRY_RTOL = 1e-10
"""A training Gram may differ from its transpose by at most this times its largest |entry|."""


@dataclass(frozen=True)
class Targets:
    """The regression targets Y of a fit, and for classification the classes and each sequence's code."""

    Y: np.ndarray
    classes: Optional[np.ndarray] = None
    codes: Optional[np.ndarray] = None


def targets(task: str, y: Any, n: int) -> Targets:
    """Regression: y as float64 (N,) or (N, k). Classification: centred one-hot rows of the classes.

    The one-hot rows are 1 − 1/k at the true class and −1/k elsewhere (k classes).
    """
    if task == "classification":
        classes, codes = encode_labels(y, n)
        return Targets(np.eye(len(classes))[codes] - 1.0 / len(classes), classes, codes)
    return Targets(regression_targets(y, n))


def regression_targets(y: Any, n: int) -> np.ndarray:
    """y as a C-contiguous float64 array of shape (n,) or (n, k), finite, or a `ValueError` naming ``y``."""
    try:
        Y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y: regression targets must be numbers ({exc})") from None
    if Y.ndim not in (1, 2):
        raise ValueError(f"y: expected shape (N,) or (N, n_outputs), got {Y.shape}")
    if Y.shape[0] != n:
        raise ValueError(f"y: has {Y.shape[0]} targets but X has {n} sequences")
    if Y.ndim == 2 and Y.shape[1] == 0:
        raise ValueError("y: has no outputs (shape (N, 0))")
    bad = np.flatnonzero(~np.all(np.isfinite(Y.reshape(n, -1)), axis=1))
    if bad.size:
        raise ValueError(f"y: contains NaN or infinite values (first at y[{bad[0]}])")
    return np.ascontiguousarray(Y)


def gram_matrix(K: Any, name: str, rows: Optional[int], cols: Optional[int], what: str) -> np.ndarray:
    """K as a finite float64 array of `rows` × `cols` (None: any count), or a `ValueError` naming `name`.

    `what` says what the matrix must be, for the shape error. Never copies a float64 array.
    """
    try:
        A = np.asarray(K, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: must be a matrix of numbers ({exc})") from None
    if A.ndim != 2 or (rows is not None and A.shape[0] != rows) or (cols is not None and A.shape[1] != cols):
        raise ValueError(f"{name}: expected {what}, got shape {A.shape}")
    if A.shape[0] == 0:
        raise ValueError(f"{name}: has no rows")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return A


def training_gram(K: Any) -> np.ndarray:
    """A square, symmetric, finite float64 training Gram K(X, X), or a `ValueError` naming ``K``."""
    A = gram_matrix(K, "K", None, None, "a square (N, N) training Gram K(X, X)")
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"K: expected a square (N, N) training Gram K(X, X), got shape {A.shape}")
    scale = float(np.max(np.abs(A)))
    if float(np.max(np.abs(A - A.T))) > SYMMETRY_RTOL * scale:
        raise ValueError("K: a training Gram K(X, X) must be symmetric, and this one is not")
    return A


def diagonal(K_diag: Any, m: int) -> np.ndarray:
    """The prior variances K(x*, x*) as a finite float64 (M,) array, or a `ValueError` naming ``K_diag``."""
    try:
        d = np.asarray(K_diag, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"K_diag: must be numbers ({exc})") from None
    if d.shape != (m,):
        raise ValueError(f"K_diag: expected shape ({m},), one K(x*, x*) per row of K, got {d.shape}")
    if not np.all(np.isfinite(d)):
        raise ValueError("K_diag: contains NaN or infinite values")
    return d
