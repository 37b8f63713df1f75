"""Retry policy as objects: a circuit breaker for an unreliable dependency.

When Redis fails, every request would otherwise wait for its own connect
timeout. The breaker remembers the failure: for a cool-down period calls are
skipped (cache miss, or 503 for the model store) without touching the network;
after it, one call is let through, and its success closes the breaker, so a
Redis that returns is used again without a restart. Cool-downs grow
exponentially while failures repeat. Per-command retries stay redis-py's own
`redis.retry.Retry` object (see `retry_policy`).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from redis.backoff import ExponentialBackoff
from redis.retry import Retry


class CircuitBreaker:
    """Closed (calls allowed) or open (calls skipped until a deadline); thread-safe.

    Parameters
    ----------
    cooldown_s : first pause after a failure
    max_cooldown_s : longest pause; each consecutive failure doubles the pause
    clock : monotonic time source (injectable for tests)
    """

    def __init__(
        self, cooldown_s: float, max_cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._cooldown = cooldown_s
        self._max = max_cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0

    def allow(self) -> bool:
        """Whether a call may go to the dependency now (closed, or the cool-down has passed)."""
        with self._lock:
            return self._failures == 0 or self._clock() >= self._open_until

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._failures = 0
            self._open_until = 0.0

    def record_failure(self) -> None:
        """A call failed: open the breaker for a (growing) cool-down."""
        with self._lock:
            self._failures += 1
            pause = min(self._max, self._cooldown * 2 ** min(self._failures - 1, 30))
            self._open_until = self._clock() + pause

    @property
    def is_open(self) -> bool:
        """True after a failure until a later call succeeds."""
        with self._lock:
            return self._failures > 0

    def seconds_until_retry(self) -> float:
        """How long until the next call is let through (0 when closed)."""
        with self._lock:
            return max(0.0, self._open_until - self._clock()) if self._failures else 0.0


def retry_policy(retries: int) -> Retry:
    """redis-py's per-command retry: `retries` attempts with capped exponential backoff."""
    return Retry(ExponentialBackoff(cap=0.1, base=0.01), retries)
