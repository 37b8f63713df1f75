"""Class labels kept exactly as given: as arrays, as class codes, and as JSON in a payload.

A label array holds the values themselves, in value and Python type; the
payload writes them as JSON scalars and reads back exactly what was written,
checked against the dtype recorded beside them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LABEL_KINDS = "UbiufO"
"""dtype kinds a label array may have: str, bool, int, unsigned, float, object."""


def as_label_array(y: Any) -> np.ndarray:
    """Labels as a 1-D array that holds exactly the values given.

    A NumPy dtype is used when it keeps every label as it is, else an object
    array of the values themselves: fixed-width strings drop trailing NULs
    (``"a"`` and ``"a\\0"`` would merge), int64 cannot hold 2**63 (NumPy then
    picks float64, merging large neighbours), and a mix of str and int would
    become all str. A 1-D ndarray is taken as it is.
    """
    if isinstance(y, np.ndarray) and y.ndim == 1:
        return y
    items = list(y) if hasattr(y, "__iter__") and not isinstance(y, (str, bytes)) else None
    if items is None:
        raise ValueError(f"y: expected a sequence of labels, got {type(y).__name__}")
    arr = np.asarray(items) if items else np.empty(0)
    if arr.ndim != 1 or arr.dtype.kind == "O" or not same_labels(arr.tolist(), items):
        arr = _object_array(items)
    return arr


def same_labels(found: list, given: list) -> bool:
    """Whether `found` holds `given`'s labels, equal in value and of the same Python type.

    NumPy scalars in `given` count as the Python values they hold (``np.int64(3)`` is 3).
    """
    if len(found) != len(given):
        return False
    for a, b in zip(found, given):
        b = b.item() if isinstance(b, np.generic) else b
        if type(a) is not type(b) or a != b:
            return False
    return True


def encode_labels(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels (first-seen order if they do not sort) and each label's index."""
    labels = as_label_array(y)
    if labels.shape[0] != n:
        raise ValueError(f"y: has {labels.shape[0]} labels but X has {n} sequences")
    for i, v in enumerate(labels):
        try:
            hash(v)
        except TypeError:
            raise ValueError(f"y[{i}]: label {v!r} is not hashable") from None
        if v is None or (isinstance(v, (float, np.floating)) and not math.isfinite(v)):
            raise ValueError(f"y: contains a missing label (NaN, inf or None) at y[{i}]")
    try:
        classes = np.unique(labels)
    except TypeError:
        classes = _object_array(list(dict.fromkeys(labels.tolist())))
    if len(classes) < 2:
        raise ValueError(
            f"y: classification needs at least 2 classes, got only {classes[0]!r}"
        )
    index = {c: j for j, c in enumerate(classes.tolist())}
    codes = np.fromiter((index[v] for v in labels.tolist()), dtype=np.int64, count=n)
    return classes, codes


def labels_to_json(classes: np.ndarray) -> list:
    """The labels as JSON scalars, each read back as exactly the value it was (see `labels_from_json`).

    Any int (JSON integers have no size limit) and any str of Unicode text,
    NULs and astral-plane characters included, is kept. A str holding a
    surrogate code point is refused: it is not Unicode text, and JSON's
    ``\\uXXXX`` escapes read a high surrogate followed by a low one as the one
    character the pair encodes, so such a label could come back changed.
    """
    out = []
    for label in classes.tolist():
        if isinstance(label, np.generic):
            label = label.item()
        ok = isinstance(label, (str, bool, int)) or (isinstance(label, float) and math.isfinite(label))
        if not ok:
            raise ValueError(
                f"classes_: label {label!r} of type {type(label).__name__} cannot be stored in a "
                "payload; use str, int, bool or float labels"
            )
        if isinstance(label, str):
            try:
                label.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(
                    f"classes_: label {label!r} holds the surrogate code point U+{ord(label[exc.start]):04X}, "
                    "which is not Unicode text and cannot be stored in a payload exactly; use labels of "
                    "Unicode text"
                ) from None
        out.append(label)
    return out


def labels_from_json(labels: Any, dtype_str: Any, k: int, output_ndim: int) -> np.ndarray:
    """The class array `labels_to_json` wrote, of dtype `dtype_str`; `ValueError` if it does not fit."""
    if output_ndim != 2 or not isinstance(labels, list) or len(labels) != k or k < 2:
        raise ValueError(f"payload: classes must be a list of n_outputs={k} >= 2 labels")
    try:
        dtype = np.dtype(dtype_str)
    except (TypeError, ValueError):
        raise ValueError(f"payload: unknown classes_dtype {dtype_str!r}") from None
    if dtype.kind not in LABEL_KINDS:
        raise ValueError(f"payload: classes_dtype {dtype_str!r} is not a label dtype")
    if dtype.kind == "O":
        classes = _object_array(labels)
    else:
        try:
            classes = np.array(labels, dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            classes = None
        if classes is None or not same_labels(classes.tolist(), labels):
            raise ValueError(f"payload: classes {labels!r} do not fit classes_dtype {dtype_str!r}")
    if len(set(classes.tolist())) != k:
        raise ValueError("payload: classes are not distinct")
    return classes


def _object_array(items: list) -> np.ndarray:
    """A 1-D object array holding `items` themselves (``np.array`` would nest sequences)."""
    arr = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        arr[i] = v
    return arr
