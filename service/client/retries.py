"""Which failures the client tries again, and how long it waits (``Retry-After``, else jittered backoff)."""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass
from typing import Optional


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures to try again, how often, and how long to wait in between.

    Parameters
    ----------
    attempts : tries in all, the first included (1: never retry)
    backoff_base_s, backoff_cap_s : without ``Retry-After``, wait ``base * 2**(retry - 1)`` seconds,
        at most ``cap`` (halved at random with `jitter`, so clients that failed together spread out)
    max_wait_s : the longest single wait, also when ``Retry-After`` asks for more
    retry_statuses : answers worth another try; a 503 means the service did not carry the request
        out (all compute slots busy, or the model store unreachable), so any request may be repeated
    retry_connection_errors : retry when connecting failed (the request was not sent). Read
        timeouts are never retried: the service may still be computing the answer.
    jitter : randomise the backoff (not a wait that ``Retry-After`` asked for)
    """

    attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    max_wait_s: float = 30.0
    retry_statuses: frozenset[int] = frozenset({503})
    retry_connection_errors: bool = True
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: must be >= 1, got {self.attempts}")
        for name in ("backoff_base_s", "backoff_cap_s", "max_wait_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")

    def retries_status(self, status_code: int) -> bool:
        """Whether an answer with this status is worth another try."""
        return status_code in self.retry_statuses

    def wait_s(self, retry: int, retry_after: Optional[str] = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first), honouring ``Retry-After``."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_wait_s)
        backoff = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(retry - 1, 60))
        if self.jitter:
            backoff = backoff / 2 + random.uniform(0, backoff / 2)
        return min(backoff, self.max_wait_s)


NO_RETRY = RetryPolicy(attempts=1)
"""A policy that never retries."""
