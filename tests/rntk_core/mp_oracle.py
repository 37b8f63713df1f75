"""The naive oracle (`naive.py`) in arbitrary precision: free of float64's range.

mpmath numbers have an unbounded exponent, so the kernel of sequences of any
magnitude (1e-300 or 1e300, and their squares, 1e±600) comes out without
overflow or underflow, and with `DIGITS` significant digits it is exact for
the comparison with float64: the erf derivative's determinant
(1+2K1)(1+2K2) − 4K3² cancels as many digits as the smaller variance has
(up to ~600, for values of 1e300), and 700 digits leave 100 to spare.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

try:
    from .naive import Arithmetic, naive_gram
except ImportError:  # tests/ collected without package __init__ files
    from naive import Arithmetic, naive_gram

DIGITS = 700

MP = Arithmetic(mpmath.sqrt, mpmath.acos, mpmath.asin, lambda: +mpmath.pi, mpmath.mpf, object)


def mp_gram(X: Any, Z: Any = None, **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """(NTK, NNGP) of `naive.naive_gram`, as object arrays of mpmath numbers computed with `DIGITS` digits."""
    with mpmath.workdps(DIGITS):
        return naive_gram(X, Z, num=MP, **params)
