"""Lower a thread's CPU priority, so that the event loop is scheduled first when the CPUs are busy.

On Linux each thread has its own nice value, and threads it starts inherit
it (OpenMP's worker threads too). The event loop answers /healthz and admits
or refuses requests in microseconds, but on a 2-core machine busy with
kernels it waits for a time slice behind every compute thread; threads that
compute, or write the cache behind the answers, run niced instead.
Elsewhere this does nothing.
"""

from __future__ import annotations

import os
import threading

COMPUTE_NICENESS = 5
"""How much lower than the event loop the compute slots (and their OpenMP workers) run."""

WRITER_NICENESS = 10
"""How much lower than the event loop the background cache writer runs."""


def lower_this_thread(niceness: int) -> bool:
    """Lower the calling thread's priority by `niceness` where the OS gives threads their own; whether it did."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    except (AttributeError, OSError):
        return False
    return True
