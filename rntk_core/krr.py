"""Kernel ridge regression with the RNTK or NNGP kernel (SPEC §3).

The predictions of an infinitely wide RNN trained by gradient flow on the
squared loss with ridge λ are f(X*) = Θ(X*, X)(Θ(X, X) + λI)⁻¹Y; with the
NNGP kernel the same formula is a Gaussian-process posterior mean, which also
has a posterior variance.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _krr_linalg as la
from ._krr_linalg import NotPositiveDefiniteError
from .gram import gram, gram_diagonal
from .params import RNTKParams
from .sequences import as_sequences

TASKS = ("regression", "classification")
KERNELS = ("ntk", "nngp")

AUTO_RIDGE_GRID = np.logspace(-6, 3, 37)
"""Candidate ridges for ``ridge="auto"``, as multiples of the mean of diag(K):
four per decade from 1e-6 to 1e3, so the grid follows the kernel's scale."""

GramFn = Callable[..., Any]
"""``gram_fn(X, Z=None, *, params, output)``, with the semantics of `rntk_core.gram`."""

__all__ = ["KernelRidge", "NotFittedError", "NotPositiveDefiniteError", "AUTO_RIDGE_GRID"]


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before `fit`."""


class KernelRidge:
    """Kernel ridge regression and classification with the RNTK or the NNGP kernel.

    Fits f(X*) = K(X*, X)(K(X, X) + λI)⁻¹Y, solved with a Cholesky
    factorization. For classification Y holds centred one-hot targets
    (1 − 1/k for the true class, −1/k for the others, k classes): the
    zero-mean targets of NNGP/NTK classification as regression (Lee et al.
    2018; Arora et al. 2019), matching the zero-mean prior of the Gaussian
    process. Any affine recoding of one-hot targets gives the same argmax;
    centring makes the automatic ridge fit the class contrasts rather than
    the constant 1/k.

    Parameters
    ----------
    params : RNTKParams, optional
        Kernel hyperparameters; ``None`` means ``RNTKParams()``.
    ridge : float >= 0 or "auto", default "auto"
        The ridge λ. ``"auto"`` picks it by exact leave-one-out over
        `AUTO_RIDGE_GRID` times the mean of diag(K), all from one
        eigendecomposition of K; the least mean squared LOO residual wins.
        ``0`` is allowed when K itself is positive definite.
    kernel : "ntk" or "nngp", default "ntk"
        Θ, the trained-network kernel, or K, the Gaussian-process covariance
        (needed for ``predict(..., return_std=True)``).
    task : "regression" or "classification", default "regression"
        Regression takes y of shape (N,) or (N, n_outputs) of numbers;
        classification takes N hashable labels and predicts labels.
    gram_fn : callable, optional
        Computes every Gram matrix of `fit` and `predict` in place of
        `rntk_core.gram`, with its signature ``gram_fn(X, Z=None, *, params,
        output)``: a caller that caches Gram blocks supplies its own. Not
        part of a saved model.

    Attributes
    ----------
    X_fit_ : list of (T_i, m) float64 arrays
        The validated training sequences; every prediction needs them.
    dual_coef_ : ndarray of shape (N,) or (N, n_outputs)
        α = (K + λI)⁻¹Y. Classification: (N, n_classes).
    classes_ : ndarray of shape (n_classes,) or None
        Sorted distinct labels (``numpy.unique`` order; first-seen order when
        they do not sort); column j of `decision_function` scores
        ``classes_[j]``. None for regression. Labels are kept exactly as
        given: an object array holds them where a NumPy dtype would change
        one (trailing NULs of fixed-width strings, ints beyond int64, a mix of
        types).
    ridge_ : float
        The ridge used, chosen or given.
    loo_curve_ : dict or None
        With ``ridge="auto"``: ``"ridge"`` (the absolute grid), ``"loo_mse"``
        (mean squared LOO residual over sequences and outputs) and, for
        classification, ``"loo_accuracy"``; arrays of the grid's length.
        None when the ridge was given.
    params_ : RNTKParams
        The hyperparameters used.
    cholesky_ : ndarray of shape (N, N) or None
        Lower Cholesky factor of K + λI, kept for posterior variances.
        None for an NTK model loaded from a payload (it has no variance).

    Examples
    --------
    >>> import numpy as np
    >>> from rntk_core import KernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(int(t), 2)) for t in rng.integers(5, 15, size=30)]
    >>> y = np.array([s[:, 0].sum() > 0 for s in X])
    >>> model = KernelRidge(task="classification").fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> mean, std = KernelRidge(kernel="nngp", ridge=1e-3).fit(X, y * 1.0).predict(X[:3], return_std=True)
    """

    def __init__(
        self,
        params: Optional[RNTKParams] = None,
        ridge: Union[float, str] = "auto",
        kernel: str = "ntk",
        task: str = "regression",
        *,
        gram_fn: Optional[GramFn] = None,
    ) -> None:
        self.params = params
        self.ridge = ridge
        self.kernel = kernel
        self.task = task
        self.gram_fn = gram_fn

    # scikit-learn estimator protocol

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as scikit-learn's ``clone`` expects."""
        return {"params": self.params, "ridge": self.ridge, "kernel": self.kernel,
                "task": self.task, "gram_fn": self.gram_fn}

    def set_params(self, **values: Any) -> "KernelRidge":
        """Set constructor arguments by name; returns self."""
        for name, value in values.items():
            if name not in self.get_params():
                raise ValueError(f"{name}: not a parameter of KernelRidge")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.get_params().items() if k != "gram_fn" or v is not None}
        return f"KernelRidge({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    # fitting

    def fit(self, X: Any, y: Any) -> "KernelRidge":
        """Fit to training sequences and targets.

        Parameters
        ----------
        X : sequence of arrays shaped (T_i, m) or (T_i,)
            Training sequences; lengths may differ.
        y : array-like
            Regression: numbers, shape (N,) or (N, n_outputs). Classification:
            N hashable labels, at least two distinct.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming the field at fault: ``task``, ``kernel``, ``ridge``,
            ``params``, ``X[i]`` or ``y``.
        NotPositiveDefiniteError
            K + λI cannot be factorised (a ValueError).
        """
        task, kernel, ridge = self._check_settings()
        params = self._resolved_params()
        xs = as_sequences(X, "X")
        if task == "classification":
            classes, codes = _encode_labels(y, len(xs))
            Y = np.eye(len(classes))[codes] - 1.0 / len(classes)
        else:
            classes, codes = None, None
            Y = _regression_targets(y, len(xs))
        K = self._gram(xs, None, params)
        Y2 = Y.reshape(len(xs), -1)
        loo = None
        if ridge == "auto":
            loo = _auto_curve(K, Y2, codes)
            ridge = la.select_ridge(loo)
        L = la.cholesky(K, ridge)
        self.X_fit_ = xs
        self.params_ = params
        self.classes_ = classes
        self.ridge_ = float(ridge)
        self.loo_curve_ = loo
        self.cholesky_ = L
        self.dual_coef_ = la.cho_solve(L, Y)
        return self

    # prediction

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw outputs K(X*, X)α: per-class scores, or the regression outputs.

        Returns
        -------
        ndarray of shape (M,) or (M, n_outputs)
            Classification: (M, n_classes), column j scoring ``classes_[j]``
            on the centred one-hot scale.
        """
        self._check_fitted()
        zs = as_sequences(X, "X", m=self.X_fit_[0].shape[1])
        return self._gram(zs, self.X_fit_, self.params_) @ self.dual_coef_

    def predict(self, X: Any, return_std: bool = False):
        """Predict labels (classification) or outputs (regression).

        Parameters
        ----------
        X : sequence of arrays shaped (T_i, m) or (T_i,)
        return_std : bool, default False
            Also return the Gaussian-process posterior standard deviation
            √(K(x*, x*) − k*ᵀ(K + λI)⁻¹k*) of each sequence, with the NNGP
            kernel as covariance (needs ``kernel="nngp"``). It does not depend
            on the targets, so one value per sequence serves every output or
            class score; rounding below zero is clipped to zero.

        Returns
        -------
        prediction : ndarray of shape (M,) or (M, n_outputs)
            Labels from `classes_` for classification.
        std : ndarray of shape (M,)
            Only with ``return_std=True``.
        """
        self._check_fitted()
        if return_std and self.kernel != "nngp":
            raise ValueError(
                "return_std: the posterior standard deviation is that of a Gaussian process "
                "whose covariance is the NNGP kernel; fit with kernel='nngp' (this model uses "
                f"kernel={self.kernel!r}, whose trained-network variance is not provided)"
            )
        if return_std and self.cholesky_ is None:
            raise ValueError("return_std: this model carries no Cholesky factor to compute variances")
        zs = as_sequences(X, "X", m=self.X_fit_[0].shape[1])
        K_zx = self._gram(zs, self.X_fit_, self.params_)
        scores = K_zx @ self.dual_coef_
        out = scores if self.classes_ is None else self.classes_[np.argmax(scores, axis=1)]
        if not return_std:
            return out
        prior = gram_diagonal(zs, params=self.params_, output="nngp")
        v = la.solve_lower(self.cholesky_, K_zx.T)
        variance = prior - np.einsum("ij,ij->j", v, v)
        return out, np.sqrt(np.maximum(variance, 0.0))

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or R² averaged over outputs (regression)."""
        self._check_fitted()
        prediction = self.predict(X)
        n = len(prediction)
        if self.classes_ is not None:
            labels = _as_label_array(y)
            if labels.shape != (n,):
                raise ValueError(f"y: has {len(labels)} labels but X has {n} sequences")
            return float(np.mean(prediction == labels))
        Y = _regression_targets(y, n).reshape(n, -1)
        residual = ((Y - prediction.reshape(n, -1)) ** 2).sum(axis=0)
        total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        safe = np.where(total > 0, total, 1.0)
        r2 = np.where(total > 0, 1.0 - residual / safe, np.where(residual == 0, 1.0, 0.0))
        return float(np.mean(r2))

    # saving

    def to_bytes(self) -> bytes:
        """The fitted model as a versioned `.npz` payload (see `rntk_core.payload`)."""
        from .payload import dumps

        return dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes, *, gram_fn: Optional[GramFn] = None) -> "KernelRidge":
        """Load a model saved by `to_bytes`; predictions are bit-identical."""
        from .payload import loads

        return loads(data, gram_fn=gram_fn)

    # helpers

    def _check_settings(self) -> tuple[str, str, Union[float, str]]:
        if self.task not in TASKS:
            raise ValueError(f"task: must be one of {TASKS}, got {self.task!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel: must be one of {KERNELS}, got {self.kernel!r}")
        return self.task, self.kernel, check_ridge(self.ridge)

    def _resolved_params(self) -> RNTKParams:
        if self.params is None:
            return RNTKParams()
        if not isinstance(self.params, RNTKParams):
            raise ValueError(f"params: expected RNTKParams or None, got {type(self.params).__name__}")
        return self.params

    def _check_fitted(self) -> None:
        if not hasattr(self, "dual_coef_"):
            raise NotFittedError("This KernelRidge is not fitted yet; call fit(X, y) first")

    def _gram(self, xs: list, zs: Optional[list], params: RNTKParams) -> np.ndarray:
        fn = gram if self.gram_fn is None else self.gram_fn
        K = np.asarray(fn(xs, zs, params=params, output=self.kernel), dtype=np.float64)
        shape = (len(xs), len(xs) if zs is None else len(zs))
        if K.shape != shape:
            raise ValueError(f"gram_fn: returned shape {K.shape}, expected {shape}")
        if not np.all(np.isfinite(K)):
            raise ValueError("gram_fn: returned NaN or infinite values")
        return K


