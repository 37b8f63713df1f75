"""Hypothesis strategies of npz request bodies: valid ones and every way of getting one wrong.

Used by the property test of the npz decoder and registered with schemathesis
for the ``application/x-npz`` request bodies the OpenAPI document declares.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

VALUE_DTYPES = ["<f8"] * 8 + [">f8", "<f4", "<i8", "|b1"]
LENGTH_DTYPES = ["<i8"] * 8 + [">i8", "<i4", "<f8", "<u8"]
LENGTHS = [1, 2, 3, 4] * 4 + [0, -1]
REQUESTS = [b"{}", b'{"output": "both"}', b'{"params": {"sigma_b": 0.2, "n_layers": 2}}',
            b'{"params": {"sigma_w": -1}}', b"[]", b"not json", b'{"X": [[1.0]]}', b"\xff\xfe",
            b'{"y": [1.0, 2.0], "ridge": 0.1}', b'{"model_id": "x"}']
"""JSON objects valid for one endpoint or another, and JSON that is not."""

_values = st.floats(allow_nan=True, allow_infinity=True, min_value=None, max_value=None, width=64)
_modest = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False)


@st.composite
def _batch(draw: st.DrawFn, m: int) -> dict[str, np.ndarray]:
    """The two entries of one batch; usually consistent, sometimes not."""
    n = draw(st.integers(0, 4))
    lengths = draw(st.lists(st.sampled_from(LENGTHS), min_size=n, max_size=n))
    rows = max(0, sum(lengths) + draw(st.sampled_from([0] * 8 + [1, -1])))
    shape = (rows,) if m == 1 and draw(st.booleans()) else (rows, m)
    dtype = draw(st.sampled_from(VALUE_DTYPES))
    elements = draw(st.sampled_from([_modest] * 4 + [_values])) if dtype.endswith("f8") else None
    values = draw(arrays(np.dtype(dtype), shape, elements=elements))
    return {"values": values, "lengths": np.array(lengths).astype(draw(st.sampled_from(LENGTH_DTYPES)))}


@st.composite
def npz_bodies(draw: st.DrawFn) -> bytes:
    """An npz request body: X (and maybe Z), maybe a ``request`` entry, maybe damaged."""
    rare = lambda: draw(st.integers(0, 9)) == 9  # noqa: E731
    m = draw(st.sampled_from([1, 1, 2, 3, 0]))
    entries: dict[str, np.ndarray] = {}
    for name in ["X"] + (["Z"] if draw(st.integers(0, 3)) == 3 else []):
        batch = draw(_batch(draw(st.integers(0, 3)) if rare() else m))
        entries.update({f"{name}_{part}": array for part, array in batch.items()})
    if draw(st.booleans()):
        entries["request"] = np.frombuffer(draw(st.sampled_from(REQUESTS)), dtype=np.uint8)
    if rare():
        del entries[draw(st.sampled_from(sorted(entries)))]
    if rare():
        entries["extra"] = np.zeros(2)
    buf = io.BytesIO()
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buf, **entries)
    body = buf.getvalue()
    if rare():
        body = body[: draw(st.integers(0, len(body)))]
    elif rare():
        body = _object_entry()
    return body


def _object_entry() -> bytes:
    """An archive whose X_values is a pickled object array."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        inner = io.BytesIO()
        np.save(inner, np.array([1.0, "a"], dtype=object), allow_pickle=True)
        zf.writestr("X_values.npy", inner.getvalue())
        inner = io.BytesIO()
        np.save(inner, np.array([2], dtype=np.int64))
        zf.writestr("X_lengths.npy", inner.getvalue())
        zf.writestr("request.npy", _npy(np.frombuffer(json.dumps({}).encode(), dtype=np.uint8)))
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()
