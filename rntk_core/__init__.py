"""rntk_core: exact Recurrent Neural Tangent Kernel (RNTK) and NNGP Gram matrices.

The kernels of an infinitely wide Elman RNN for batches of variable-length,
multivariate sequences, and kernel ridge regression on them.
"""

__version__ = "0.1.0"  # before the imports: the payload format records it

# First: the settings Numba and OpenMP read when they load (vector width, idle threads).
from . import config  # noqa: F401

# Hyperparameters, and the choices they take
from .params import ACTIVATIONS, DIRECTIONS, MAX_LAYERS, RNTKParams  # noqa: E402

# Batches of sequences: validated once, then passed anywhere at no cost
from .sequences import SequenceBatch, as_sequences  # noqa: E402

# Gram matrices: whole, diagonal only, and block by block
from .gram import KERNELS, gram, gram_diagonal  # noqa: E402
from .float_range import KernelOverflowError  # noqa: E402
from .tiling import Block, block_bounds, block_plan, tiled_gram  # noqa: E402

# The work a Gram asks for, from lengths alone
from .cost import pair_steps  # noqa: E402

# Learning: kernel ridge regression and classification on the kernels, and saved models' metadata
from .krr import KernelRidge, payload_metadata  # noqa: E402

__all__ = [
    "RNTKParams", "ACTIVATIONS", "DIRECTIONS", "MAX_LAYERS",
    "SequenceBatch", "as_sequences",
    "gram", "gram_diagonal", "KERNELS", "KernelOverflowError", "Block", "block_bounds", "block_plan", "tiled_gram",
    "pair_steps",
    "KernelRidge", "payload_metadata",
    "__version__",
]
