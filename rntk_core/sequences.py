"""Validation of user-supplied batches of variable-length sequences.

Every public entry point funnels its input through `as_sequences`, so the
numerical core only ever sees finite, C-contiguous float64 arrays of shape
(T, m) with T >= 1 and one m shared by the whole batch.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Optional

import numpy as np


class SequenceBatch(list):
    """A list of sequences that `as_sequences` has already validated.

    Passing it (or a slice of it) to any entry point again costs nothing: a
    caller that validates a batch once and then computes it block by block
    pays for validation once, not once per block. It cannot be changed; its
    arrays must not be changed either.
    """

    m: int

    def __init__(self, sequences: Iterable[np.ndarray], m: int) -> None:
        super().__init__(sequences)
        self.m = m

    @classmethod
    def from_concatenated(cls, values: np.ndarray, lengths: Any, name: str = "X") -> "SequenceBatch":
        """The batch whose sequences are consecutive runs of `lengths` rows of `values`, as read-only views.

        The layout of a batch sent as two arrays (an ``.npz`` body, a stored
        model): `values` is (sum of lengths, m) float64, C-contiguous, and is
        made read-only, since the batch's sequences must never change. Raises
        `ValueError` naming the sequence if a length is below 1, the lengths do
        not cover the rows, or a value is not finite.
        """
        lengths = np.asarray(lengths, dtype=np.int64)
        if not (isinstance(values, np.ndarray) and values.dtype == np.float64 and values.ndim == 2
                and values.flags.c_contiguous and values.shape[1] >= 1):
            raise ValueError(f"{name}: expected a C-contiguous (rows, m) float64 array of values")
        if lengths.ndim != 1 or lengths.shape[0] == 0:
            raise ValueError(f"{name}: the batch holds no sequences")
        if lengths.min() < 1:
            raise ValueError(f"{name}[{int(np.argmin(lengths))}]: empty sequence (length 0)")
        ends = np.cumsum(lengths)
        if int(ends[-1]) != values.shape[0]:
            raise ValueError(f"{name}: the lengths sum to {int(ends[-1])} but there are {values.shape[0]} rows")
        finite = np.isfinite(values).all(axis=1)
        if not finite.all():
            row = int(np.argmin(finite))
            raise ValueError(f"{name}[{int(np.searchsorted(ends, row, side='right'))}]: contains NaN or infinite values")
        values.flags.writeable = False
        stops = ends.tolist()
        starts = [0, *stops[:-1]]
        return cls([values[a:b] for a, b in zip(starts, stops)], values.shape[1])

    def __getitem__(self, index):  # type: ignore[override]
        item = super().__getitem__(index)
        return SequenceBatch(item, self.m) if isinstance(index, slice) else item

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a validated SequenceBatch cannot be changed; build a new one with as_sequences")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only  # type: ignore[assignment]


def as_sequences(batch: Any, name: str = "X", m: Optional[int] = None) -> SequenceBatch:
    """Validate a batch of sequences and return them as (T_i, m) float64 arrays.

    Parameters
    ----------
    batch : sequence of array-likes, or an ndarray of shape (N, T) or (N, T, m)
        Each item is one sequence, shaped (T_i,) when m = 1 or (T_i, m).
    name : str
        Name used in error messages (``"X"`` gives ``"X[3]: ..."``).
    m : int, optional
        Required feature dimension (to match another batch).

    Returns
    -------
    SequenceBatch
        The validated arrays; a `SequenceBatch` given here is returned as it is.

    Raises
    ------
    ValueError
        Naming the offending sequence: empty batch or sequence, wrong rank,
        non-numeric or non-finite values, or a feature dimension that differs
        from the rest of the batch.
    """
    if isinstance(batch, SequenceBatch) and len(batch) and (m is None or batch.m == m):
        return batch
    if m in (None, 1):
        numbers = _numbers_batch(batch, name)
        if numbers is not None:
            return numbers
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
    return SequenceBatch(out, m)


def _numbers_batch(batch: Any, name: str) -> Optional[SequenceBatch]:
    """A list of lists of finite numbers (m = 1, the common case of JSON input) converted in one
    vectorised pass, or None when the batch is anything else (the general path then names the fault)."""
    if not isinstance(batch, list) or not batch:
        return None
    lengths = np.fromiter((len(s) if isinstance(s, list) else 0 for s in batch), dtype=np.int64, count=len(batch))
    if lengths.min() < 1:
        return None
    try:
        values = np.fromiter(itertools.chain.from_iterable(batch), dtype=np.float64, count=int(lengths.sum()))
    except (TypeError, ValueError):  # a step is a list (m > 1, or mixed), or not a number
        return None
    if not np.isfinite(values).all():
        return None
    return SequenceBatch.from_concatenated(values.reshape(-1, 1), lengths, name)


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
