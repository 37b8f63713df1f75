"""Response bodies: JSON through orjson, NumPy ``.npy`` / ``.npz`` for matrices.

A 2000×2000 Gram is 32 MB of float64 and about 80 MB of JSON text; clients
that ask for ``Accept: application/x-npy`` get the raw array (``.npz`` when
the answer holds several), with the shape and cache figures in headers.
`MatrixAnswer` allocates the matrices of an answer for its format: a single
``.npy`` matrix lives inside the response body itself, so the Gram is
assembled where it will be sent from, with no copy in between.
"""

from __future__ import annotations

import io
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import orjson
from starlette.responses import Response

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
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Several named arrays in an uncompressed ``.npz`` archive."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.ascontiguousarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def npy_body(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """An uninitialised ``.npy`` file of a float64 array of `shape`, and that array inside it (a view).

    Returns ``(body, array)``: `body` is the whole file as uint8, ready to send
    once `array` has been filled.
    """
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": tuple(shape)})
    size = header.tell()
    body = np.empty(size + 8 * int(np.prod(shape)), dtype=np.uint8)
    body[:size] = np.frombuffer(header.getbuffer(), dtype=np.uint8)
    return body, body[size:].view("<f8").reshape(shape)


class MatrixAnswer:
    """The matrices of one answer (name -> array, to be filled), allocated for the answer's format."""

    def __init__(self, names: Sequence[str], shape: tuple[int, int], media_type: str) -> None:
        self.media_type = media_type
        self._npy: Optional[np.ndarray] = None
        if media_type == NPY and len(names) == 1:
            self._npy, array = npy_body(shape)
            self.matrices = {names[0]: array}
        else:
            self.matrices = {name: np.empty(shape) for name in names}

    def response(self, meta: Mapping[str, Any]) -> Response:
        """The answer, once the matrices are filled, with `meta` (see `matrices_response`)."""
        if self._npy is not None:
            return Response(memoryview(self._npy), media_type=NPY, headers=_meta_headers(meta))
        return matrices_response(self.matrices, meta, self.media_type)


def matrices_response(
    matrices: Mapping[str, np.ndarray], meta: Mapping[str, Any], media_type: str
) -> Response:
    """The answer holding `matrices` (name -> array) and `meta`, in the negotiated format.

    JSON puts everything in one object, the matrices first and then `meta` in
    its order; npy/npz put the arrays in the body and
    `meta` in ``X-RNTK-<Name>`` headers (dicts flattened, lists comma-joined).
    """
    if media_type == JSON:
        return Response(dumps({**matrices, **meta}), media_type=JSON)
    headers = _meta_headers(meta)
    if media_type == NPY and len(matrices) == 1:
        (array,) = matrices.values()
        return Response(npy_bytes(array), media_type=NPY, headers=headers)
    return Response(npz_bytes(matrices), media_type=NPZ, headers=headers)


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
