"""The ASGI app: `create_app(settings)` wires routes, errors, middleware and lifespan.

``uvicorn service.app:app`` serves `app`, built from the ``RNTK_*`` environment.
Errors are mapped to HTTP here and only here: the service's `ServiceError`
hierarchy, request validation (422 naming each field), HTTP errors, and a
last-resort 500 that reveals nothing.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Optional, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

import rntk_core

from .api.http_methods import MethodSemantics
from .api.middleware import BodyLimitMiddleware, MetricsMiddleware
from .api.routes import gram, health, krr
from .container import Services
from .errors import ServiceError
from .repeats.middleware import RepeatAnswers
from .settings import Settings, get_settings
from .wire.answers import OrjsonResponse

log = logging.getLogger("rntk.service")

DESCRIPTION = """\
Exact Recurrent Neural Tangent Kernel (RNTK) and NNGP Gram matrices of
variable-length, multivariate time series, and kernel ridge regression with
them. Grams are assembled from blocks cached by content (Redis, or an
in-process LRU), so repeated and extended datasets reuse earlier work.
"""

MAX_REPORTED_ERRORS = 20

REPEATABLE_PATHS = ("/gram",)
"""Routes whose exact repeats are answered whole from the answers kept for them (`service.repeats.cache`)."""


def _field(loc: Sequence[Any]) -> str:
    """``("body", "X", 3, "list[float]", 0)`` -> ``"body.X[3][0]"`` (union branch tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not _is_branch_tag(part):
            out += f".{part}" if out else part
    return out or "body"


def _is_branch_tag(part: str) -> bool:
    return "[" in part or part in {"float", "int", "str", "bool", "constrained-float", "constrained-int",
                                   "constrained-str", "none", "list", "dict"}


def _pick_union_branches(errors: Sequence[dict]) -> list[dict]:
    """Of the alternatives a union reports for one value, keep the one(s) that came closest.

    A branch whose errors are all plain type mismatches (the value has another
    shape altogether) loses to one with a specific complaint; then fewer
    errors win; ties are all kept (their messages get merged).
    """
    groups: dict[tuple, dict[str, list[dict]]] = {}
    order: list[tuple[Optional[tuple], dict]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        cut = next((i for i, p in enumerate(loc) if isinstance(p, str) and _is_branch_tag(p)), None)
        if cut is None:
            order.append((None, err))
            continue
        prefix = loc[:cut]
        if prefix not in groups:
            groups[prefix] = {}
            order.append((prefix, {}))
        groups[prefix].setdefault(loc[cut], []).append(err)
    out: list[dict] = []
    for prefix, err in order:
        if prefix is None:
            out.append(err)
            continue
        scores = {tag: (all(str(e.get("type", "")).endswith("_type") for e in errs), len(errs))
                  for tag, errs in groups[prefix].items()}
        best = min(scores.values())
        for tag, errs in groups[prefix].items():
            if scores[tag] == best:
                out.extend(errs)
    return out


def _validation_errors(errors: Sequence[dict]) -> list[dict[str, str]]:
    """One entry per field; alternatives of a union reduced to the closest, then merged."""
    merged: dict[str, dict[str, str]] = {}
    for err in _pick_union_branches(errors):
        if err.get("type") == "json_invalid":
            pos = err["loc"][-1] if len(err.get("loc", ())) > 1 else "?"
            reason = (err.get("ctx") or {}).get("error", "")
            merged.setdefault("body", {"field": "body", "type": "json_invalid",
                                       "message": f"invalid JSON at position {pos}: {reason}"})
            continue
        field = _field(err.get("loc", ()))
        message = str(err.get("msg", "invalid"))
        if field == "body" and isinstance(err.get("input"), (bytes, str)):
            message = "expected a JSON object (send Content-Type: application/json)"
        entry = merged.get(field)
        if entry is None:
            merged[field] = {"field": field, "message": message, "type": str(err.get("type", "invalid"))}
        elif message not in entry["message"].split(", or "):
            entry["message"] += f", or {message}"
    return list(merged.values())


def _error(status: int, code: str, detail: str, errors: Optional[list] = None,
           headers: Optional[dict[str, str]] = None) -> Response:
    return OrjsonResponse({"error": code, "detail": detail, "errors": errors}, status_code=status, headers=headers)


async def on_service_error(request: Request, exc: ServiceError) -> Response:
    """Every deliberate error: its status, code, message and headers (Retry-After)."""
    if exc.status_code >= 500 and exc.status_code != 503:
        log.error("%s: %s", exc.code, exc.message)
    return _error(exc.status_code, exc.code, exc.message, headers=exc.headers)


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field at fault (``body.X[3][0]: Input should be a finite number``)."""
    errors = _validation_errors(exc.errors())
    shown = [f"{e['field']}: {e['message']}" for e in errors[:MAX_REPORTED_ERRORS]]
    if len(errors) > MAX_REPORTED_ERRORS:
        shown.append(f"... and {len(errors) - MAX_REPORTED_ERRORS} more")
    return _error(422, "invalid_input", "; ".join(shown), errors=errors[:MAX_REPORTED_ERRORS])


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing and protocol errors (404 unknown path, 405, 413 body cap) in the same shape."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "limit_exceeded"}
    return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                  headers=getattr(exc, "headers", None))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it, answer 500 without details."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error(500, "internal_error", "internal error; it has been logged")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Compile the kernels in the background (readyz reports it); release resources at shutdown."""
    services: Services = app.state.services
    warm: Optional[asyncio.Task] = None
    if services.settings.warmup:
        warm = asyncio.create_task(asyncio.to_thread(services.warm_up))
        warm.add_done_callback(_report_warmup)
    else:
        services.compiled.set()
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
    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_middleware(MethodSemantics, routes=lambda: app.router.routes)
    repeatable = {route.path: route for route in gram.router.routes if route.path in REPEATABLE_PATHS}
    app.add_middleware(RepeatAnswers, repeats=services.repeats, metrics=services.metrics, routes=repeatable)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    return app


app = create_app()
