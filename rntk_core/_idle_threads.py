"""Let idle worker threads sleep at once instead of spinning.

After each parallel region, GNU OpenMP's worker threads (Numba's ``omp``
threading layer) spin for new work for some hundred thousand iterations before
they sleep: about 10 ms of a core after every Gram call, measured on a 2-vCPU
machine. A service that answers the next request right after a Gram, or a
program beside others on a shared machine, wants that core. The kernels run a
few long parallel regions per call, so waking sleeping threads costs nothing
measurable: Grams of N = 200 to 1000 take the same time either way.

The choice is made through OpenMP's standard ``OMP_WAIT_POLICY=PASSIVE``,
before `rntk_core` first runs a parallel kernel (OpenMP reads it when it is
loaded). A ``OMP_WAIT_POLICY`` the user set stands, and nothing changes if
OpenMP was loaded already. Child processes inherit it.
"""

from __future__ import annotations

import os


def let_idle_threads_sleep() -> bool:
    """Ask OpenMP threads to sleep when idle, unless the user chose a policy; whether it was asked."""
    if os.environ.get("OMP_WAIT_POLICY", "").strip():
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True
