"""``POST /gram``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ...repeats.cache import offer
from ..deps import GramDep, MediaTypeDep, PlaceDep
from ..route_class import OrjsonRoute
from ..schemas import GramRequest, GramResponse
from ._responses import BODY_ERRORS, MATRICES

router = APIRouter(tags=["kernels"], route_class=OrjsonRoute)


@router.post("/gram", response_model=GramResponse, responses={200: MATRICES, **BODY_ERRORS})
async def post_gram(request: Request, body: GramRequest, gram: GramDep, place: PlaceDep,
                    media_type: MediaTypeDep) -> Response:
    """RNTK / NNGP Gram matrix of X, or between X and Z, assembled from cached blocks."""
    job = gram.admit(body)
    answer, stats = await place.run(gram.run, job, media_type)
    offer(request.scope, answer, stats.blocks)  # exact repeats get it whole
    return answer.response(stats.as_dict())
