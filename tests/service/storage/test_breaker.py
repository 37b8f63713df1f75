"""The circuit breaker in front of Redis."""

from __future__ import annotations

from service.storage.breaker import CircuitBreaker


def test_breaker_opens_with_growing_cooldowns_and_closes_on_success():
    now = [0.0]
    breaker = CircuitBreaker(1.0, 4.0, clock=lambda: now[0])
    assert breaker.allow() and not breaker.is_open
    breaker.record_failure()
    assert not breaker.allow() and breaker.seconds_until_retry() == 1.0
    now[0] = 1.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.seconds_until_retry() == 2.0
    for _ in range(5):
        breaker.record_failure()
    assert breaker.seconds_until_retry() == 4.0
    now[0] = 10.0
    breaker.record_success()
    assert breaker.allow() and not breaker.is_open
