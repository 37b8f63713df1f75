"""Readers for the UCR/UEA `.ts` time-series format and simple CSV series.

A `.ts` file has header lines (``#`` comments and ``@`` keys), then one series
per line after ``@data``: dimensions separated by ``:``, values within a
dimension by ``,``, and the label after the last ``:``. Series may differ in
length, which is exactly the data the RNTK is made for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

PathLike = Union[str, Path]


def load_ts(path: PathLike) -> tuple[list[np.ndarray], np.ndarray]:
    """Read a `.ts` file.

    Returns
    -------
    sequences : list of (T_i, m) float64 arrays
    labels : ndarray
        Class labels as strings, or floats when the header says
        ``@targetLabel true`` (a regression target).
    """
    sequences: list[np.ndarray] = []
    labels: list[str] = []
    regression = False
    in_data = False
    with open(path, encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                lower = line.lower()
                if lower.startswith("@targetlabel") and lower.split()[1:2] == ["true"]:
                    regression = True
                in_data = lower.startswith("@data")
                continue
            *dims, label = line.split(":")
            try:
                columns = [np.array([float(v) for v in d.split(",")]) for d in dims]
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: unreadable value ({exc})") from None
            if len({c.shape[0] for c in columns}) != 1:
                raise ValueError(f"{path}:{number}: dimensions of one series differ in length")
            sequences.append(np.stack(columns, axis=1))
            labels.append(label.strip())
    y = np.array([float(v) for v in labels]) if regression else np.array(labels)
    return sequences, y


def load_csv_series(path: PathLike, column: int = -1) -> np.ndarray:
    """Read one numeric column of a CSV file with a header row."""
    values = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=column, dtype=np.float64)
    return np.asarray(values, dtype=np.float64).reshape(-1)


def unit_norm(sequences: list[np.ndarray]) -> list[np.ndarray]:
    """Scale each series to unit Frobenius norm (the paper's preprocessing); zero series stay zero."""
    out = []
    for s in sequences:
        norm = float(np.linalg.norm(s))
        out.append(s / norm if norm > 0 else s.copy())
    return out
