"""rntk_core: exact Recurrent Neural Tangent Kernel (RNTK) and NNGP Gram matrices.

The kernels of an infinitely wide Elman RNN for batches of variable-length,
multivariate sequences, and kernel ridge regression on them.
"""

# Before anything imports Numba (its target features are fixed then) or loads OpenMP.
from ._idle_threads import let_idle_threads_sleep
from ._vector_width import prefer_full_vector_width

prefer_full_vector_width()
let_idle_threads_sleep()

# Hyperparameters
from .params import RNTKParams  # noqa: E402

# Gram matrices: whole, diagonal only, and block by block
from .gram import gram, gram_diagonal  # noqa: E402
from .float_range import KernelOverflowError  # noqa: E402
from .tiling import tiled_gram  # noqa: E402

# Learning: kernel ridge regression and classification on the kernels
from .krr import KernelRidge  # noqa: E402

__version__ = "0.1.0"

__all__ = ["RNTKParams", "gram", "gram_diagonal", "tiled_gram", "KernelOverflowError", "KernelRidge", "__version__"]
