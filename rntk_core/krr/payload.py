"""A fitted model (`FittedState`) as a safe, versioned, self-describing payload.

`KernelRidge.to_bytes` / ``from_bytes`` call `dumps` / `loads`; this module
works on the fitted state alone and never imports the estimator.

The payload is a NumPy `.npz` archive, read back with ``allow_pickle=False``,
so loading it executes nothing. It holds plain arrays and one JSON document:

``metadata`` (uint8, UTF-8 JSON)
    ``format`` (``"rntk_core.KernelRidge"``), ``format_version``,
    ``library_version``, ``params`` (`RNTKParams.to_dict`), ``kernel``,
    ``task``, ``ridge`` (the ridge used), ``ridge_setting`` (``"auto"`` or the
    number given), ``classes`` and ``classes_dtype`` (classification),
    ``n_train``, ``m``, ``min_length``, ``max_length``, ``n_outputs``,
    ``output_ndim``, ``has_cholesky`` and ``loo_curve`` (lists, ``null`` for
    non-finite entries, or ``null`` when the ridge was given).
``sequences`` (sum of lengths, m) float64 and ``lengths`` (n_train,) int64
    The training sequences, concatenated in order.
``dual_coef`` float64
    α, shaped as the model's ``dual_coef_``.
``cholesky`` (n_train·(n_train+1)/2,) float64, NNGP models only
    The rows of the lower Cholesky factor of K + λI, each up to its
    diagonal: what posterior variances need.

Class labels are read back as exactly the values they were, in value and
type, and checked against ``classes_dtype``: any int, any str of Unicode text
(NULs, the empty string and astral-plane characters included). A str holding
a surrogate code point is refused at save (JSON cannot carry it exactly).

Everything prediction uses is stored exactly (JSON floats are written with
their shortest round-tripping representation), so a loaded model predicts
bit-for-bit what the saved one did.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any, Optional

import numpy as np

from .. import __version__
from ..gram import KERNELS
from ..params import RNTKParams
from ..sequences import as_sequences
from ._labels import labels_from_json, labels_to_json
from .state import TASKS, FittedState, check_ridge

FORMAT_NAME = "rntk_core.KernelRidge"
FORMAT_VERSION = 1
_ARRAYS = {"metadata", "sequences", "lengths", "dual_coef", "cholesky"}

__all__ = ["dumps", "loads", "payload_metadata", "FORMAT_NAME", "FORMAT_VERSION"]


def dumps(state: FittedState) -> bytes:
    """Serialize a fitted model (``KernelRidge.to_bytes`` calls this).

    Raises
    ------
    ValueError
        If the model holds no training sequences (fitted on a Gram alone), if
        a class label is not a JSON scalar (str, int, finite float, bool) or
        is a str holding a surrogate code point (not Unicode text).
    """
    xs = state.X
    if xs is None:
        raise ValueError(
            "X: this model holds no training sequences (fit_gram was called without X), and a saved "
            "model must predict from sequences; pass the training sequences to fit_gram as X"
        )
    lengths = np.array([s.shape[0] for s in xs], dtype=np.int64)
    dual = np.ascontiguousarray(state.dual_coef, dtype=np.float64)
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "params": state.params.to_dict(),
        "kernel": state.kernel,
        "task": state.task,
        "ridge": state.ridge,
        "ridge_setting": state.ridge_setting,
        "classes": None if state.classes is None else labels_to_json(state.classes),
        "classes_dtype": None if state.classes is None else state.classes.dtype.str,
        "n_train": len(xs),
        "m": int(xs[0].shape[1]),
        "min_length": int(lengths.min()),
        "max_length": int(lengths.max()),
        "n_outputs": int(dual.shape[1]) if dual.ndim == 2 else 1,
        "output_ndim": int(dual.ndim),
        "has_cholesky": state.kernel == "nngp" and state.cholesky is not None,
        "loo_curve": None if state.loo_curve is None else {
            key: [float(v) if math.isfinite(v) else None for v in values.tolist()]
            for key, values in state.loo_curve.items()
        },
    }
    arrays = {
        "metadata": np.frombuffer(json.dumps(meta, allow_nan=False).encode("utf-8"), dtype=np.uint8),
        "sequences": np.concatenate(xs, axis=0),
        "lengths": lengths,
        "dual_coef": dual,
    }
    if meta["has_cholesky"]:
        L = state.cholesky
        arrays["cholesky"] = np.concatenate([L[i, : i + 1] for i in range(L.shape[0])])
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def payload_metadata(data: bytes) -> dict[str, Any]:
    """The JSON metadata of a payload, read without loading its arrays.

    Raises
    ------
    ValueError
        If `data` is not a payload of a known format and version.
    """
    with _open(data) as archive:
        return _metadata(archive)


def loads(data: bytes) -> FittedState:
    """The fitted state `dumps` saved, every array validated against the metadata.

    Parameters
    ----------
    data : bytes
        A payload from `dumps` / ``KernelRidge.to_bytes``.

    Raises
    ------
    ValueError
        On anything but an intact payload of a supported format version.
    """
    with _open(data) as archive:
        meta = _metadata(archive)
        unknown = sorted(set(archive.files) - _ARRAYS)
        if unknown:
            raise ValueError(f"payload: unexpected array {unknown[0]!r}")
        arrays = {name: _array(archive, name) for name in _ARRAYS - {"metadata"} if name in archive.files}
    try:
        return _rebuild(meta, arrays)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"payload: corrupt metadata ({type(exc).__name__}: {exc})") from None


def _open(data: bytes) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"payload: expected bytes, got {type(data).__name__}")
    try:
        archive = np.load(io.BytesIO(bytes(data)), allow_pickle=False)
    except Exception as exc:  # any unreadable input is reported the same way
        raise ValueError(f"payload: not a KernelRidge payload ({type(exc).__name__}: {exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("payload: not a KernelRidge payload (a bare array, not an .npz archive)")
    return archive


def _array(archive: Any, name: str) -> np.ndarray:
    try:
        return archive[name]
    except Exception as exc:
        raise ValueError(f"payload: array {name!r} is unreadable ({type(exc).__name__}: {exc})") from None


def _metadata(archive: Any) -> dict[str, Any]:
    if "metadata" not in archive.files:
        raise ValueError("payload: not a KernelRidge payload (no 'metadata' entry)")
    raw = _array(archive, "metadata")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError("payload: 'metadata' must be a 1-D uint8 array of UTF-8 JSON")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"payload: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ValueError(f"payload: not a KernelRidge payload (format is not {FORMAT_NAME!r})")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"payload: unsupported format_version {version!r}; this library "
            f"(rntk_core {__version__}) reads version {FORMAT_VERSION}"
        )
    return meta


def _rebuild(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> FittedState:
    task, kernel = meta["task"], meta["kernel"]
    if task not in TASKS or kernel not in KERNELS:
        raise ValueError(f"payload: unknown task {task!r} or kernel {kernel!r}")
    try:
        params = RNTKParams.from_dict(meta["params"])
    except ValueError as exc:
        raise ValueError(f"payload: invalid params ({exc})") from None
    n, m, k = _count(meta, "n_train", 1), _count(meta, "m", 1), _count(meta, "n_outputs", 1)
    ridge_setting = _ridge(meta, "ridge_setting")

    lengths = _expect(arrays, "lengths", (n,), "i")
    if np.any(lengths < 1):
        raise ValueError("payload: 'lengths' holds a length below 1")
    sequences = _expect(arrays, "sequences", (int(lengths.sum()), m), "f")
    xs = as_sequences(np.split(sequences, np.cumsum(lengths)[:-1]), "payload sequences")

    output_ndim = meta["output_ndim"]
    if output_ndim not in (1, 2) or (output_ndim == 1 and k != 1):
        raise ValueError(f"payload: inconsistent output_ndim {output_ndim!r} for n_outputs {k}")
    dual_coef = _expect(arrays, "dual_coef", (n,) if output_ndim == 1 else (n, k), "f")

    classes = None
    if task == "classification":
        classes = labels_from_json(meta["classes"], meta["classes_dtype"], k, output_ndim)
    cholesky = None
    if meta["has_cholesky"]:
        packed = _expect(arrays, "cholesky", (n * (n + 1) // 2,), "f")
        cholesky = np.zeros((n, n))
        starts = np.arange(n) * (np.arange(n) + 1) // 2
        for i, start in enumerate(starts):
            cholesky[i, : i + 1] = packed[start : start + i + 1]
    elif "cholesky" in arrays:
        raise ValueError("payload: 'cholesky' present but has_cholesky is false")

    ridge = _ridge(meta, "ridge")
    if ridge == "auto":
        raise ValueError("payload: ridge must be the number used, not 'auto'")
    return FittedState(params=params, kernel=kernel, task=task, ridge=ridge, ridge_setting=ridge_setting,
                       dual_coef=dual_coef, classes=classes, loo_curve=_curve_from_json(meta["loo_curve"]),
                       cholesky=cholesky, X=xs)


def _ridge(meta: dict[str, Any], key: str) -> Any:
    try:
        return check_ridge(meta[key])
    except ValueError as exc:
        raise ValueError(f"payload: invalid {key} ({exc})") from None


def _count(meta: dict[str, Any], key: str, minimum: int) -> int:
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"payload: {key} must be an integer >= {minimum}, got {value!r}")
    return value


def _expect(arrays: dict[str, np.ndarray], name: str, shape: tuple, kind: str) -> np.ndarray:
    if name not in arrays:
        raise ValueError(f"payload: array {name!r} is missing")
    a = arrays[name]
    if a.shape != shape or a.dtype.kind != kind:
        raise ValueError(
            f"payload: array {name!r} has shape {a.shape} and dtype {a.dtype}, "
            f"expected shape {shape} of kind {kind!r}"
        )
    if kind == "f":
        if a.dtype != np.float64 or not np.all(np.isfinite(a)):
            raise ValueError(f"payload: array {name!r} must be finite float64")
    return a


def _curve_from_json(curve: Any) -> Optional[dict[str, np.ndarray]]:
    if curve is None:
        return None
    if not isinstance(curve, dict) or not {"ridge", "loo_mse"} <= set(curve):
        raise ValueError("payload: loo_curve must hold 'ridge' and 'loo_mse'")
    fill = {"loo_mse": np.inf}
    return {
        key: np.array([fill.get(key, np.nan) if v is None else v for v in values], dtype=np.float64)
        for key, values in curve.items()
    }
