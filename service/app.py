"""The ASGI app: `create_app(settings)` wires routes, errors, middleware and lifespan.

``uvicorn service.app:app`` serves `app`, built from the ``RNTK_*`` environment.
Errors become HTTP answers in one place, `service.errors.handlers`.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import rntk_core

from .api.http_methods import MethodSemantics
from .api.middleware import BodyLimitMiddleware, MetricsMiddleware
from .api.routes import gram, health, krr
from .container import Services
from .errors import handlers as errors
from .repeats.middleware import RepeatAnswers
from .settings import Settings, get_settings

log = logging.getLogger("rntk.service")

DESCRIPTION = """\
Exact Recurrent Neural Tangent Kernel (RNTK) and NNGP Gram matrices of
variable-length, multivariate time series, and kernel ridge regression with
them. Grams are assembled from blocks cached by content (Redis, or an
in-process LRU), so repeated and extended datasets reuse earlier work.
"""

REPEATABLE_PATHS = ("/gram",)
"""Routes whose exact repeats are answered whole from the answers kept for them (`service.repeats.cache`)."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Compile the kernels in the background (readyz reports it); release resources at shutdown."""
    services: Services = app.state.services
    warm: Optional[asyncio.Task] = None
    if services.settings.warmup:
        warm = asyncio.create_task(asyncio.to_thread(services.warm_up))
        warm.add_done_callback(_report_warmup)
    else:
        services.ready()
    try:
        yield
    finally:
        if warm is not None and not warm.done():
            warm.cancel()
        services.close()


def _report_warmup(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("kernel warm-up failed; readyz stays 'starting'", exc_info=task.exception())


def create_app(settings: Optional[Settings] = None) -> FastAPI:
    """A new app (with its own cache, store, slots and metrics) configured by `settings`."""
    settings = settings or get_settings()
    services = Services.build(settings)
    app = FastAPIOffline(
        title="RNTK service",
        version=rntk_core.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(gram.router)
    app.include_router(krr.router)
    app.include_router(health.router)
    errors.install(app)
    app.add_middleware(MethodSemantics, routes=lambda: app.router.routes)
    repeatable = {route.path: route for route in gram.router.routes if route.path in REPEATABLE_PATHS}
    app.add_middleware(RepeatAnswers, repeats=services.repeats, metrics=services.metrics, routes=repeatable)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app


app = create_app()
