"""Hyperparameters of the RNTK: one frozen, validated object.

The same object drives the numerical core and names a cached result: its
canonical serialization (`to_dict` / `canonical_json`) is the only thing that
identifies a kernel, so two parameter sets that compute the same kernel (a
scalar σ versus the same value repeated per layer) serialize identically.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence, Union

ACTIVATIONS = ("relu", "erf")
DIRECTIONS = ("forward", "backward", "bidirectional")
REVERSALS = {"forward": (False,), "backward": (True,), "bidirectional": (False, True)}
"""For each direction, its passes over the data: whether each reads the sequences time-reversed."""
MAX_LAYERS = 64

MAX_VARIANCE = 2.0 ** 1020
"""The largest variance (and self-tangent term) of the kernel recursion that float64 carries through (≈ 1.1e307).

Every later operation on a sequence below it stays finite and normal: erf's
1 + 4s (≤ 2^1022) and 1/(1 + 2s) (≥ 2^-1022, the smallest normal number);
the pair terms, which Cauchy–Schwarz bounds by the two sequences' self terms
(σ² times a term of a pair is part of a self term, so it is bounded too);
ReLU's √s and 1/√s. A factor of 8 is left for rounding. What can still
overflow is the result: σv² times a term, or two directions summed, which
`gram` checks at the end. `gram` refuses a sequence whose recursion goes above
this bound (`KernelOverflowError`).
"""

MAX_SIGMA = math.sqrt(MAX_VARIANCE)
"""The largest σ accepted, 2^510 (≈ 3.4e153): its square is `MAX_VARIANCE`.
A larger σ overflows float64 in its square (from σ > 1.3e154) or in the
recursion's first steps (σb² alone is a variance of every sequence)."""

PerLayer = Union[float, Sequence[float]]


def _per_layer(name: str, value: PerLayer, n_layers: int) -> tuple[float, ...]:
    """Expand a scalar or per-layer list into a validated tuple of floats."""
    if isinstance(value, (list, tuple)):
        values = tuple(value)
        if len(values) != n_layers:
            raise ValueError(
                f"{name}: expected a number or a list of n_layers={n_layers} numbers, "
                f"got a list of length {len(values)}"
            )
    else:
        values = (value,) * n_layers
    out = []
    for k, v in enumerate(values):
        where = f"{name}[{k}]" if isinstance(value, (list, tuple)) else name
        out.append(_nonnegative(where, v))
    return tuple(out)


def _nonnegative(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: expected a number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {v}")
    if v < 0:
        raise ValueError(f"{name}: must be >= 0, got {v}")
    if v > MAX_SIGMA:
        raise ValueError(f"{name}: must be at most 2^510 (~{MAX_SIGMA:.3g}), so that its square stays "
                         f"within the float64 range of the kernel recursion, got {v:.6g}")
    return v


@dataclass(frozen=True)
class RNTKParams:
    """Hyperparameters of an L-layer Elman RNN in the NTK parameterisation.

    Attributes
    ----------
    activation : "relu" or "erf"
        The nonlinearity φ.
    n_layers : int
        Number of stacked recurrent layers L (1 to 64).
    sigma_w, sigma_u, sigma_b : float or list of float
        Scales of the recurrent weights, the input weights and the biases;
        a single number applies to every layer, a list gives one per layer.
        Stored as per-layer tuples.
    sigma_h : float
        Standard deviation of the initial hidden state.
    sigma_v : float
        Scale of the read-out weights (> 0).
    direction : "forward", "backward" or "bidirectional"
        Read the sequences forward, time-reversed, or both (kernels summed).

    Defaults are the paper's recommendation for ReLU: σw = √2, σu = 1,
    σb = σh = 0, σv = 1, one layer, forward.
    """

    activation: str = "relu"
    n_layers: int = 1
    sigma_w: PerLayer = math.sqrt(2.0)
    sigma_u: PerLayer = 1.0
    sigma_b: PerLayer = 0.0
    sigma_h: float = 0.0
    sigma_v: float = 1.0
    direction: str = "forward"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: must be one of {ACTIVATIONS}, got {self.activation!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction: must be one of {DIRECTIONS}, got {self.direction!r}")
        n = self.n_layers
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_LAYERS:
            raise ValueError(f"n_layers: must be an integer from 1 to {MAX_LAYERS}, got {n!r}")
        set_ = object.__setattr__
        set_(self, "sigma_w", _per_layer("sigma_w", self.sigma_w, n))
        set_(self, "sigma_u", _per_layer("sigma_u", self.sigma_u, n))
        set_(self, "sigma_b", _per_layer("sigma_b", self.sigma_b, n))
        set_(self, "sigma_h", _nonnegative("sigma_h", self.sigma_h))
        sigma_v = _nonnegative("sigma_v", self.sigma_v)
        if sigma_v == 0:
            raise ValueError("sigma_v: must be > 0, got 0.0")
        set_(self, "sigma_v", sigma_v)

    @property
    def reversals(self) -> tuple[bool, ...]:
        """The passes `direction` makes (their kernels are summed): whether each reads time-reversed."""
        return REVERSALS[self.direction]

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain-data form: per-layer values always as lists."""
        return {
            "activation": self.activation,
            "n_layers": self.n_layers,
            "sigma_w": list(self.sigma_w),
            "sigma_u": list(self.sigma_u),
            "sigma_b": list(self.sigma_b),
            "sigma_h": self.sigma_h,
            "sigma_v": self.sigma_v,
            "direction": self.direction,
        }

    def canonical_json(self) -> str:
        """A stable text form of the parameters, fit to be hashed into a cache key."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RNTKParams":
        """Build from plain data, rejecting unknown fields by name."""
        known = {"activation", "n_layers", "sigma_w", "sigma_u", "sigma_b", "sigma_h", "sigma_v", "direction"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown parameter (known: {sorted(known)})")
        return cls(**data)
