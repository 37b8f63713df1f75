"""Kernel ridge regression on the RNTK/NNGP kernels and its saved-model format; may import only rntk_core.gram, .params, .sequences and rntk_core.__version__ (never the service)."""

from ._linalg import NotPositiveDefiniteError
from ._solver import AUTO_RIDGE_GRID
from .estimator import KernelRidge, NotFittedError
from .payload import FORMAT_NAME, FORMAT_VERSION, payload_metadata
from .state import FittedState

__all__ = [
    "KernelRidge", "FittedState", "NotFittedError", "NotPositiveDefiniteError", "AUTO_RIDGE_GRID",
    "payload_metadata", "FORMAT_NAME", "FORMAT_VERSION",
]
