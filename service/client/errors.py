"""What a failed call raises: the service's error answer, or no answer at all."""

from __future__ import annotations

from typing import Optional

import httpx


class RNTKError(Exception):
    """The service answered with an error, or could not be reached.

    Attributes
    ----------
    status_code : the HTTP status (None when no answer came)
    code : the service's machine-readable error code ("invalid_input", "model_not_found", ...)
    message : the service's explanation (its ``detail``)
    errors : per-field details of a 422, as the service sent them
    retry_after : the ``Retry-After`` header of the last answer, if any
    """

    def __init__(self, message: str, *, status_code: Optional[int] = None, code: str = "error",
                 errors: Optional[list] = None, retry_after: Optional[str] = None) -> None:
        super().__init__(f"{status_code} {code}: {message}" if status_code is not None else message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> "RNTKError":
        """The error an error answer describes (the service's JSON shape, or whatever text came)."""
        code, message, errors = "http_error", response.text[:500] or response.reason_phrase, None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            code = str(body.get("error") or code)
            message = str(body["detail"])
            errors = body.get("errors")
        return cls(message, status_code=response.status_code, code=code, errors=errors,
                   retry_after=response.headers.get("retry-after"))


class RNTKConnectionError(RNTKError):
    """No answer: the connection failed or timed out (``status_code`` is None)."""
