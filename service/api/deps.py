"""Request dependencies as `Annotated` aliases, so routes declare what they use in one word."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import Depends, Header, Request

from ..container import Services
from ..kernels.gram import GramService
from ..kernels.krr import KrrService
from ..kernels.slots import Place
from ..metrics import Metrics
from ..wire.answers import negotiate
from .route_class import PLACE


# Dependencies are `async def` although they never await: FastAPI runs plain `def`
# dependencies in its thread pool, a thread hop per dependency per request.


async def get_services(request: Request) -> Services:
    """The app's `Services` (built by `create_app`)."""
    return request.app.state.services


async def get_gram(request: Request) -> GramService:
    """The Gram service."""
    return request.app.state.services.gram


async def get_krr(request: Request) -> KrrService:
    """The kernel ridge service."""
    return request.app.state.services.krr


async def get_place(request: Request) -> Place:
    """The compute place this request took before its body was read (`service.api.route_class.OrjsonRoute`)."""
    return request.scope[PLACE]


async def get_metrics(request: Request) -> Metrics:
    """The metrics registry."""
    return request.app.state.services.metrics


async def get_media_type(accept: Annotated[Optional[str], Header(include_in_schema=False)] = None) -> str:
    """The response format the client asked for (JSON, npy or npz)."""
    return negotiate(accept)


ServicesDep = Annotated[Services, Depends(get_services)]
GramDep = Annotated[GramService, Depends(get_gram)]
KrrDep = Annotated[KrrService, Depends(get_krr)]
PlaceDep = Annotated[Place, Depends(get_place)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
MediaTypeDep = Annotated[str, Depends(get_media_type)]
