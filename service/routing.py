"""The route class of the POST endpoints: JSON bodies parsed by orjson, npz bodies by `npz_body`.

FastAPI parses bodies with the standard library's `json`, about 7x slower than
orjson on arrays of numbers. orjson also refuses NaN/Infinity literals and
numbers that overflow float64, which JSON does not allow anyway; its
`JSONDecodeError` subclasses the standard one, so FastAPI reports it as a
422 ``json_invalid`` with the position.

A route whose body model declares ``BATCHES`` also takes
``Content-Type: application/x-npz`` (`service.npz_body`): the archive is
decoded and checked here, and FastAPI receives the finished request model in
place of parsed JSON, so the endpoint, its dependencies and the service code
are the same for both formats. The OpenAPI document lists both bodies.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine, Optional

import anyio.to_thread
import orjson
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from . import npz_body
from .encoding import JSON, NPZ, media_type

THREAD_PARSE_BYTES = 1 << 20
"""Bodies larger than this are parsed in a worker thread, so /healthz stays responsive."""


class OrjsonRequest(Request):
    """A request whose `json()` uses orjson."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            if len(body) > THREAD_PARSE_BYTES:
                self._json = await anyio.to_thread.run_sync(orjson.loads, body)
            else:
                self._json = orjson.loads(body)
        return self._json


class DecodedRequest(Request):
    """A request whose body has been read and decoded into its model already.

    It presents itself to FastAPI as a JSON request whose `json()` is that
    model instance, which FastAPI's validation passes through unchanged.
    """

    def __init__(self, request: Request, body: bytes, decoded: BaseModel) -> None:
        headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
        super().__init__({**request.scope, "headers": [*headers, (b"content-type", JSON.encode())]},
                         request.receive)
        self._raw = body
        self._decoded = decoded

    async def body(self) -> bytes:
        return self._raw

    async def json(self) -> Any:
        return self._decoded


def is_npz(content_type: Optional[str]) -> bool:
    """Whether a Content-Type header announces an npz body (parameters and case ignored)."""
    return media_type(content_type) == NPZ


class OrjsonRoute(APIRoute):
    """An `APIRoute` that parses JSON with orjson and, when its body model has ``BATCHES``, npz."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.npz_model is not None:
            extra = self.openapi_extra or {}
            body = extra.setdefault("requestBody", {})
            body.setdefault("content", {})[NPZ] = {
                "schema": {"type": "string", "format": "binary", "description": npz_body.describe(self.npz_model)},
            }
            body.setdefault("description", f"JSON, or the same request as `{NPZ}` arrays (see its schema).")
            self.openapi_extra = extra

    @property
    def npz_model(self) -> Optional[type[BaseModel]]:
        """The body model, if it may come as npz (it declares ``BATCHES``)."""
        body_field = getattr(self, "body_field", None)
        model = getattr(body_field.field_info, "annotation", None) if body_field is not None else None
        return model if getattr(model, "BATCHES", None) else None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        npz_model = self.npz_model

        async def service_handler(request: Request) -> Response:
            if npz_model is not None and is_npz(request.headers.get("content-type")):
                body = await request.body()
                decoded = await _decode_npz(body, npz_model, request.app.state.services.settings.max_body_bytes)
                return await handler(DecodedRequest(request, body, decoded))
            return await handler(OrjsonRequest(request.scope, request.receive))

        return service_handler


async def _decode_npz(body: bytes, model: type[BaseModel], max_bytes: int) -> BaseModel:
    """`npz_body.decode` (in a worker thread when large), its field errors reported like a JSON body's."""
    try:
        if len(body) > THREAD_PARSE_BYTES:
            return await anyio.to_thread.run_sync(npz_body.decode, body, model, max_bytes)
        return npz_body.decode(body, model, max_bytes)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
