"""How much work a request asks for, and the configured limits on it.

Checked on the raw request (lengths only) before any computation is admitted,
so an oversized request costs nothing but its parsing. Each refusal names the
limit, its value and the environment variable that sets it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from rntk_core import RNTKParams

from .errors import LimitExceeded
from .settings import Settings

DIRECTION_PASSES = {"forward": 1, "backward": 1, "bidirectional": 2}


def symmetric_pair_steps(lengths: np.ndarray) -> int:
    """Σ_{i≤j} min(T_i, T_j): the aligned steps of every pair of a symmetric Gram (SPEC §2)."""
    t = np.sort(np.asarray(lengths, dtype=np.int64))
    n = t.shape[0]
    # after sorting, t[k] is the minimum of its pairs with itself and every later sequence
    return int(np.dot(t, np.arange(n, 0, -1, dtype=np.int64)))


def cross_pair_steps(rows: np.ndarray, cols: np.ndarray) -> int:
    """Σ_{i,j} min(T_i, T'_j): the aligned steps of every pair of a cross Gram."""
    b = np.sort(np.asarray(cols, dtype=np.int64))
    prefix = np.concatenate(([0], np.cumsum(b)))
    a = np.asarray(rows, dtype=np.int64)
    below = np.searchsorted(b, a, side="left")  # columns shorter than each row
    return int(np.sum(prefix[below] + a * (b.shape[0] - below)))


def pair_steps(
    x_lengths: Sequence[int], z_lengths: Optional[Sequence[int]], params: RNTKParams
) -> int:
    """Pair-steps of gram(X) or gram(X, Z), times layers and direction passes."""
    x = np.asarray(x_lengths, dtype=np.int64)
    per_layer = symmetric_pair_steps(x) if z_lengths is None else cross_pair_steps(x, np.asarray(z_lengths))
    return per_layer * params.n_layers * DIRECTION_PASSES[params.direction]


def check_batch(name: str, lengths: Sequence[int], m: int, settings: Settings) -> None:
    """Refuse a batch with too many sequences, too long a sequence or too many values."""
    if len(lengths) > settings.max_sequences:
        raise LimitExceeded(f"body.{name}", f"{len(lengths)} sequences", "max_sequences",
                            settings.max_sequences)
    if lengths:
        longest = max(lengths)
        if longest > settings.max_length:
            at = list(lengths).index(longest)
            raise LimitExceeded(f"body.{name}[{at}]", f"length {longest}", "max_length",
                                settings.max_length)


def check_request(
    batches: dict[str, tuple[Sequence[int], int]],
    work: int,
    settings: Settings,
    entries: int = 0,
) -> None:
    """Check every batch (name -> (lengths, m)), their total steps, the pair-steps `work`
    and the `entries` (N·M) of the Gram matrix the request needs."""
    total = 0
    for name, (lengths, m) in batches.items():
        check_batch(name, lengths, m, settings)
        total += int(sum(lengths))
    if total > settings.max_total_steps:
        raise LimitExceeded("body", f"{total} steps in all", "max_total_steps",
                            settings.max_total_steps)
    if entries > settings.max_gram_entries:
        raise LimitExceeded("body", f"a Gram of {entries} entries", "max_gram_entries", settings.max_gram_entries)
    if work > settings.max_pair_steps:
        raise LimitExceeded("body", f"{work} pair-steps", "max_pair_steps", settings.max_pair_steps)
