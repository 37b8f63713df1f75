"""A server that does only what every answer to ``POST /gram`` must: read the request, send an N×N npy.

`bench_service.py` times it beside the service to show the floor under any
cached answer at a given size: no server can answer faster than it moves the
bytes. It is a bare ASGI app (no framework, no routing) under the same
uvicorn as the service. ``FLOOR_N`` sets N (default 500).
"""

from __future__ import annotations

import io
import os

import numpy as np


def _answer() -> bytes:
    n = int(os.environ.get("FLOOR_N", "500"))
    buf = io.BytesIO()
    np.save(buf, np.zeros((n, n)), allow_pickle=False)
    return buf.getvalue()


ANSWER = _answer()
HEADERS = [(b"content-type", b"application/x-npy"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope, receive, send) -> None:
    """Any request: its body read to the end, then the npy; 405 for anything but a POST (a readiness probe)."""
    if scope["type"] != "http":
        return
    if scope["method"] != "POST":
        await send({"type": "http.response.start", "status": 405, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})
