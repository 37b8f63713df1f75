"""What the ``/krr`` routes do, apart from HTTP: fit, store, load and predict with `KernelRidge`.

Every Gram the estimator needs comes from the block cache and is handed to
its precomputed-kernel methods (`KernelRidge.fit_gram`, ``predict_gram``,
``decision_function_gram``), so a fit after ``/gram`` on the same data
computes nothing, and a prediction computes only the cross blocks between the
new and the training sequences, once, for its labels, scores and std alike.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from rntk_core import KernelRidge, RNTKParams, gram_diagonal, pair_steps, payload_metadata

from ..api.schemas import FitRequest, FitResponse, LooCurve, ModelInfo, PredictRequest, PredictResponse
from ..blockcache.assembly import BlockGram, CacheStats
from ..errors import CorruptModel, InvalidInput, StoreUnavailable
from ..settings import Settings
from ..storage.models import ModelStore, new_model_id
from .boundary import library_errors, to_params, to_sequences
from .limits import check_request


def _finite_list(values: Any) -> Optional[list]:
    return None if values is None else [float(v) if math.isfinite(v) else None for v in np.asarray(values).tolist()]


def _check_outputs(name: str, values: np.ndarray) -> None:
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise InvalidInput(f"body.X: the model's {name} are not finite in float64 for these inputs")


class KrrService:
    """Fits and predictions with stored models."""

    def __init__(self, blocks: BlockGram, store: ModelStore, settings: Settings) -> None:
        self.blocks = blocks
        self.store = store
        self.settings = settings

    # fit

    def admit_fit(self, req: FitRequest) -> RNTKParams:
        """Parameters and limits (cheap; before a slot is taken); 503 early if the store is down."""
        params = to_params(req.params.given())
        lengths = [len(s) for s in req.X]
        check_request({"X": lengths}, pair_steps(lengths, None, params), self.settings,
                      len(lengths) ** 2)
        self._require_store()
        return params

    def fit(self, req: FitRequest, params: RNTKParams) -> FitResponse:
        """Fit, store the payload under a new id, describe the model (runs in a compute slot)."""
        xs = to_sequences(req.X, "X")
        stats = CacheStats()
        model = KernelRidge(params=params, ridge=req.ridge, kernel=req.kernel, task=req.task)
        with library_errors():
            K = self.blocks.compute(xs, None, params, req.kernel, stats)[req.kernel]
            model.fit_gram(K, req.y, X=xs)
            payload = model.to_bytes()
        self._require_store()
        model_id = new_model_id()
        self.store.put(model_id, payload)
        loo = None
        if model.loo_curve_ is not None:
            curve = model.loo_curve_
            loo = LooCurve(ridge=_finite_list(curve["ridge"]), loo_mse=_finite_list(curve["loo_mse"]),
                           loo_accuracy=_finite_list(curve.get("loo_accuracy")))
        return FitResponse(
            model_id=model_id, ridge=model.ridge_, n_train=len(xs), kernel=req.kernel, task=req.task,
            classes=None if model.classes_ is None else model.classes_.tolist(), loo=loo,
            cache=stats.as_dict(),
        )

    # predict

    def admit_predict(self, req: PredictRequest) -> None:
        """Limits of the new batch alone (the training set is known once the model is loaded)."""
        lengths = [len(s) for s in req.X]
        check_request({"X": lengths}, 0, self.settings)

    def predict(self, req: PredictRequest) -> PredictResponse:
        """Load the model, check the cross-Gram work, predict (runs in a compute slot)."""
        stats = CacheStats()
        model = self._load(req.model_id)
        train = [s.shape[0] for s in model.X_fit_]
        test = [len(s) for s in req.X]
        check_request({"X": test}, pair_steps(test, train, model.params_), self.settings,
                      len(test) * len(train))
        xs = to_sequences(req.X, "X", m=model.X_fit_[0].shape[1])
        kernel = model.state_.kernel
        scores = std = None
        with library_errors():
            K = self.blocks.compute(xs, model.X_fit_, model.params_, kernel, stats)[kernel]
            if model.classes_ is not None:
                scores = model.decision_function_gram(K)
            if req.return_std:
                K_diag = gram_diagonal(xs, params=model.params_, output="nngp") if kernel == "nngp" else None
                predictions, std = model.predict_gram(K, return_std=True, K_diag=K_diag)
            else:
                predictions = model.predict_gram(K)
        for name, values in (("predictions", predictions), ("scores", scores), ("std", std)):
            if values is not None:
                _check_outputs(name, np.asarray(values))
        return PredictResponse(
            predictions=np.asarray(predictions).tolist(),
            scores=None if scores is None else scores.tolist(),
            std=None if std is None else std.tolist(),
            cache=stats.as_dict(),
        )

    # stored models

    def info(self, model_id: str) -> ModelInfo:
        """Metadata of a stored model."""
        payload = self.store.get(model_id)
        try:
            meta = payload_metadata(payload)
        except ValueError as exc:
            raise CorruptModel(f"model {model_id!r} is stored but unreadable: {exc}") from exc
        return ModelInfo(model_id=model_id, size_bytes=len(payload), metadata=meta)

    def delete(self, model_id: str) -> None:
        """Remove a stored model."""
        self.store.delete(model_id)

    def _load(self, model_id: str) -> KernelRidge:
        payload = self.store.get(model_id)
        try:
            return KernelRidge.from_bytes(payload)
        except ValueError as exc:
            raise CorruptModel(f"model {model_id!r} is stored but unreadable: {exc}") from exc

    def _require_store(self) -> None:
        if not self.store.available():
            retry = self.settings.retry_after_s
            raise StoreUnavailable(
                "model store unavailable: Redis is unreachable, so a fitted model could not be kept; "
                "retry when it is back", retry,
            )
