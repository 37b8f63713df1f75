"""Kernel ridge regression with the RNTK or NNGP kernel (SPEC §3).

The predictions of an infinitely wide RNN trained by gradient flow on the
squared loss with ridge λ are f(X*) = Θ(X*, X)(Θ(X, X) + λI)⁻¹Y; with the
NNGP kernel the same formula is a Gaussian-process posterior mean, which also
has a posterior variance.

`fit` and `predict` compute the Grams with `rntk_core.gram` and hand them to
`fit_gram` and `predict_gram`, the one solver path; a caller that has the
Grams already (a cache, a precomputed kernel) calls those directly.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from ..gram import gram, gram_diagonal
from ..params import RNTKParams
from ..sequences import SequenceBatch, as_sequences
from . import _inputs, _solver, payload
from ._solver import AUTO_RIDGE_GRID
from .state import FittedState, check_settings

__all__ = ["KernelRidge", "NotFittedError", "AUTO_RIDGE_GRID"]


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before `fit`."""


def _fitted(field: str, doc: str) -> property:
    """A read-only attribute of the fitted state (`NotFittedError`, an AttributeError, before a fit)."""
    return property(lambda self: getattr(self._state(), field), doc=doc)


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

    Attributes
    ----------
    X_fit_ : SequenceBatch of (T_i, m) float64 arrays, or None
        The validated training sequences, which prediction from sequences
        needs. None after `fit_gram` without X.
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
    state_ : FittedState
        All of the above in one object, as `rntk_core.krr.payload` saves it.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk_core import KernelRidge, gram
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(int(t), 2)) for t in rng.integers(5, 15, size=30)]
    >>> y = np.array([s[:, 0].sum() > 0 for s in X])
    >>> model = KernelRidge(task="classification").fit(X, y)
    >>> model.predict(X[:3]).shape
    (3,)
    >>> mean, std = KernelRidge(kernel="nngp", ridge=1e-3).fit(X, y * 1.0).predict(X[:3], return_std=True)
    >>> same = KernelRidge(task="classification").fit_gram(gram(X), y)
    >>> bool(np.all(same.predict_gram(gram(X[:3], X)) == model.predict(X[:3])))
    True
    """

    X_fit_ = _fitted("X", "The training sequences, or None after `fit_gram` without X.")
    dual_coef_ = _fitted("dual_coef", "α = (K + λI)⁻¹Y.")
    classes_ = _fitted("classes", "The class labels (classification), else None.")
    ridge_ = _fitted("ridge", "The ridge used.")
    loo_curve_ = _fitted("loo_curve", "The leave-one-out curve of ridge='auto', else None.")
    params_ = _fitted("params", "The kernel hyperparameters used.")
    cholesky_ = _fitted("cholesky", "Lower Cholesky factor of K + λI, or None.")

    def __init__(
        self,
        params: Optional[RNTKParams] = None,
        ridge: Union[float, str] = "auto",
        kernel: str = "ntk",
        task: str = "regression",
    ) -> None:
        self.params = params
        self.ridge = ridge
        self.kernel = kernel
        self.task = task

    # scikit-learn estimator protocol

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments, as scikit-learn's ``clone`` expects."""
        return {"params": self.params, "ridge": self.ridge, "kernel": self.kernel, "task": self.task}

    def set_params(self, **values: Any) -> "KernelRidge":
        """Set constructor arguments by name; returns self."""
        for name, value in values.items():
            if name not in self.get_params():
                raise ValueError(f"{name}: not a parameter of KernelRidge")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        return f"KernelRidge({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    state_ = property(lambda self: self._state(), doc="The fitted state (`NotFittedError` before a fit).")

    # fitting

    def fit(self, X: Any, y: Any) -> "KernelRidge":
        """Fit to training sequences and targets: `fit_gram` on ``gram(X)`` of the model's kernel.

        Parameters
        ----------
        X : sequence of arrays shaped (T_i, m) or (T_i,)
            Training sequences; lengths may differ.
        y : array-like
            Regression: numbers, shape (N,) or (N, n_outputs). Classification:
            N hashable labels, at least two distinct.

        Returns self; raises as `fit_gram` does, naming ``X[i]`` for a bad sequence.
        """
        task, kernel, _, params = check_settings(self.task, self.kernel, self.ridge, self.params)
        xs = as_sequences(X, "X")
        _inputs.targets(task, y, len(xs))  # y's errors before the Gram's cost
        return self.fit_gram(gram(xs, params=params, output=kernel), y, X=xs)

    def fit_gram(self, K: Any, y: Any, X: Any = None) -> "KernelRidge":
        """Fit on a precomputed training Gram K(X, X) of the model's kernel and hyperparameters.

        Parameters
        ----------
        K : array-like of shape (N, N)
            ``gram(X, params=params, output=kernel)`` or the same numbers from
            elsewhere (a cache of Gram blocks); symmetric and finite.
        y : array-like
            As in `fit`, N targets or labels.
        X : sequence of N arrays, optional
            The training sequences, kept so that the model can `predict` from
            sequences and be saved. Without them it predicts only from cross
            Grams (`predict_gram`, `decision_function_gram`).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Naming the field at fault: ``task``, ``kernel``, ``ridge``,
            ``params``, ``K``, ``X`` or ``y``.
        NotPositiveDefiniteError
            K + λI cannot be factorised (a ValueError).
        """
        task, kernel, ridge, params = check_settings(self.task, self.kernel, self.ridge, self.params)
        K = _inputs.training_gram(K)
        n = K.shape[0]
        xs = None
        if X is not None:
            xs = as_sequences(X, "X")
            if len(xs) != n:
                raise ValueError(f"X: has {len(xs)} sequences but K is a Gram of {n}")
        t = _inputs.targets(task, y, n)
        self._fitted_state = _solver.fit_state(K, t, ridge, params=params, kernel=kernel, task=task, X=xs)
        return self

    # prediction

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw outputs K(X*, X)α: `decision_function_gram` on the cross Gram of X and the training set."""
        return self.decision_function_gram(self._cross_gram(X)[1])

    def decision_function_gram(self, K: Any) -> np.ndarray:
        """Raw outputs K(X*, X)α from a precomputed cross Gram.

        Parameters
        ----------
        K : array-like of shape (M, N)
            ``gram(X_new, X_train, params=params_, output=kernel)``.

        Returns
        -------
        ndarray of shape (M,) or (M, n_outputs)
            Classification: (M, n_classes), column j scoring ``classes_[j]``
            on the centred one-hot scale.
        """
        state = self._state()
        return _solver.cross_gram(state, K) @ state.dual_coef

    def predict(self, X: Any, return_std: bool = False):
        """Predict labels (classification) or outputs (regression) for new sequences.

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
        state = self._state()
        if return_std:
            _solver.check_std(state)
        zs, K = self._cross_gram(X)
        K_diag = gram_diagonal(zs, params=state.params, output="nngp") if return_std else None
        return self.predict_gram(K, return_std=return_std, K_diag=K_diag)

    def predict_gram(self, K: Any, return_std: bool = False, K_diag: Any = None):
        """Predict from a precomputed cross Gram K(X*, X): what `predict` returns for X*.

        Parameters
        ----------
        K : array-like of shape (M, N)
            ``gram(X_new, X_train, params=params_, output=kernel)``.
        return_std : bool, default False
            Also return the posterior standard deviation (see `predict`);
            needs an NNGP model and `K_diag`.
        K_diag : array-like of shape (M,), optional
            ``gram_diagonal(X_new, params=params_, output="nngp")``, the prior
            variances K(x*, x*); required with ``return_std=True``.

        Returns
        -------
        prediction : ndarray of shape (M,) or (M, n_outputs)
            Labels from `classes_` for classification.
        std : ndarray of shape (M,)
            Only with ``return_std=True``.
        """
        state = self._state()
        return _solver.predictions(state, _solver.cross_gram(state, K), return_std, K_diag)

    def score(self, X: Any, y: Any) -> float:
        """Accuracy (classification) or R² averaged over outputs (regression)."""
        self._state()
        return _solver.score(self.classes_, self.predict(X), y)

    # saving

    def to_bytes(self) -> bytes:
        """The fitted model as a versioned `.npz` payload (see `rntk_core.krr.payload`).

        Raises `ValueError` naming ``X`` for a model fitted by `fit_gram` without X.
        """
        return payload.dumps(self._state())

    @classmethod
    def from_bytes(cls, data: bytes) -> "KernelRidge":
        """Load a model saved by `to_bytes`; predictions are bit-identical."""
        state = payload.loads(data)
        model = cls(params=state.params, ridge=state.ridge_setting, kernel=state.kernel, task=state.task)
        model._fitted_state = state
        return model

    # internals

    def _state(self) -> FittedState:
        state = vars(self).get("_fitted_state")
        if state is None:
            raise NotFittedError("This KernelRidge is not fitted yet; call fit(X, y) first")
        return state

    def _cross_gram(self, X: Any) -> tuple[SequenceBatch, np.ndarray]:
        """New sequences validated against the training set's features, and their cross Gram with it."""
        state = self._state()
        if state.X is None:
            raise ValueError(
                "X: this model was fitted by fit_gram without its training sequences, so it predicts only "
                "from cross Grams (predict_gram, decision_function_gram); pass X to fit_gram to predict "
                "from sequences"
            )
        zs = as_sequences(X, "X", m=state.X.m)
        return zs, gram(zs, state.X, params=state.params, output=state.kernel)
