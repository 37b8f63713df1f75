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


PARALLEL_MIN_STEPS = 1_000_000
"""Below this much work (pair-steps, or sequence-steps) a kernel runs on the calling thread alone.

Such a call takes about a millisecond on one core; sharing it out gains at
most half of that, and costs many times more whenever another process holds
one of the cores, since a parallel region ends only when its slowest thread
does.
"""


@contextlib.contextmanager
def parallel_region(steps: int) -> Iterator[None]:
    """Run a parallel kernel doing `steps` units of work.

    Small work runs on one thread (`PARALLEL_MIN_STEPS`); the call is
    serialised only if the threading layer requires it.
    """
    with _thread_count(steps), _serialised_if_needed():
        yield


@contextlib.contextmanager
def _thread_count(steps: int) -> Iterator[None]:
    if steps >= PARALLEL_MIN_STEPS:
        yield
        return
    previous = numba.get_num_threads()  # per calling thread, so other threads' calls are unaffected
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@contextlib.contextmanager
def _serialised_if_needed() -> Iterator[None]:
    if _layer_is_thread_safe():
        yield
        return
    with PARALLEL_CALL_LOCK:
        yield
