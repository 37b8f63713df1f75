"""The route class of the POST endpoints: compute places taken first, then bodies parsed off the event loop.

FastAPI parses bodies with the standard library's `json`, about 7x slower than
orjson on arrays of numbers. orjson also refuses NaN/Infinity literals and
numbers that overflow float64, which JSON does not allow anyway; its
`JSONDecodeError` subclasses the standard one, so FastAPI reports it as a
422 ``json_invalid`` with the position.

A route whose body model declares ``BATCHES`` computes, and also takes
``Content-Type: application/x-npz`` (`service.wire.npz_body`). Its request first
takes a compute place (`service.kernels.slots`), so an overloaded service refuses
it with 503 before reading or parsing anything; then its body, JSON or npz,
is decoded and validated off the loop (`service.api.body_parsing`), and
FastAPI receives the finished request model in place of parsed JSON, so the
endpoint, its dependencies and the service code are the same for both
formats. The OpenAPI document lists both bodies.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine, Optional

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..wire import npz_body
from ..errors import Overloaded
from ..wire.answers import JSON, NPZ

PLACE = "rntk.place"
"""Where a computing route's request keeps its compute `Place` (in the ASGI scope), for its endpoint."""


class OrjsonRequest(Request):
    """A request whose `json()` uses orjson."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
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


class OrjsonRoute(APIRoute):
    """An `APIRoute` that parses JSON with orjson and, when its body model has ``BATCHES``, npz.

    A route whose body model has ``BATCHES`` computes: its request takes a
    compute place before its body is read (refused at once with 503 when
    none is free), and its body is parsed and validated off the event loop.
    """

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
        model = self.npz_model

        async def service_handler(request: Request) -> Response:
            if model is None:
                return await handler(OrjsonRequest(request.scope, request.receive))
            services = request.app.state.services
            try:
                place = services.slots.take()
            except Overloaded:
                try:
                    async for _ in request.stream():  # unparsed: the client finishes sending and reads the 503
                        pass
                except ClientDisconnect:
                    pass
                raise
            with place:
                request.scope[PLACE] = place
                body = await request.body()
                decoded = await services.parser.decode(body, request.headers.get("content-type"), model,
                                                       services.settings.max_body_bytes)
                if decoded is None:  # no body, or neither JSON nor npz: FastAPI says what it expected
                    return await handler(request)
                return await handler(DecodedRequest(request, body, decoded))

        return service_handler
