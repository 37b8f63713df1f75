"""Everything the jitted core is configured by, set before Numba loads.

Numba fixes its target CPU features when it is imported and OpenMP reads its
wait policy when it is loaded, so this module makes both choices first and
only then imports Numba. `rntk_core/__init__.py` imports it before anything
else.

Vector width. LLVM tunes code for recent Intel server CPUs to prefer 256-bit
vectors (a guard against the clock drop of early AVX-512 parts), so by default
the pair loops use half the width the CPU offers. They are bound by
floating-point throughput, and with 512-bit vectors they run about 10% faster
on an AVX-512 Xeon; results are the same to the last bit (every lane computes
its own pair with the same operations). Nothing changes if Numba was imported
already, if ``NUMBA_CPU_FEATURES`` or ``NUMBA_CPU_NAME`` is set (the user's
choice stands), if the CPU lacks AVX-512, or if ``RNTK_VECTOR_WIDTH=256``.

Idle threads. After each parallel region GNU OpenMP's worker threads (Numba's
``omp`` layer) spin for new work before they sleep: about 10 ms of a core
after every Gram call, measured on a 2-vCPU machine. A service answering the
next request, or a program beside others on a shared machine, wants that
core; waking sleeping threads costs nothing measurable (Grams of N = 200 to
1000 take the same time either way). So ``OMP_WAIT_POLICY=PASSIVE`` is set
unless the user chose a policy. Both settings go through environment
variables, so child processes inherit them.

Jit options, shared by every jitted function:

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
import os
import sys
import threading
from typing import Iterator


def prefer_full_vector_width() -> bool:
    """Ask Numba for 512-bit vectors if it is safe and useful here; whether it was done."""
    if "numba" in sys.modules or os.environ.get("RNTK_VECTOR_WIDTH", "").strip() == "256":
        return False
    if os.environ.get("NUMBA_CPU_FEATURES") or os.environ.get("NUMBA_CPU_NAME"):
        return False
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    if not features.get("avx512f", False):
        return False
    os.environ["NUMBA_CPU_FEATURES"] = features.flatten() + ",-prefer-256-bit"
    return True


def let_idle_threads_sleep() -> bool:
    """Ask OpenMP threads to sleep when idle, unless the user chose a policy; whether it was asked."""
    if os.environ.get("OMP_WAIT_POLICY", "").strip():
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


prefer_full_vector_width()
let_idle_threads_sleep()

import numba  # noqa: E402  (after the choices above, which Numba reads when it loads)

JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
PARALLEL_JIT_OPTIONS = dict(JIT_OPTIONS, parallel=True)

PARALLEL_CALL_LOCK = threading.Lock()

PARALLEL_MIN_STEPS = 1_000_000
"""Below this much work (pair-steps, or sequence-steps) a kernel runs on the calling thread alone.

Such a call takes about a millisecond on one core; sharing it out gains at
most half of that, and costs many times more whenever another process holds
one of the cores, since a parallel region ends only when its slowest thread
does.
"""


def _layer_is_thread_safe() -> bool:
    try:
        return numba.threading_layer() in ("tbb", "omp")
    except ValueError:  # no parallel function has run yet
        return False


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
