"""Kernels near the ends of the float64 range: exact rescaling where it is possible, a named refusal where not.

The ReLU kernel with every σb = 0 and no initial hidden state (σh = 0, or
every σw = 0) is positively homogeneous in each sequence:
K(c·x, d·z) = c·d·K(x, z) for c, d > 0. There a sequence of enormous or
minute values is computed at a power-of-two scale (`power_of_two_exponents`,
exact) and the result scaled back (`scale_back`, exact where the result is a
normal float64), so its only limit is the range of the result itself.
Elsewhere no such identity holds, and a sequence whose recursion leaves the
range float64 carries (`rntk_core.params.MAX_VARIANCE`) is refused with a
`KernelOverflowError` that names it, the parameters and the data.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .params import RNTKParams

SAFE_EXPONENTS = (-400, 400)
"""A sequence whose largest |value| lies in [2^-400, 2^400] is computed as it is: its squares,
2^-800 .. 2^800, and their products with ordinary σ² stay far from float64's limits."""

ERF_PRECISE_VARIANCE = 2.0 ** 20
"""With erf, a pair of sequences whose self-variances both exceed this (~1e6) is refused.

The erf derivative V' = (4/π)·ab/√(1 − c²), c = 2K3·ab, has a square-root
singularity at c = ±1; Cauchy–Schwarz puts 1 − c² at least 1/(1 + 2 s_min),
but c itself carries rounding of ~1e-15, so V' (and the NTK it carries)
loses about s_min·1e-15 of its relative accuracy: 1e-9 here. Huge variances
drive erf into saturation, where the correlations of collinear data are
within rounding of ±1."""


class KernelOverflowError(ValueError):
    """A kernel (or a step of its recursion) beyond the range of float64, for one named sequence.

    ``batch`` ("X" or "Z") and ``index`` name the sequence in the batch it
    was given in; ``partner``, when the fault lies in one pair, names the other
    sequence. A caller that computes a Gram block by block re-raises it with
    the indices of the whole batch (`renamed`). The message starts with the
    sequence, ``"X[3]: ..."``, like every other input error of the library.
    """

    def __init__(self, batch: str, index: int, reason: str, partner: Optional[tuple[str, int]] = None) -> None:
        self.batch = batch
        self.index = int(index)
        self.reason = reason
        self.partner = partner
        with_ = f" with {partner[0]}[{partner[1]}]" if partner is not None else ""
        super().__init__(f"{batch}[{self.index}]: its kernel{with_} {reason}")

    def renamed(
        self, batch: str, index: int, partner: Optional[tuple[str, int]] = None
    ) -> "KernelOverflowError":
        """The same error for the same sequences, named by their places in the caller's batches."""
        return KernelOverflowError(batch, index, self.reason, partner)


def is_homogeneous(params: RNTKParams) -> bool:
    """Whether K(c·x, d·z) = c·d·K(x, z) exactly: ReLU, no bias, no initial hidden state."""
    no_hidden = params.sigma_h == 0.0 or all(w == 0.0 for w in params.sigma_w)
    return params.activation == "relu" and all(b == 0.0 for b in params.sigma_b) and no_hidden


def power_of_two_exponents(largest: np.ndarray) -> Optional[np.ndarray]:
    """For sequences of these largest |values|: e such that 2^-e·x has its largest |value| in [1/2, 1),
    or 0 where that is inside `SAFE_EXPONENTS` already; None when every one is (nothing to do).

    Multiplying by a power of two is exact, so a scaled sequence gives bit for
    bit the numbers the unscaled one would in an unbounded exponent range.
    """
    _, exps = np.frexp(largest)
    lo, hi = SAFE_EXPONENTS
    outside = (largest > 0.0) & ((exps <= lo) | (exps > hi))
    if not outside.any():
        return None
    return np.where(outside, exps, 0).astype(np.int64)


def scale_back(kernel: np.ndarray, row_exps: Optional[np.ndarray], col_exps: Optional[np.ndarray]) -> np.ndarray:
    """K(x_i, z_j)·2^(e_i + e_j) for a kernel of scaled sequences: one exact step per entry.

    The two factors are applied as one power of two, so no intermediate
    product overflows or underflows where the result does not; a result
    beyond float64 becomes inf (refused later by name), one below it rounds
    into the subnormals or to 0, as the true value would.
    """
    rows = np.zeros(kernel.shape[0], np.int64) if row_exps is None else row_exps
    cols = np.zeros(kernel.shape[-1], np.int64) if col_exps is None else col_exps
    exps = rows[:, None] + cols[None, :] if kernel.ndim == 2 else rows + cols
    with np.errstate(over="ignore", under="ignore"):
        return np.ldexp(kernel, exps)


def describe(params: RNTKParams) -> str:
    """The parameters that set the kernel's magnitude, for a message."""
    fmt = lambda values: "[" + ", ".join(f"{v:.3g}" for v in values) + "]"  # noqa: E731
    return (f"sigma_w={fmt(params.sigma_w)}, sigma_u={fmt(params.sigma_u)}, sigma_b={fmt(params.sigma_b)}, "
            f"sigma_h={params.sigma_h:.3g}, sigma_v={params.sigma_v:.3g}")
