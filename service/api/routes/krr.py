"""``/krr``: fit, predict, inspect and delete stored kernel ridge models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..deps import KrrDep, PlaceDep
from ..route_class import OrjsonRoute
from ..schemas import (MODEL_ID_HELP, MODEL_ID_PLACEHOLDER, Deleted, FitRequest, FitResponse, ModelInfo,
                       PredictRequest, PredictResponse)
from ._responses import BODY_ERRORS, MODEL_ERRORS, NOT_FOUND

router = APIRouter(prefix="/krr", tags=["kernel ridge"], route_class=OrjsonRoute)

ModelId = Annotated[str, Path(description=MODEL_ID_HELP, examples=[MODEL_ID_PLACEHOLDER])]


@router.post("/fit", response_model=FitResponse, responses=BODY_ERRORS)
async def fit(body: FitRequest, krr: KrrDep, place: PlaceDep) -> FitResponse:
    """Fit kernel ridge regression or classification and store the model."""
    params = krr.admit_fit(body)
    return await place.run(krr.fit, body, params)


@router.post("/predict", response_model=PredictResponse, responses={**BODY_ERRORS, **NOT_FOUND})
async def predict(body: PredictRequest, krr: KrrDep, place: PlaceDep) -> PredictResponse:
    """Predict with a stored model (labels and class scores, or values; GP std on request)."""
    krr.admit_predict(body)
    return await place.run(krr.predict, body)


@router.get("/models/{model_id}", response_model=ModelInfo, responses=MODEL_ERRORS)
def model_info(model_id: ModelId, krr: KrrDep) -> ModelInfo:
    """Metadata of a stored model."""
    return krr.info(model_id)


@router.delete("/models/{model_id}", response_model=Deleted, responses=MODEL_ERRORS)
def delete_model(model_id: ModelId, krr: KrrDep) -> Deleted:
    """Delete a stored model."""
    krr.delete(model_id)
    return Deleted(model_id=model_id)
