"""What the client's calls return: Gram answers, predictions, and handles on stored models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

if TYPE_CHECKING:
    from .http import RNTKClient


@dataclass(frozen=True)
class GramResult:
    """A Gram answer: the kernels asked for (the other is None), the shape, and the cache figures."""

    ntk: Optional[np.ndarray]
    nngp: Optional[np.ndarray]
    shape: tuple[int, int]
    cache: dict[str, int]


@dataclass(frozen=True)
class Prediction:
    """A prediction answer: predictions, class scores (classification), posterior std (if asked), cache."""

    predictions: np.ndarray
    scores: Optional[np.ndarray]
    std: Optional[np.ndarray]
    cache: dict[str, int]


@dataclass(frozen=True)
class Model:
    """A model stored by the service, as ``/krr/fit`` described it; predicts through the client.

    Attributes: ``model_id`` (the handle to keep), ``ridge`` (the λ used, chosen when "auto"),
    ``n_train``, ``kernel``, ``task``, ``classes`` (classification), ``loo`` (the leave-one-out
    curve of an automatic ridge) and ``cache`` (block cache use of the fit).
    """

    client: "RNTKClient" = field(repr=False, compare=False)
    model_id: str
    ridge: float
    n_train: int
    kernel: str
    task: str
    classes: Optional[list] = None
    loo: Optional[dict] = None
    cache: dict[str, int] = field(default_factory=dict)

    def predict(self, X: Any, return_std: bool = False):
        """Predictions for X (with ``return_std``, a pair: predictions and posterior std)."""
        return self.client.predict(self.model_id, X, return_std=return_std)

    def info(self) -> dict[str, Any]:
        """The stored model's size and metadata."""
        return self.client.model_info(self.model_id)

    def delete(self) -> None:
        """Delete the stored model."""
        self.client.delete_model(self.model_id)
