"""The fixed-length baseline kernels of the paper, on flattened (zero-padded) inputs.

A time series (T, m) becomes one vector of length T·m; series of different
lengths are zero-padded to a common length first, which is the only way these
kernels can compare them and what the paper did. The RNTK itself never pads.

* RBF          k(x, x') = exp(−α‖x − x'‖²)
* polynomial   k(x, x') = (r + ⟨x, x'⟩)^d
* MLP-NTK      the neural tangent kernel of an infinitely wide ReLU MLP with L
               hidden layers (see `mlp_ntk`).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Sequence

import numpy as np


def pad(sequences: Sequence[np.ndarray], length: Optional[int] = None, where: str = "post") -> np.ndarray:
    """Zero-pad (T_i, m) series to a common length and flatten them to rows of an (N, length·m) array.

    ``where="post"`` appends zeros after each series (its start is aligned
    with the others'); ``where="pre"`` puts them before (its last step is
    aligned), which is how the RNTK aligns sequences of different lengths.
    """
    seqs = [np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in sequences]
    m = seqs[0].shape[1]
    length = max(s.shape[0] for s in seqs) if length is None else int(length)
    out = np.zeros((len(seqs), length, m))
    for i, s in enumerate(seqs):
        if s.shape[0] > length:
            raise ValueError(f"series {i} has length {s.shape[0]} > padding length {length}")
        if where == "post":
            out[i, : s.shape[0]] = s
        elif where == "pre":
            out[i, length - s.shape[0]:] = s
        else:
            raise ValueError(f"where: 'pre' or 'post', got {where!r}")
    return out.reshape(len(seqs), length * m)


def squared_distances(X: np.ndarray, Z: Optional[np.ndarray] = None) -> np.ndarray:
    """‖x_i − z_j‖², exact zeros on the diagonal of the symmetric case."""
    Z_ = X if Z is None else Z
    sx = np.einsum("ij,ij->i", X, X)
    sz = sx if Z is None else np.einsum("ij,ij->i", Z_, Z_)
    d = sx[:, None] + sz[None, :] - 2.0 * (X @ Z_.T)
    np.maximum(d, 0.0, out=d)
    if Z is None:
        np.fill_diagonal(d, 0.0)
    return d


def rbf(X: np.ndarray, Z: Optional[np.ndarray] = None, *, alpha: float,
        sq: Optional[np.ndarray] = None) -> np.ndarray:
    """exp(−α‖x − x'‖²); pass `sq` (from `squared_distances`) to reuse it over an α grid."""
    d = squared_distances(X, Z) if sq is None else sq
    return np.exp(-alpha * d)


def polynomial(X: np.ndarray, Z: Optional[np.ndarray] = None, *, degree: int, offset: float,
               inner: Optional[np.ndarray] = None) -> np.ndarray:
    """(r + ⟨x, x'⟩)^d; pass `inner` (X Zᵀ) to reuse it over a grid."""
    g = X @ (X if Z is None else Z).T if inner is None else inner
    return (offset + g) ** degree


def _relu_dual(cross: np.ndarray, var_x: np.ndarray, var_z: np.ndarray, symmetric: bool):
    """ReLU's V and V' (SPEC §1.1) for a matrix of covariances, with exact c = 1 on a symmetric diagonal."""
    q = np.sqrt(np.outer(var_x, var_z))
    safe = np.where(q > 0, q, 1.0)
    c = np.clip(cross / safe, -1.0, 1.0)
    if symmetric:
        np.fill_diagonal(c, 1.0)
    theta = np.arccos(c)
    value = q * (c * (math.pi - theta) + np.sqrt(np.maximum(1.0 - c * c, 0.0))) / (2 * math.pi)
    deriv = (math.pi - theta) / (2 * math.pi)
    zero = q == 0
    value[zero] = 0.0
    deriv[zero] = 0.0
    return value, deriv


def mlp_ntk(
    X: np.ndarray,
    Z: Optional[np.ndarray] = None,
    *,
    sigma_w: float,
    sigma_b: float,
    depths: Iterable[int],
    inner: Optional[np.ndarray] = None,
) -> dict[int, np.ndarray]:
    """NTK of an infinitely wide ReLU MLP with L hidden layers, for every L in `depths`.

    The network is L hidden Dense(σw, σb)–ReLU layers and a Dense(σw, σb)
    read-out, in the NTK parameterisation, on inputs x ∈ R^m (the
    flattened, zero-padded series). With V, V' the ReLU dual activations of
    SPEC §1.1 applied to the 2×2 covariance of the pair,

        Σ¹ = σw²·⟨x, x'⟩/m + σb²                       Θ¹ = Σ¹
        Σ^{l+1} = σw²·V(Σ^l) + σb²                     Θ^{l+1} = Σ^{l+1} + σw²·V'(Σ^l)·Θ^l
        NTK_L(x, x') = Θ^{L+1},   NNGP_L(x, x') = Σ^{L+1}

    (Jacot et al. 2018; Arora et al. 2019). The paper's Appendix A writes the
    same recursion with the read-out bias omitted and its variance named σv;
    here every layer, the read-out included, is Dense(σw, σb). One pass to
    the deepest L gives every shallower one on the way.

    Returns
    -------
    dict L -> (N, M) NTK matrix (symmetric when Z is None)
    """
    depths = sorted(set(int(d) for d in depths))
    if not depths or depths[0] < 1:
        raise ValueError("depths: positive integers")
    symmetric = Z is None
    Z_ = X if symmetric else Z
    m = X.shape[1]
    sw2, sb2 = sigma_w ** 2, sigma_b ** 2
    g = X @ Z_.T if inner is None else inner
    sigma = sw2 * g / m + sb2
    var_x = sw2 * np.einsum("ij,ij->i", X, X) / m + sb2
    var_z = var_x if symmetric else sw2 * np.einsum("ij,ij->i", Z_, Z_) / m + sb2
    theta = sigma.copy()
    out = {}
    for layer in range(1, depths[-1] + 1):
        value, deriv = _relu_dual(sigma, var_x, var_z, symmetric)
        sigma = sw2 * value + sb2
        theta = sigma + sw2 * deriv * theta
        var_x = sw2 * var_x / 2.0 + sb2
        var_z = var_x if symmetric else sw2 * var_z / 2.0 + sb2
        if layer in depths:
            out[layer] = theta.copy()
    return out
