"""Response bodies: JSON through orjson, NumPy ``.npy`` / ``.npz`` for matrices.

A 2000×2000 Gram is 32 MB of float64 and about 80 MB of JSON text; clients
that ask for ``Accept: application/x-npy`` get the raw array (``.npz`` when
the answer holds several), with the shape and cache figures in headers.
A single ``.npy`` matrix is sent from where it lies, after its header
(`PartsResponse`): the Gram is not copied into a body.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

JSON = "application/json"
NPY = "application/x-npy"
NPZ = "application/x-npz"
SUPPORTED = (JSON, NPY, NPZ)
_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def dumps(content: Any) -> bytes:
    """JSON bytes; numpy arrays and scalars are serialised natively by orjson."""
    return orjson.dumps(content, option=_ORJSON_OPTIONS)


class OrjsonResponse(Response):
    """A JSON response rendered by orjson (several times faster than the standard library)."""

    media_type = JSON

    def render(self, content: Any) -> bytes:
        return dumps(content)


def media_type(content_type: Optional[str]) -> str:
    """The media type of a Content-Type header, lower case, without parameters ("" if absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def negotiate(accept: Optional[str]) -> str:
    """The supported media type the client prefers (JSON unless it asks for npy/npz).

    Honours q-values; wildcards and unknown types fall back to JSON rather
    than refusing the request.
    """
    if not accept:
        return JSON
    best, best_q = JSON, -1.0
    for part in accept.split(","):
        media, *rest = [p.strip() for p in part.split(";")]
        q = 1.0
        for param in rest:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in SUPPORTED and q > best_q and q > 0:
            best, best_q = media, q
    return best


def npy_bytes(array: np.ndarray) -> bytes:
    """One array in the ``.npy`` format (never pickled)."""
    return b"".join(npy_parts(array))


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Several named arrays in an uncompressed ``.npz`` archive."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def npy_parts(array: np.ndarray) -> tuple[bytes, memoryview]:
    """An array as an ``.npy`` file in two parts: its header, then its values where they lie (C order)."""
    array = np.ascontiguousarray(array)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
    return header.getvalue(), memoryview(array).toreadonly().cast("B")


class PartsResponse(Response):
    """A response whose body is sent as it is held, in parts (bytes-like), without joining them."""

    def __init__(self, parts: Sequence[Any], media_type: str, headers: Optional[Mapping[str, str]] = None) -> None:
        self.parts = list(parts)
        length = str(sum(len(p) for p in self.parts))
        super().__init__(None, media_type=media_type, headers={**(headers or {}), "content-length": length})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for i, part in enumerate(self.parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(self.parts) - 1})


CACHE = "cache"
"""The answer member holding the cache figures of one sending: JSON's last member, or X-RNTK-Cache-* headers."""


@dataclass(frozen=True)
class EncodedMatrices:
    """Matrices and their metadata, encoded once in the negotiated format, apart from the cache figures.

    Each sending adds the figures of that sending (`response`): a computed
    answer its own, an exact repeat all hits. A JSON body is kept as the
    object's members before the cache figures, which close it.
    """

    media_type: str
    body: tuple[Any, ...]
    headers: Mapping[str, str]

    @property
    def size(self) -> int:
        """Bytes held (without the cache figures)."""
        return sum(len(part) for part in self.body)

    def response(self, cache: Mapping[str, int]) -> "PartsResponse":
        """The answer with these cache figures, its body sent as it is held."""
        if self.media_type == JSON:
            closing = b',"' + CACHE.encode() + b'":' + dumps(dict(cache)) + b"}"
            return PartsResponse([*self.body, closing], JSON, self.headers)
        return PartsResponse(self.body, self.media_type, {**self.headers, **_meta_headers({CACHE: cache})})


def encode_matrices(matrices: Mapping[str, np.ndarray], meta: Mapping[str, Any], media_type: str) -> EncodedMatrices:
    """`matrices` (name -> array) and `meta` in the negotiated format, to be sent with cache figures.

    JSON puts everything in one object, the matrices first, then `meta` in
    its order, then the cache figures; npy/npz put the arrays in the body and
    `meta` in ``X-RNTK-<Name>`` headers (dicts flattened, lists comma-joined).
    """
    if media_type == JSON:
        members = memoryview(dumps({**matrices, **meta}))
        return EncodedMatrices(JSON, (members[:-1],), {})  # open: the cache figures close the object
    headers = _meta_headers(meta)
    if media_type == NPY and len(matrices) == 1:
        (array,) = matrices.values()
        return EncodedMatrices(NPY, npy_parts(array), headers)
    return EncodedMatrices(NPZ, (npz_bytes(matrices),), headers)


def _meta_headers(meta: Mapping[str, Any], prefix: str = "X-RNTK-") -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in meta.items():
        name = prefix + key.replace("_", "-").title()
        if isinstance(value, Mapping):
            headers.update(_meta_headers(value, name + "-"))
        elif isinstance(value, (list, tuple)):
            headers[name] = ",".join(str(v) for v in value)
        else:
            headers[name] = str(value)
    return headers
