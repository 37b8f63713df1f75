"""The boundary to `rntk_core`: request data in, library objects out, its errors as ours.

The library reports bad input as `ValueError`s that start with the field at
fault (``"X[3]: contains NaN ..."``, ``"sigma_w: must be >= 0"``). Here they
become `InvalidInput` (422) with the same message, placed under ``body.`` like
the validation errors of the request schema.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator, Optional


from rntk_core import RNTKParams, SequenceBatch, as_sequences

from ..errors import InvalidInput

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
    """Validated (T_i, m) float64 arrays from a request batch (`rntk_core.as_sequences`), errors under ``body.``.

    A `SequenceBatch` (an npz body) passes through; one whose m differs from
    the other batch's is named by its values array.
    """
    if isinstance(batch, SequenceBatch) and m is not None and batch.m != m:
        raise InvalidInput(f"body.{name}_values: has m={batch.m} features per step but the other batch has m={m}")
    with library_errors():
        return as_sequences(batch, name, m=m)
