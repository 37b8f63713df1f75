"""Repeated wall-clock timings, shared by the benchmark scripts.

The machines these run on are shared and noisy, so every figure is measured
several times and reported as its best (the least disturbed run) and median.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Timing:
    """Wall-clock times of repeated runs of one measurement, in seconds (and the last result, if kept)."""

    times: list[float]
    result: Any = field(default=None, repr=False)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def __str__(self) -> str:
        return f"best {self.best * 1e3:8.1f} ms   median {self.median * 1e3:8.1f} ms   (n={len(self.times)})"
