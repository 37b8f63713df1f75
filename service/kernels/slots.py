"""Bounded, off-loop execution of the heavy work of requests.

Kernels release the GIL (Numba ``nogil``), so running them on a thread pool
keeps the event loop — and ``/healthz`` — responsive during long Grams. The
pool has a fixed number of slots; at most `queue` further requests wait for
one, and anything beyond that is refused at once with `Overloaded` (503 +
Retry-After) instead of queueing without bound. A request takes its `Place`
before its body is read, so a refused request costs neither reading nor
parsing, and gives it back when it and its job are done, even if the client
has gone away meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional, TypeVar

from ..errors import Overloaded
from ..metrics import Metrics
from ..thread_priority import COMPUTE_NICENESS, lower_this_thread

T = TypeVar("T")


class Place:
    """One request's place among the slots and the queue (`ComputeSlots.take`).

    Taken before the request's body is read, held while the body is parsed
    and the work computed, and given back once both the request and any job
    it started are done, so a client that goes away mid-computation keeps its
    place until the computation that still occupies a thread ends.
    """

    def __init__(self, slots: "ComputeSlots") -> None:
        self._slots = slots
        self._holders = 1
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in a compute thread, in this place."""
        self._hold()

        def job() -> T:
            self._slots.started(+1)
            try:
                return fn(*args, **kwargs)
            finally:
                self._slots.started(-1)
                self.release()

        try:
            future = self._slots.executor().submit(job)
        except BaseException:
            self.release()
            raise
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if future.cancel():  # never started: its job will not give the place back
                self.release()
            raise

    def release(self) -> None:
        """The request (or its job) is done with the place; the last one out gives it back."""
        with self._lock:
            self._holders -= 1
            last = self._holders == 0
        if last:
            self._slots.give_back()

    def _hold(self) -> None:
        with self._lock:
            self._holders += 1

    def __enter__(self) -> "Place":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


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
        self._running = 0

    @property
    def admitted(self) -> int:
        """Requests holding a place: computing, waiting for a slot, or being parsed."""
        return self._admitted

    @property
    def running(self) -> int:
        """Jobs computing in a slot now."""
        return self._running

    def started(self, change: int) -> None:
        """A job started (+1) or ended (-1) in a slot."""
        with self._lock:
            self._running += change
            if self.metrics:
                self.metrics.computing.set(self._running)

    def take(self) -> Place:
        """A place for one request; `Overloaded` (503 + Retry-After) at once if every one is taken."""
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
        return Place(self)

    def give_back(self) -> None:
        """A place is free again (`Place.release`)."""
        with self._lock:
            self._admitted -= 1
            if self.metrics:
                self.metrics.admitted.set(self._admitted)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Take a place, run ``fn(*args, **kwargs)`` in it, give it back; `Overloaded` if none is free."""
        with self.take() as place:
            return await place.run(fn, *args, **kwargs)

    def executor(self) -> ThreadPoolExecutor:
        """The compute threads (started on first use)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="rntk-compute",
                                                initializer=lower_this_thread, initargs=(COMPUTE_NICENESS,))
            return self._pool

    def shutdown(self) -> None:
        """Release the threads; running jobs finish in the background. A later `run` starts a new pool
        (an app may go through its lifespan more than once, e.g. under several test clients)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
