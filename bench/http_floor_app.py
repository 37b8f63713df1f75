"""A server that does only what every answer to ``POST /gram`` must: read the request, send an N×N npy.

`bench_service.py` times it beside the service to show the floor under any
cached answer at a given size: no server can answer faster than it moves the
bytes. ``FLOOR_N`` sets N (default 500).
"""

from __future__ import annotations

import io
import os

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def _answer() -> bytes:
    n = int(os.environ.get("FLOOR_N", "500"))
    buf = io.BytesIO()
    np.save(buf, np.zeros((n, n)), allow_pickle=False)
    return buf.getvalue()


ANSWER = _answer()


async def gram(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/x-npy")


app = Starlette(routes=[Route("/gram", gram, methods=["POST"])])
