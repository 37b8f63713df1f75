"""HTTP method semantics over every route of an app: HEAD, OPTIONS and a complete ``Allow``.

The router answers a method per route, so where one path has several routes
(``GET`` and ``DELETE /krr/models/{model_id}``) its 405 names only the first
route's methods, FastAPI's routes answer no ``HEAD``, and nothing answers
``OPTIONS``. This layer, in front of the router, gives every path what HTTP
asks (RFC 9110 §9.3.2, §9.3.7, §15.5.6):

- ``HEAD`` wherever ``GET`` is served: the ``GET`` answer's status and headers,
  without its body;
- ``OPTIONS``: 204 with ``Allow`` listing the path's methods;
- a 405 lists in ``Allow`` every method of every route of the path.

The methods of a path are found by asking each route whether it takes the
path with each method (the routing protocol's own ``matches``), so routes
added anywhere, included routers too, are covered. A mounted `StaticFiles`
serves ``GET`` and ``HEAD``; a path of another mounted app is left to it.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
"""The methods a route may serve (what each path is probed for)."""

STATIC_METHODS = frozenset({"GET", "HEAD"})


def served_methods(routes: Sequence[BaseRoute], scope: Scope) -> Optional[frozenset[str]]:
    """The methods `routes` serve at the request's path (empty when none has the path).

    None when a mounted app other than `StaticFiles` has the path: its methods
    are its own business, and the request is left to it.
    """
    served: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            if route.matches(_probe(scope, "GET"))[0] is not Match.NONE:
                if not isinstance(route.app, StaticFiles):
                    return None
                served |= STATIC_METHODS
            continue
        served.update(m for m in METHODS if route.matches(_probe(scope, m))[0] is Match.FULL)
    return frozenset(served)


def allow_header(served: frozenset[str]) -> str:
    """The ``Allow`` value of a path serving `served`: those methods, HEAD with GET, and OPTIONS."""
    allowed = set(served) | {"OPTIONS"} | ({"HEAD"} if "GET" in served else set())
    return ", ".join(sorted(allowed))


def _probe(scope: Scope, method: str) -> Scope:
    """A minimal scope asking for the request's path with `method` (route matching reads nothing else)."""
    return {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", ""), "method": method}


class MethodSemantics:
    """ASGI middleware giving the routes of `routes()` HEAD, OPTIONS and complete 405s (see the module)."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in ("HEAD", "OPTIONS"):
            served = served_methods(self.routes(), scope)
            if not served:  # no route has the path (404), or a mounted app answers for itself
                await self.app(scope, receive, send)
                return
            if method == "OPTIONS" and "OPTIONS" not in served:
                await _no_content(send, allow_header(served))
                return
            if method == "HEAD" and "GET" in served and "HEAD" not in served:
                await self._head_as_get(scope, receive, send)
                return
        await self.app(scope, receive, self._complete_allow(scope, send))

    async def _head_as_get(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer HEAD with the GET answer's status and headers, its body dropped."""

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        as_get = {**scope, "method": "GET"}  # a copy: the server sends no body for what it sees as a HEAD
        try:
            await self.app(as_get, receive, self._complete_allow(scope, without_body))
        finally:
            # what routing found out (the route, for the metrics) is told to the layers outside
            scope.update({key: value for key, value in as_get.items() if key not in scope})

    def _complete_allow(self, scope: Scope, send: Send) -> Send:
        """`send`, with the ``Allow`` header of a 405 replaced by every method of the path."""
        request = _probe(scope, scope["method"])  # as it arrived: routing rewrites a mounted app's paths

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                served = served_methods(self.routes(), request)
                if served:
                    allow = allow_header(served).encode("latin-1")
                    headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", allow)]}
            await send(message)

        return send_with_allow


async def _no_content(send: Send, allow: str) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode("latin-1"))]})
    await send({"type": "http.response.body", "body": b""})
