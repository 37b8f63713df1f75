"""Request bodies the client sends: batches checked and laid out as npz arrays, or JSON-ready lists."""

from __future__ import annotations

import io
import json
from typing import Any, Mapping, Optional

import numpy as np


def _checked_sequence(seq: Any, name: str, i: int) -> np.ndarray:
    """One sequence as float64, refused if its rank is wrong or it holds NaN or infinite values."""
    arr = np.asarray(seq, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}[{i}]: a sequence must have shape (T,) or (T, m), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}[{i}]: contains NaN or infinite values")
    return arr


def _check_array_batch(X: Any, name: str) -> None:
    """An array batch must be (N, T) or (N, T, m)."""
    if X.ndim not in (2, 3):
        raise ValueError(f"{name}: an array batch must have shape (N, T) or (N, T, m), got {X.shape}")


def json_batch(X: Any, name: str) -> list:
    """A batch as JSON-ready lists, refusing non-finite values here (JSON cannot carry them)."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        _check_array_batch(X, name)
    return [_checked_sequence(seq, name, i).tolist() for i, seq in enumerate(X)]


def _batch_arrays(X: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch as (values, lengths): every sequence's steps concatenated, and each one's length.

    Refuses here what the request could not carry or the service would refuse
    anyway: a sequence of the wrong rank, non-finite values, or an m that differs
    from the first sequence's.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        _check_array_batch(X, name)
        arr = np.ascontiguousarray(X, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}]: contains NaN or infinite values")
        n, t = arr.shape[:2]
        return arr.reshape(n * t, *arr.shape[2:]), np.full(n, t, dtype=np.int64)
    seqs: list[np.ndarray] = []
    m: Optional[int] = None
    for i, seq in enumerate(X):
        arr = _checked_sequence(seq, name, i)
        seq_m = 1 if arr.ndim == 1 else arr.shape[1]
        if m is None:
            m = seq_m
        elif seq_m != m:
            raise ValueError(f"{name}[{i}]: has m={seq_m} features per step but {name}[0] has m={m}")
        seqs.append(arr)
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    if not seqs:
        return np.zeros(0), lengths
    if all(s.ndim == 1 for s in seqs):
        return np.concatenate(seqs), lengths
    return np.concatenate([s.reshape(s.shape[0], -1) for s in seqs]), lengths


def npz_request(batches: Mapping[str, Any], fields: Mapping[str, Any]) -> bytes:
    """An ``application/x-npz`` request body: each batch B (``"X"``, ``"Z"``) as ``B_values``
    (float64 steps, concatenated) and ``B_lengths`` (int64), `fields` (the request's other
    members, JSON-ready) as the UTF-8 JSON bytes of a uint8 ``request`` entry."""
    arrays: dict[str, np.ndarray] = {}
    for name, X in batches.items():
        arrays[f"{name}_values"], arrays[f"{name}_lengths"] = _batch_arrays(X, name)
    arrays["request"] = np.frombuffer(json.dumps(dict(fields)).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def plain(value: Any) -> Any:
    """NumPy arrays and scalars (labels, targets) as plain Python values for JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def params_dict(params: Any) -> Optional[dict]:
    """Parameters as a dict: a mapping, an object with ``to_dict()`` (`rntk_core.RNTKParams`), or None."""
    if params is None:
        return None
    if hasattr(params, "to_dict"):
        params = params.to_dict()
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict or RNTKParams, got {type(params).__name__}")
    return {k: plain(v) for k, v in params.items()}
