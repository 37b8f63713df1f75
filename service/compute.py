"""Bounded, off-loop execution of the heavy work of requests.

Kernels release the GIL (Numba ``nogil``), so running them on a thread pool
keeps the event loop — and ``/healthz`` — responsive during long Grams. The
pool has a fixed number of slots; at most `queue` further requests wait for
one, and anything beyond that is refused at once with `Overloaded` (503 +
Retry-After) instead of queueing without bound. A request's place is released
when its job finishes, even if the client has gone away meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

from .errors import Overloaded
from .metrics import Metrics

T = TypeVar("T")


class ComputeSlots:
    """A thread pool of `slots` workers with a waiting queue of `queue` places."""

    def __init__(self, slots: int, queue: int, retry_after_s: int, metrics: Optional[Metrics] = None) -> None:
        self.slots = slots
        self.capacity = slots + queue
        self.retry_after_s = retry_after_s
        self.metrics = metrics
        self._pool: Optional[ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        self._admitted = 0

    @property
    def admitted(self) -> int:
        """Requests running or waiting."""
        return self._admitted

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.capacity:
                if self.metrics:
                    self.metrics.rejected.inc()
                raise Overloaded(
                    f"busy: all {self.slots} compute slots and {self.capacity - self.slots} queue places "
                    f"are taken; retry in {self.retry_after_s} s",
                    self.retry_after_s,
                )
            self._admitted += 1
            if self.metrics:
                self.metrics.admitted.set(self._admitted)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1
            if self.metrics:
                self.metrics.admitted.set(self._admitted)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a slot; raise `Overloaded` if none is free and the queue is full."""
        self._admit()

        def job() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                self._release()

        try:
            future = self._executor().submit(job)
        except BaseException:
            self._release()
            raise
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.cancel():  # never started: its job will not release the place
                self._release()
            raise

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="rntk-compute")
            return self._pool

    def shutdown(self) -> None:
        """Release the threads; running jobs finish in the background. A later `run` starts a new pool
        (an app may go through its lifespan more than once, e.g. under several test clients)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
