"""What a fitted kernel ridge model is: the settings and arrays prediction needs.

`FittedState` is the one object the estimator fits into and the payload
saves and loads, so the payload format depends on this module alone and
never on the estimator.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ..gram import KERNELS
from ..params import RNTKParams
from ..sequences import SequenceBatch

TASKS = ("regression", "classification")


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


def check_settings(task: Any, kernel: Any, ridge: Any, params: Any) -> tuple[str, str, Union[float, str], RNTKParams]:
    """The estimator's settings validated (``params=None`` is ``RNTKParams()``), or a `ValueError` naming one."""
    if task not in TASKS:
        raise ValueError(f"task: must be one of {TASKS}, got {task!r}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel: must be one of {KERNELS}, got {kernel!r}")
    ridge = check_ridge(ridge)
    if params is None:
        return task, kernel, ridge, RNTKParams()
    if not isinstance(params, RNTKParams):
        raise ValueError(f"params: expected RNTKParams or None, got {type(params).__name__}")
    return task, kernel, ridge, params


@dataclass(frozen=True)
class FittedState:
    """A fitted model: α = (K + λI)⁻¹Y and what goes with it (the ``*_`` attributes of `KernelRidge`).

    Attributes
    ----------
    params, kernel, task
        The kernel hyperparameters, ``"ntk"`` or ``"nngp"``, and
        ``"regression"`` or ``"classification"``.
    ridge : float
        The ridge λ used.
    ridge_setting : float or "auto"
        The ridge asked for (the estimator's ``ridge`` argument).
    dual_coef : ndarray of shape (N,) or (N, n_outputs)
        α; classification: (N, n_classes).
    classes : ndarray of shape (n_classes,) or None
        The class labels (classification), column j of α scoring ``classes[j]``.
    loo_curve : dict of arrays or None
        The leave-one-out curve of ``ridge="auto"``.
    cholesky : ndarray of shape (N, N) or None
        Lower Cholesky factor of K + λI (posterior variances need it).
    X : SequenceBatch or None
        The training sequences; None for a model fitted on a Gram alone,
        which predicts from cross Grams only and cannot be saved.
    """

    params: RNTKParams
    kernel: str
    task: str
    ridge: float
    ridge_setting: Union[float, str]
    dual_coef: np.ndarray
    classes: Optional[np.ndarray] = None
    loo_curve: Optional[dict[str, np.ndarray]] = None
    cholesky: Optional[np.ndarray] = None
    X: Optional[SequenceBatch] = None

    @property
    def n_train(self) -> int:
        """N, the number of training sequences."""
        return int(self.dual_coef.shape[0])
