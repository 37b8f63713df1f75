"""The boundary to `rntk_core`: request data in, library objects out, its errors as ours.

The library reports bad input as `ValueError`s that start with the field at
fault (``"X[3]: contains NaN ..."``, ``"sigma_w: must be >= 0"``). Here they
become `InvalidInput` (422) with the same message, placed under ``body.`` like
the validation errors of the request schema.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from typing import Any, Iterator, Optional

import numpy as np

from rntk_core import RNTKParams
from rntk_core.sequences import SequenceBatch, as_sequences

from .errors import InvalidInput

_FIELD_FIRST = re.compile(r"^[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*)?:")


def _where(message: str, prefix: str) -> str:
    return f"{prefix}{message}" if _FIELD_FIRST.match(message) else message


@contextlib.contextmanager
def library_errors(prefix: str = "body.") -> Iterator[None]:
    """Turn a library `ValueError` into `InvalidInput`, its field placed under `prefix`."""
    try:
        yield
    except InvalidInput:
        raise
    except ValueError as exc:
        raise InvalidInput(_where(str(exc), prefix)) from exc


def to_params(given: dict[str, Any]) -> RNTKParams:
    """`RNTKParams` from the request's ``params`` object."""
    with library_errors("body.params."):
        return RNTKParams.from_dict(given)


def to_sequences(batch: Any, name: str, m: Optional[int] = None) -> SequenceBatch:
    """Validated (T_i, m) float64 arrays from a request batch.

    A batch of plain lists of numbers (m = 1, the common case) is converted in
    one vectorised pass; anything else, and every batch that fails a check,
    goes through `rntk_core.sequences.as_sequences`, whose errors name the
    sequence at fault. A `SequenceBatch` (an npz body) passes through.
    """
    if isinstance(batch, SequenceBatch):
        if m is not None and batch.m != m:
            raise InvalidInput(f"body.{name}_values: has m={batch.m} features per step but the other batch has m={m}")
    elif m in (None, 1):
        flat = _numbers_batch(batch)
        if flat is not None:
            return flat
    with library_errors():
        return as_sequences(batch, name, m=m)


def _numbers_batch(batch: Any) -> Optional[SequenceBatch]:
    """The m = 1 batch of a list of non-empty lists of finite numbers (as the request schema
    validated them), or None when the batch is anything else."""
    if not isinstance(batch, list) or not batch:
        return None
    lengths = np.fromiter((len(s) if isinstance(s, list) else 0 for s in batch), dtype=np.int64, count=len(batch))
    if lengths.min() < 1:
        return None
    try:
        values = np.fromiter(itertools.chain.from_iterable(batch), dtype=np.float64, count=int(lengths.sum()))
    except (TypeError, ValueError):  # a step is a list (m > 1, or mixed): the general path
        return None
    if not np.isfinite(values).all():
        return None
    return split_batch(values.reshape(-1, 1), lengths)


def split_batch(values: np.ndarray, lengths: np.ndarray) -> SequenceBatch:
    """The batch whose sequences are consecutive runs of `lengths` rows of `values`, as views.

    `values` must be a C-contiguous (sum of lengths, m) float64 array of finite
    values and every length >= 1: `SequenceBatch` trusts its contents. The
    array is made read-only, since the batch's sequences must never change.
    """
    values.flags.writeable = False
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends[:-1]]
    return SequenceBatch([values[a:b] for a, b in zip(starts, ends)], values.shape[1])


def overflow_error(xs: list[np.ndarray], name: str = "X") -> InvalidInput:
    """The error for a kernel that left the float64 range (inputs of enormous magnitude)."""
    largest = max(float(np.max(np.abs(s))) for s in xs)
    return InvalidInput(
        f"body.{name}: the kernel is not finite in float64 for these inputs (largest |value| "
        f"{largest:.3g}); rescale the sequences"
    )
