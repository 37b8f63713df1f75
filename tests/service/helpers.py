"""Shared data makers and checks of the service tests."""

from __future__ import annotations

import io
import json
from typing import Optional

import numpy as np

from rntk_core import RNTKParams, gram, tiled_gram


def batch(n: int, seed: int = 0, m: int = 1, t_min: int = 3, t_max: int = 12) -> list:
    """n random sequences as JSON-ready lists; m = 1 gives lists of numbers."""
    rng = np.random.default_rng(seed)
    out = []
    for t in rng.integers(t_min, t_max + 1, size=n):
        seq = rng.normal(size=(int(t), m))
        out.append(seq[:, 0].tolist() if m == 1 else seq.tolist())
    return out


def expected(X: list, Z: Optional[list] = None, params: Optional[dict] = None, output: str = "ntk"):
    """What rntk_core itself answers."""
    p = RNTKParams.from_dict(params or {})
    return gram(X, Z, params=p, output=output)


def assert_matches_core(actual, X: list, Z: Optional[list] = None, params: Optional[dict] = None,
                        output: str = "ntk", block_size: int = 256) -> None:
    """`actual` is rntk_core's answer, bit for bit: what its block tiling gives with the
    service's block size, which the library guarantees equal to the whole-matrix `gram`."""
    p = RNTKParams.from_dict(params or {})
    tiled = tiled_gram(X, Z, params=p, output=output, block_size=block_size)
    whole = gram(X, Z, params=p, output=output)
    for got, want_tiled, want_whole in zip(
        (actual,) if output != "both" else actual,
        (tiled,) if output != "both" else tiled,
        (whole,) if output != "both" else whole, strict=True,
    ):
        got = np.asarray(got)
        assert np.array_equal(got, want_tiled)
        assert np.array_equal(got, want_whole)


def load_npy(content: bytes) -> np.ndarray:
    return np.load(io.BytesIO(content), allow_pickle=False)


def load_npz(content: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(content), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def npz(**arrays: np.ndarray) -> bytes:
    """An ``np.savez`` archive of `arrays` (uncompressed)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def request_entry(fields: dict) -> np.ndarray:
    """The ``request`` entry of an npz body: the UTF-8 JSON bytes of `fields` as uint8."""
    return np.frombuffer(json.dumps(fields).encode(), dtype=np.uint8)


def npz_body(batches: dict[str, list], fields: Optional[dict] = None) -> bytes:
    """An npz request body for `batches` (name -> list of sequences) and the other `fields`."""
    arrays: dict[str, np.ndarray] = {}
    for name, seqs in batches.items():
        arrays[f"{name}_values"] = np.concatenate([np.asarray(s, dtype=np.float64) for s in seqs])
        arrays[f"{name}_lengths"] = np.array([len(s) for s in seqs], dtype=np.int64)
    if fields is not None:
        arrays["request"] = request_entry(fields)
    return npz(**arrays)


NPZ_HEADERS = {"Content-Type": "application/x-npz"}


def post_npz(client, body: bytes, path: str = "/gram", **headers: str):
    """POST an npz body through a test client (extra headers, e.g. ``Accept``, as keywords)."""
    return client.post(path, content=body, headers={**NPZ_HEADERS, **headers})
