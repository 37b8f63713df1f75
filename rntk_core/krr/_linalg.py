"""Linear algebra of kernel ridge regression: Cholesky solves and exact leave-one-out.

NumPy has a Cholesky factorization but no triangular solve. Solving with the
factor through `numpy.linalg.solve` would run a full LU factorization of the
triangle each time, O(N³) on every prediction; the blocked substitution here
costs O(N²·k) for k right-hand sides, with the work in matrix products, so a
fitted model's posterior variances cost what the products with the training
set cost. SciPy's ``cho_solve`` would do the same in one call; SciPy is not a
dependency of the library.

Leave-one-out residuals for a whole grid of ridges come from one
eigendecomposition K = QΛQᵀ (SPEC §3). With s_j(λ) = λ / (Λ_j + λ),

    y − ŷ = Q diag(s) Qᵀ y        1 − H_ii = Σ_j Q_ij² s_j
    r_i   = (y − ŷ)_i / (1 − H_ii)

both written in terms of s rather than 1 − Λ/(Λ + λ), so that a small ridge
does not lose its digits to cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK = 128
"""Rows per block of the triangular substitutions."""


class NotPositiveDefiniteError(ValueError):
    """The regularised kernel matrix K + λI cannot be factorised by Cholesky."""


def cholesky(K: np.ndarray, ridge: float) -> np.ndarray:
    """Lower Cholesky factor of K + ridge·I, or a `NotPositiveDefiniteError`.

    A factorization that succeeds but whose pivots span more than the float64
    range of a meaningful solve (a condition number of at least 1/(N·eps),
    bounded below by the ratio of the squared extreme pivots) is rejected too:
    a solve with it would return numbers with no correct digits.
    """
    n = K.shape[0]
    A = K.copy()
    A[np.diag_indices(n)] += ridge
    failure = f"ridge: the kernel matrix is not positive definite at ridge={ridge!r}"
    advice = "; use ridge='auto' or a larger ridge"
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise NotPositiveDefiniteError(failure + advice) from None
    pivots = np.diag(L)
    if not np.all(np.isfinite(L)) or (pivots.min() / pivots.max()) ** 2 < n * np.finfo(float).eps:
        raise NotPositiveDefiniteError(
            failure + " (numerically singular: condition number above 1/(N·eps))" + advice
        )
    return np.ascontiguousarray(L)


def solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve L X = B for lower-triangular L by blocked forward substitution."""
    X = np.empty(B.shape)
    for i0 in range(0, L.shape[0], BLOCK):
        i1 = min(i0 + BLOCK, L.shape[0])
        rhs = B[i0:i1] - L[i0:i1, :i0] @ X[:i0]
        X[i0:i1] = np.linalg.solve(L[i0:i1, i0:i1], rhs)
    return X


def solve_upper_transposed(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve Lᵀ X = B for lower-triangular L by blocked back substitution."""
    n = L.shape[0]
    X = np.empty(B.shape)
    for i0 in reversed(range(0, n, BLOCK)):
        i1 = min(i0 + BLOCK, n)
        rhs = B[i0:i1] - L[i1:, i0:i1].T @ X[i1:]
        X[i0:i1] = np.linalg.solve(L[i0:i1, i0:i1].T, rhs)
    return X


def cho_solve(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve (L Lᵀ) X = B given the lower Cholesky factor L; B is (N,) or (N, k)."""
    B2 = B.reshape(B.shape[0], -1)
    X = solve_upper_transposed(L, solve_lower(L, B2))
    return X.reshape(B.shape)


@dataclass(frozen=True)
class Eigen:
    """K = Q diag(values) Qᵀ with the targets rotated once: ``QtY = Qᵀ Y``."""

    values: np.ndarray
    Q: np.ndarray
    Q2: np.ndarray
    QtY: np.ndarray


def eigen(K: np.ndarray, Y: np.ndarray) -> Eigen:
    """Decompose K once for every later leave-one-out evaluation; Y is (N, k)."""
    values, Q = np.linalg.eigh(K)
    return Eigen(values, Q, Q * Q, Q.T @ Y)


def loo_residuals(eig: Eigen, ridge: float) -> np.ndarray:
    """Exact leave-one-out residuals (N, k) of kernel ridge regression at `ridge` > 0.

    Row i is y_i minus the prediction for sequence i of the model fitted on
    all other sequences. Returns all-inf when ridge does not make K + ridge·I
    positive definite (an eigenvalue of K below −ridge).
    """
    shifted = eig.values + ridge
    if ridge <= 0 or shifted.min() <= 0:
        return np.full(eig.QtY.shape, np.inf)
    s = ridge / shifted
    residual = eig.Q @ (s[:, None] * eig.QtY)
    leverage_complement = eig.Q2 @ s
    return residual / leverage_complement[:, None]


def loo_curve(K: np.ndarray, Y: np.ndarray, ridges: np.ndarray, labels: np.ndarray | None = None) -> dict:
    """Mean squared leave-one-out residual for every ridge, from one eigendecomposition.

    Parameters
    ----------
    K : (N, N) kernel matrix
    Y : (N, k) targets
    ridges : (G,) candidate ridges
    labels : (N,) int, optional
        Class index of each sequence (classification): adds the leave-one-out
        accuracy of the argmax of the left-out predictions.

    Returns
    -------
    dict with ``"ridge"`` and ``"loo_mse"`` arrays of shape (G,), and
    ``"loo_accuracy"`` when `labels` is given.
    """
    eig = eigen(K, Y)
    mse = np.empty(len(ridges))
    accuracy = np.empty(len(ridges))
    for j, ridge in enumerate(ridges):
        r = loo_residuals(eig, float(ridge))
        mse[j] = np.mean(r * r)
        if labels is not None:
            accuracy[j] = np.mean(np.argmax(Y - r, axis=1) == labels) if np.isfinite(mse[j]) else np.nan
    curve = {"ridge": np.asarray(ridges, dtype=np.float64).copy(), "loo_mse": mse}
    if labels is not None:
        curve["loo_accuracy"] = accuracy
    return curve


def select_ridge(curve: dict, rtol: float = 1e-9) -> float:
    """The ridge of least LOO error; among ridges within `rtol` of it, the largest.

    When the LOO curve is flat (a well-conditioned kernel, where every small
    ridge interpolates alike) the differences are rounding; the largest such
    ridge gives the best-conditioned system.
    """
    mse = curve["loo_mse"]
    finite = np.isfinite(mse)
    if not finite.any():
        raise NotPositiveDefiniteError(
            "ridge: no ridge on the 'auto' grid makes the kernel matrix positive definite; "
            "pass a larger ridge explicitly"
        )
    best = mse[finite].min()
    candidates = np.flatnonzero(finite & (mse <= best * (1 + rtol)))
    return float(curve["ridge"][candidates[np.argmax(curve["ridge"][candidates])]])
