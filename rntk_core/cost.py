"""The work a Gram asks for, in pair-steps: the one cost model of the kernels.

A pair of sequences of lengths T and T' is aligned at the end (SPEC §1.3), so
the pair recursion runs min(T, T') steps per layer and per direction pass;
its time is proportional to that sum. Callers that bound or meter work (the
service's limits and metrics) count it here, from lengths alone, before any
computation.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .params import RNTKParams


def symmetric_pair_steps(lengths: Sequence[int]) -> int:
    """Σ_{i≤j} min(T_i, T_j): the aligned steps of every pair of a symmetric Gram, once per layer and pass."""
    t = np.sort(np.asarray(lengths, dtype=np.int64))
    n = t.shape[0]
    # after sorting, t[k] is the minimum of its pairs with itself and every later sequence
    return int(np.dot(t, np.arange(n, 0, -1, dtype=np.int64)))


def cross_pair_steps(rows: Sequence[int], cols: Sequence[int]) -> int:
    """Σ_{i,j} min(T_i, T'_j): the aligned steps of every pair of a cross Gram, once per layer and pass."""
    b = np.sort(np.asarray(cols, dtype=np.int64))
    prefix = np.concatenate(([0], np.cumsum(b)))
    a = np.asarray(rows, dtype=np.int64)
    below = np.searchsorted(b, a, side="left")  # columns shorter than each row
    return int(np.sum(prefix[below] + a * (b.shape[0] - below)))


def pair_steps(x_lengths: Sequence[int], z_lengths: Optional[Sequence[int]], params: RNTKParams) -> int:
    """Pair-steps of ``gram(X)`` (``z_lengths=None``) or ``gram(X, Z)``, times layers and direction passes."""
    per_layer = symmetric_pair_steps(x_lengths) if z_lengths is None else cross_pair_steps(x_lengths, z_lengths)
    return per_layer * params.n_layers * len(params.reversals)
