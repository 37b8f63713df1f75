"""One Redis connection pool guarded by a circuit breaker, shared by cache and model store.

`RedisLink.call(fn)` runs ``fn(client)``; a connection failure or timeout
opens the breaker and raises `RedisDown`, and while the breaker is open calls
raise `RedisDown` at once without touching the network. Callers decide what a
failure means: the block cache treats it as a miss, the model store as a 503.
redis-py reconnects by itself on the next command after the breaker lets it through.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

import redis
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import RedisDown
from ..settings import Settings
from .breaker import CircuitBreaker, retry_policy

log = logging.getLogger("rntk.redis")

T = TypeVar("T")

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, BusyLoadingError, OSError)


class RedisLink:
    """A redis-py client (binary values) plus the breaker that decides whether to use it."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url is not None
        self.url = settings.redis_url
        self.prefix = settings.redis_prefix
        self.breaker = CircuitBreaker(settings.redis_cooldown_s, settings.redis_cooldown_max_s)
        self.client: redis.Redis = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_s,
            socket_connect_timeout=settings.redis_connect_timeout_s,
            retry=retry_policy(settings.redis_retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=10,
            decode_responses=False,
        )
        kwargs = self.client.get_connection_kwargs()
        self.safe_url = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        """Where Redis is, without credentials, for logs and error messages."""

    def call(self, fn: Callable[[redis.Redis], T]) -> T:
        """Run ``fn(client)``; raise `RedisDown` if Redis is unreachable or being skipped."""
        if not self.breaker.allow():
            raise RedisDown(f"Redis at {self.safe_url} is unreachable (retrying shortly)")
        try:
            result = fn(self.client)
        except UNREACHABLE as exc:
            was_open = self.breaker.is_open
            self.breaker.record_failure()
            if not was_open:
                log.warning("Redis at %s unreachable, running degraded: %s", self.safe_url, exc)
            raise RedisDown(f"Redis at {self.safe_url} is unreachable ({type(exc).__name__})") from exc
        if self.breaker.is_open:
            log.warning("Redis at %s reachable again", self.safe_url)
        self.breaker.record_success()
        return result

    def ping(self) -> bool:
        """Whether Redis answers now (through the breaker: no network call while it is open)."""
        try:
            return bool(self.call(lambda r: r.ping()))
        except RedisDown:
            return False

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()
