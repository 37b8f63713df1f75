"""The service's errors: one hierarchy, mapped to HTTP in one place (`service.errors.handlers`).

Code below the routes raises these; nothing else builds an error response.
Each carries its HTTP status, a stable machine-readable ``code`` and a message
that names the field or limit at fault.
"""

from __future__ import annotations

from typing import Optional


class ServiceError(Exception):
    """Root of every error the service answers on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = dict(headers or {})


class InvalidInput(ServiceError):
    """The request is well-formed JSON but its values are wrong (names the field)."""

    status_code = 422
    code = "invalid_input"


class LimitExceeded(ServiceError):
    """The request is larger than a configured limit (names the limit and its value)."""

    status_code = 413
    code = "limit_exceeded"

    def __init__(self, field: str, measured: str, limit_name: str, limit: int) -> None:
        env = f"RNTK_{limit_name.upper()}"
        super().__init__(f"{field}: {measured} exceeds the limit {limit_name}={limit} (set by {env})")
        self.limit_name = limit_name
        self.limit = limit


def body_too_large(max_bytes: int) -> LimitExceeded:
    """The refusal of a request body longer than the cap (declared, or found while it streams)."""
    return LimitExceeded("body", "its length", "max_body_bytes", max_bytes)


class ModelNotFound(ServiceError):
    """No stored model has this id (or the id is not a valid model id)."""

    status_code = 404
    code = "model_not_found"

    def __init__(self, model_id: str) -> None:
        super().__init__(f"model_id: no model with id {model_id!r}")


class CorruptModel(ServiceError):
    """A stored payload cannot be read back (a fault of the store, not of the request)."""

    status_code = 500
    code = "model_corrupt"


class Unavailable(ServiceError):
    """A temporary condition; the client should retry after ``Retry-After`` seconds."""

    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message, headers={"Retry-After": str(int(retry_after_s))})


class Overloaded(Unavailable):
    """Every compute slot is busy and the waiting queue is full."""

    code = "overloaded"


class StoreUnavailable(Unavailable):
    """The model store (Redis) cannot be reached right now."""

    code = "model_store_unavailable"


class BackendFailure(ServiceError):
    """A backing store failed or held something unreadable.

    Raised below the services, which decide what it means (the block cache: a
    miss; the model store: `StoreUnavailable`); one that reaches the handler
    is a fault of the service (500).
    """

    code = "backend_failure"


class RedisDown(BackendFailure):
    """Redis could not be reached (or is skipped while the circuit breaker is open)."""


class CorruptBlock(BackendFailure):
    """A stored cache entry that is not a well-formed block."""
