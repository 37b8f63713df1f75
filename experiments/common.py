"""Shared plumbing of the experiments: paths, seeds, progress bars, JSON results.

Every section writes one JSON file under ``<out>/results/`` and its figures
beside ``<out>/RESULTS.md``; the report is rendered from all JSON files that
exist, so running one section keeps the others' latest results.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from rntk_core import RNTKParams

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
DOCS = ROOT / "docs"

BASE_SEED = 20210503
"""The seed of every random draw in the experiments; sections derive theirs from it."""


def section_seed(name: str) -> int:
    """A fixed per-section seed, so running one section alone reproduces its numbers."""
    offsets = {"classification": 1, "regression": 2, "figure2": 3, "figure3": 4}
    return BASE_SEED + 1000 * offsets[name]


def progress(iterable: Iterable, **kwargs: Any):
    """A tqdm progress bar on stderr (the experiments extra provides tqdm)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, **kwargs)


def rntk_grid(grid: dict) -> Iterator[tuple[dict, RNTKParams]]:
    """Every single-layer ReLU RNTK of a grid {sigma_w, sigma_u, sigma_b, sigma_h: [values]}, in grid order."""
    for sw in grid["sigma_w"]:
        for su in grid["sigma_u"]:
            for sb in grid["sigma_b"]:
                for sh in grid["sigma_h"]:
                    hyper = {"sigma_w": sw, "sigma_u": su, "sigma_b": sb, "sigma_h": sh}
                    yield hyper, RNTKParams(**hyper)


class Stopwatch:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


def _plain(value: Any) -> Any:
    """Convert NumPy scalars and arrays (and non-finite floats) to JSON-ready values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def save_results(out: Path, name: str, payload: dict) -> Path:
    """Write one section's results to ``<out>/results/<name>.json``."""
    folder = out / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(_plain(payload), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return path


def load_results(out: Path) -> dict[str, dict]:
    """All sections' stored results, by section name."""
    found = {}
    for name in ("classification", "regression", "figure2", "figure3"):
        path = out / "results" / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def environment() -> dict[str, Any]:
    """Versions and machine facts recorded beside every section's numbers."""
    import numba

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
        "cpus": _cpu_count(),
    }
    for module in ("sklearn", "scipy", "matplotlib"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            pass
    return info


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def stamp() -> str:
    """The current UTC time, for the record."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def snr_db(target: np.ndarray, prediction: np.ndarray) -> float:
    """Prediction signal-to-noise ratio 10·log10(Σ y² / Σ (y − ŷ)²) in dB."""
    target = np.asarray(target, dtype=np.float64)
    error = float(np.sum((target - np.asarray(prediction, dtype=np.float64)) ** 2))
    power = float(np.sum(target ** 2))
    if error == 0:
        return math.inf
    return 10.0 * math.log10(power / error)
