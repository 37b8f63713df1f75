"""ASGI middleware that answers exact repeats of Gram requests from the answers kept for them.

It sits in front of routing and validation, so a repeat costs reading its
body, one look-up in `service.repeats.cache` and sending the kept answer. A
body is read here only when an answer is kept for a request of its path,
formats and length; any other request passes through unchanged, its body
read by the app once it admits the request (an overloaded service refuses it
unparsed) and noted on the way, and the answer its route offers (`service.repeats.cache.offer`) is kept if it
was sent whole with status 200. Only requests that declare their length are
looked at: the body cap in front of this layer has refused those that are too
long, so reading one here cannot fail, and a streamed body goes to the app as
it comes.
"""

from __future__ import annotations

from typing import Any, Optional

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..metrics import Metrics
from ..wire.answers import media_type, negotiate
from .cache import OFFERED, Offer, RepeatCache


class RepeatAnswers:
    """Serve `repeats` for POST requests to `routes` (path -> route, named in metrics) and keep new answers."""

    def __init__(self, app: ASGIApp, repeats: RepeatCache, metrics: Metrics, routes: dict[str, Any]) -> None:
        self.app = app
        self.repeats = repeats
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if (headers is None or scope["method"] != "POST" or scope["path"] not in self.routes
                or not self.repeats.enabled or "content-length" not in headers):
            await self.app(scope, receive, send)
            return
        kind = (scope["path"], media_type(headers.get("content-type")), negotiate(headers.get("accept")))
        try:
            length = int(headers["content-length"])
        except ValueError:
            length = -1
        if not self.repeats.may_hold(*kind, length):  # no repeat possible: the app reads the body when it admits it
            await self._first(scope, receive, send, kind)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        slot = self.repeats.slot(*kind, body)
        hit = self.repeats.get(slot, body)
        if hit is not None:
            scope["route"] = self.routes[scope["path"]]
            self.metrics.repeats.inc()
            self.metrics.cache_hits.inc(hit.blocks)
            await hit.repeat_response()(scope, receive, send)
            return
        await self._first(scope, _replay(body, receive), send, kind)

    async def _first(self, scope: Scope, receive: Receive, send: Send, kind: tuple[str, str, str]) -> None:
        """Pass a request on, noting its body as the app reads it, and keep the answer its route offers."""
        offered = scope[OFFERED] = Offer()
        status = _Status(send)
        body = _Recording(receive)
        await self.app(scope, body.receive, status.send)
        if offered.answer is not None and status.code == 200 and status.finished and body.complete:
            whole = body.value()
            self.repeats.put(self.repeats.slot(*kind, whole), whole, offered.answer)


async def _read_body(receive: Receive) -> Optional[bytes]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class _Recording:
    """A `receive` that notes the body it passes on."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._chunks: list[bytes] = []
        self.complete = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request" and not self.complete:
            self._chunks.append(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        return message

    def value(self) -> bytes:
        return b"".join(self._chunks)


class _Status:
    """Passes an app's answer on, noting its status and whether it was sent whole."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.code = 0
        self.finished = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.code = message["status"]
        elif message["type"] == "http.response.body":
            self.finished = not message.get("more_body", False)
        await self._send(message)
