"""``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from ..deps import MetricsDep, ServicesDep
from ..schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (answers on the event loop, never waits for computation)."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness,
                                                                  "description": "Still compiling."}})
def readyz(services: ServicesDep) -> Response:
    """Ready (200, status "ready" or "degraded" when Redis is unreachable) or starting (503)."""
    ready = services.readiness()
    return JSONResponse(ready.model_dump(), status_code=503 if ready.status == "starting" else 200)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition."}})
async def metrics(m: MetricsDep) -> Response:
    """Prometheus metrics: requests and latency by route, cache hits and misses, compute seconds, pair-steps,
    and the bytes and entries the in-process caches hold."""
    return Response(m.render(), media_type=m.content_type)
