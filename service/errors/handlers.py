"""The one place where errors become HTTP answers: every deliberate error, request validation, routing
and protocol errors, and a last-resort 500 that reveals nothing. All share one body shape
(`service.api.schemas.ErrorBody`)."""

from __future__ import annotations

import logging
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..wire.answers import OrjsonResponse
from . import ServiceError
from .validation import MAX_REPORTED_ERRORS, field_errors, summary

log = logging.getLogger("rntk.service")


def error_response(status: int, code: str, detail: str, errors: Optional[list] = None,
                   headers: Optional[dict[str, str]] = None) -> Response:
    """An error answer: its code, the message naming the field or limit, per-field details."""
    return OrjsonResponse({"error": code, "detail": detail, "errors": errors}, status_code=status, headers=headers)


def service_error_response(exc: ServiceError) -> Response:
    """The answer of a deliberate error: its status, code, message and headers (Retry-After)."""
    return error_response(exc.status_code, exc.code, exc.message, headers=exc.headers)


async def on_service_error(request: Request, exc: ServiceError) -> Response:
    """Every deliberate error; those of the service itself (5xx but 503) are logged."""
    if exc.status_code >= 500 and exc.status_code != 503:
        log.error("%s: %s", exc.code, exc.message)
    return service_error_response(exc)


async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """422 naming each field at fault (``body.X[3][0]: Input should be a finite number``)."""
    errors = field_errors(exc.errors())
    return error_response(422, "invalid_input", summary(errors), errors=errors[:MAX_REPORTED_ERRORS])


async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Routing and protocol errors (404 unknown path, 405, 413 body cap) in the same shape."""
    codes = {404: "not_found", 405: "method_not_allowed", 413: "limit_exceeded"}
    return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                          headers=getattr(exc, "headers", None))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: log it, answer 500 without details."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; it has been logged")


def install(app: FastAPI) -> None:
    """Map every error to its answer in `app`."""
    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