def check_ridge(ridge: Any) -> Union[float, str]:
    """Validate a ridge argument: ``"auto"`` or a finite number >= 0."""
    if isinstance(ridge, str) and ridge == "auto":
        return "auto"
    if isinstance(ridge, bool) or not isinstance(ridge, numbers.Real):
        raise ValueError(f"ridge: expected a number >= 0 or 'auto', got {ridge!r}")
    value = float(ridge)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"ridge: must be a finite number >= 0 or 'auto', got {ridge!r}")
    return value


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


def _regression_targets(y: Any, n: int) -> np.ndarray:
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


def _as_label_array(y: Any) -> np.ndarray:
    """Labels as a 1-D array that holds exactly the values given.

    A NumPy dtype is used when it keeps every label as it is, else an object
    array of the values themselves: fixed-width strings drop trailing NULs
    (``"a"`` and ``"a\\0"`` would merge), int64 cannot hold 2**63 (NumPy then
    picks float64, merging large neighbours), and a mix of str and int would
    become all str. A 1-D ndarray is taken as it is.
    """
    if isinstance(y, np.ndarray) and y.ndim == 1:
        return y
    items = list(y) if hasattr(y, "__iter__") and not isinstance(y, (str, bytes)) else None
    if items is None:
        raise ValueError(f"y: expected a sequence of labels, got {type(y).__name__}")
    arr = np.asarray(items) if items else np.empty(0)
    if arr.ndim != 1 or arr.dtype.kind == "O" or not same_labels(arr.tolist(), items):
        arr = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            arr[i] = v
    return arr


