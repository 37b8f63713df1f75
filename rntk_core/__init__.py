"""rntk_core: exact Recurrent Neural Tangent Kernel (RNTK) and NNGP Gram matrices.

The kernels of an infinitely wide Elman RNN for batches of variable-length,
multivariate sequences, and kernel ridge regression on them.
"""

# Hyperparameters
from .params import RNTKParams

# Gram matrices: whole, diagonal only, and block by block
from .gram import gram, gram_diagonal
from .tiling import tiled_gram

# Learning: kernel ridge regression and classification on the kernels
from .krr import KernelRidge

__version__ = "0.1.0"

__all__ = ["RNTKParams", "gram", "gram_diagonal", "tiled_gram", "KernelRidge", "__version__"]
