"""New cache entries stored by a background thread, so that an answer does not wait for the writes.

Storing the blocks of a fresh Gram in Redis is several megabytes encoded and
sent over the network: at N = 500 both kernels are 3 MB, a few milliseconds
on the request's path. `WriteBehindCache` wraps a `BlockCache`: `put_many`
hands the entries to one writer thread and returns, and until the writer has
stored them they are served from memory, so this process reads its own writes
at once (other replicas see them when the write lands, milliseconds later).

Memory is bounded: entries waiting to be written take at most `max_bytes`;
beyond that `put_many` writes synchronously, as if there were no wrapper, so a
slow store slows requests instead of growing a queue. `close` waits for the
queue to drain (up to a timeout) before the process exits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Optional, Sequence

from ..thread_priority import WRITER_NICENESS, lower_this_thread
from .stores import BlockCache, Stored, held_bytes

log = logging.getLogger("rntk.service")

_Batch = tuple[list[tuple[str, Stored]], int]
"""Entries handed to the writer, and their size in bytes."""

class WriteBehindCache:
    """A `BlockCache` whose writes go through one background thread, at most `max_bytes` waiting."""

    def __init__(self, inner: BlockCache, max_bytes: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.max_bytes = max_bytes
        self._waiting: dict[str, Stored] = {}
        self._waiting_bytes = 0
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._queue: "queue.SimpleQueue[Optional[_Batch]]" = queue.SimpleQueue()
        self._writer: Optional[threading.Thread] = None
        self._closed = False

    def get_many(self, names: Sequence[str]) -> list[Optional[Stored]]:
        with self._lock:
            found = [self._waiting.get(name) for name in names]
        missing = [name for name, value in zip(names, found) if value is None]
        if missing:
            fetched = iter(self.inner.get_many(missing))
            found = [next(fetched) if value is None else value for value in found]
        return found

    def put_many(self, items: Sequence[tuple[str, Stored]]) -> None:
        batch = list(items)
        size = held_bytes(value for _, value in batch)
        with self._lock:
            queued = not self._closed and self._waiting_bytes + size <= self.max_bytes
            if queued:
                self._waiting.update(batch)
                self._waiting_bytes += size
                self._start_writer()
        if queued:
            self._queue.put((batch, size))
        else:
            self.inner.put_many(batch)

    def status(self) -> str:
        return self.inner.status()

    @property
    def waiting_bytes(self) -> int:
        """Bytes handed to the writer and not yet stored."""
        return self._waiting_bytes

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every entry handed over so far is stored; whether that happened within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._waiting_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._drained.wait(left)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Store what is waiting (up to `timeout`), then stop the writer; later writes are synchronous."""
        if not self.drain(timeout):
            log.warning("cache writes still waiting at shutdown: %d bytes dropped", self._waiting_bytes)
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout)

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, name="rntk-cache-writer", daemon=True)
            self._writer.start()

    def _write(self) -> None:
        lower_this_thread(WRITER_NICENESS)  # the writer yields a busy CPU to requests
        while (handed := self._queue.get()) is not None:
            batch, size = handed
            try:
                self.inner.put_many(batch)  # never raises for its own store's failures
            except Exception:  # a bug: the entries are dropped, the writer carries on
                log.exception("cache write failed")
            finally:
                with self._lock:
                    for name, value in batch:
                        if self._waiting.get(name) is value:
                            del self._waiting[name]
                    self._waiting_bytes -= size
                    self._drained.notify_all()