def same_labels(found: list, given: list) -> bool:
    """Whether `found` holds `given`'s labels, equal in value and of the same Python type.

    NumPy scalars in `given` count as the Python values they hold (``np.int64(3)`` is 3).
    """
    if len(found) != len(given):
        return False
    for a, b in zip(found, given):
        b = b.item() if isinstance(b, np.generic) else b
        if type(a) is not type(b) or a != b:
            return False
    return True


def _encode_labels(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels (first-seen order if they do not sort) and each label's index."""
    labels = _as_label_array(y)
    if labels.shape[0] != n:
        raise ValueError(f"y: has {labels.shape[0]} labels but X has {n} sequences")
    for i, v in enumerate(labels):
        try:
            hash(v)
        except TypeError:
            raise ValueError(f"y[{i}]: label {v!r} is not hashable") from None
        if v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)):
            raise ValueError(f"y: contains a missing label (NaN, inf or None) at y[{i}]")
    try:
        classes = np.unique(labels)
    except TypeError:
        seen = list(dict.fromkeys(labels.tolist()))
        classes = np.empty(len(seen), dtype=object)
        for j, v in enumerate(seen):
            classes[j] = v
    if len(classes) < 2:
        raise ValueError(
            f"y: classification needs at least 2 classes, got only {classes[0]!r}"
        )
    index = {c: j for j, c in enumerate(classes.tolist())}
    codes = np.fromiter((index[v] for v in labels.tolist()), dtype=np.int64, count=n)
    return classes, codes
