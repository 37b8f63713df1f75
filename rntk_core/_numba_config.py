"""Numba settings shared by every jitted function, kept in one place.

- ``nogil``: the GIL is released while kernels run, so a web server in the
  same process keeps answering.
- ``cache``: compiled code is written to disk; a fresh process loads it
  instead of compiling again.
- ``error_model="numpy"``: division follows IEEE rules instead of raising,
  which keeps the inner loops free of branches and lets them vectorise.
- ``fastmath={"contract"}``: fused multiply-adds only; no reassociation,
  so results do not depend on vector width or on how work is tiled.

Parallel kernels need a threading layer that tolerates concurrent calls from
several Python threads: TBB or OpenMP. Numba's fallback ``workqueue`` layer
aborts the process in that case, so when only it is available every parallel
call is serialised through `PARALLEL_CALL_LOCK`.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import numba

JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
PARALLEL_JIT_OPTIONS = dict(JIT_OPTIONS, parallel=True)

PARALLEL_CALL_LOCK = threading.Lock()


def _layer_is_thread_safe() -> bool:
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:  # no parallel function has run yet
        return False


@contextlib.contextmanager
def parallel_region() -> Iterator[None]:
    """Run a parallel kernel, serialising it only if the threading layer requires it."""
    if _layer_is_thread_safe():
        yield
        return
    with PARALLEL_CALL_LOCK:
        yield
