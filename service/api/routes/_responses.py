"""OpenAPI descriptions of the error answers every route may give."""

from __future__ import annotations

from typing import Any

from ...wire.answers import NPY, NPZ
from ..schemas import ErrorBody

_ERR = {"model": ErrorBody}

BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {**_ERR, "description": "The body or the work exceeds a configured limit (named in `detail`)."},
    422: {**_ERR, "description": "Invalid input; `detail` and `errors` name each field at fault."},
    503: {**_ERR, "description": "Busy (every compute slot and queue place taken) or the model store is "
                                 "unreachable; see `Retry-After`."},
}

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {**_ERR, "description": "No model with this id."},
}

MODEL_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    422: BODY_ERRORS[422],
    503: {**_ERR, "description": "The model store is unreachable; see `Retry-After`."},
}

MATRICES = {
    "description": "The kernels. JSON by default; with `Accept: application/x-npy` a single matrix as "
                   "NumPy `.npy` bytes (`.npz` for several, or with `Accept: application/x-npz`), the "
                   "shape and cache figures then in `X-RNTK-Shape` and `X-RNTK-Cache-*` headers.",
    "content": {
        NPY: {"schema": {"type": "string", "format": "binary"}},
        NPZ: {"schema": {"type": "string", "format": "binary"}},
    },
}
