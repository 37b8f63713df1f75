"""Validation of user-supplied batches of variable-length sequences.

Every public entry point funnels its input through `as_sequences`, so the
numerical core only ever sees finite, C-contiguous float64 arrays of shape
(T, m) with T >= 1 and one m shared by the whole batch.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np


def as_sequences(batch: Any, name: str = "X", m: Optional[int] = None) -> list[np.ndarray]:
    """Validate a batch of sequences and return them as (T_i, m) float64 arrays.

    Parameters
    ----------
    batch : sequence of array-likes, or an ndarray of shape (N, T) or (N, T, m)
        Each item is one sequence, shaped (T_i,) when m = 1 or (T_i, m).
    name : str
        Name used in error messages (``"X"`` gives ``"X[3]: ..."``).
    m : int, optional
        Required feature dimension (to match another batch).

    Raises
    ------
    ValueError
        Naming the offending sequence: empty batch or sequence, wrong rank,
        non-numeric or non-finite values, or a feature dimension that differs
        from the rest of the batch.
    """
    if isinstance(batch, np.ndarray):
        if batch.ndim not in (2, 3):
            raise ValueError(
                f"{name}: an array batch must have shape (N, T) or (N, T, m), got {batch.shape}"
            )
        items: Iterable[Any] = list(batch)
    elif isinstance(batch, (str, bytes)) or not hasattr(batch, "__len__"):
        raise ValueError(f"{name}: expected a list of sequences, got {type(batch).__name__}")
    else:
        items = batch
    out: list[np.ndarray] = []
    for i, item in enumerate(items):
        seq = _as_sequence(item, f"{name}[{i}]")
        if m is None:
            m = seq.shape[1]
        elif seq.shape[1] != m:
            first = f"{name}[0]" if out else "the other batch"
            raise ValueError(
                f"{name}[{i}]: has m={seq.shape[1]} features per step but {first} has m={m}"
            )
        out.append(seq)
    if not out:
        raise ValueError(f"{name}: the batch holds no sequences")
    return out


def _as_sequence(item: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(item, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: not a numeric array ({exc})") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim != 2:
        raise ValueError(f"{where}: expected shape (T,) or (T, m), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{where}: empty sequence (length 0)")
    if arr.shape[1] == 0:
        raise ValueError(f"{where}: steps have no features (m = 0)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: contains NaN or infinite values")
    return np.ascontiguousarray(arr)
