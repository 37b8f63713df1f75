"""Prometheus metrics of one app instance, in its own registry.

A registry per app (not the global one) lets tests build many apps in one
process. Rendered at ``GET /metrics`` in the Prometheus text format.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import ProcessCollector, disable_created_metrics

disable_created_metrics()  # the *_created series only double the exposition

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Every metric the service exports."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        self.requests = Counter(
            "rntk_http_requests", "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=r,
        )
        self.latency = Histogram(
            "rntk_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.cache_hits = Counter("rntk_cache_hits", "Gram blocks served from the block cache.", registry=r)
        self.cache_misses = Counter("rntk_cache_misses", "Gram blocks not in the cache (computed).", registry=r)
        self.repeats = Counter(
            "rntk_repeat_answers", "Gram requests answered whole from the answer kept for an exact repeat.",
            registry=r,
        )
        self.compute_seconds = Counter(
            "rntk_compute_seconds", "Seconds spent in the kernel computing Gram blocks.", registry=r
        )
        self.pair_steps = Counter(
            "rntk_pair_steps", "Pair-steps computed (SPEC §2: pairs x aligned steps x layers x passes).",
            registry=r,
        )
        self.admitted = Gauge(
            "rntk_compute_admitted", "Requests holding a compute place: parsing, waiting for a slot or computing.",
            registry=r
        )
        self.computing = Gauge("rntk_compute_running", "Requests computing in a compute slot now.", registry=r)
        self.rejected = Counter(
            "rntk_compute_rejected", "Requests refused with 503 because every slot and queue place was taken.",
            registry=r,
        )
        self.memory_bytes = Gauge(
            "rntk_in_process_cache_bytes",
            "Bytes held by an in-process cache against its budget: cache=\"blocks\" (the block cache, "
            "without Redis; RNTK_CACHE_MAX_BYTES) or \"answers\" (answers kept for exact repeats; "
            "RNTK_REPEAT_CACHE_MAX_BYTES).", ["cache"], registry=r,
        )
        self.memory_entries = Gauge(
            "rntk_in_process_cache_entries", "Entries held by an in-process cache (labelled as the bytes).",
            ["cache"], registry=r,
        )
        self.degraded = Gauge(
            "rntk_dependency_down", "1 while a dependency (Redis) is considered unreachable.", ["dependency"],
            registry=r,
        )

    def watch_in_process_cache(self, cache: str, size_bytes: Callable[[], int], entries: Callable[[], int]) -> None:
        """Report an in-process cache's `size_bytes()` and `entries()` at each scrape, labelled `cache`.

        The bytes are what the cache counts against its budget (`service.lru`),
        so they show how near it is to evicting.
        """
        self.memory_bytes.labels(cache).set_function(lambda: float(size_bytes()))
        self.memory_entries.labels(cache).set_function(lambda: float(entries()))

    def watch_cache_writes(self, waiting_bytes: Callable[[], int]) -> None:
        """Report `waiting_bytes()` as rntk_cache_writes_waiting_bytes at each scrape."""
        Gauge("rntk_cache_writes_waiting_bytes",
              "Bytes of new cache blocks waiting for the background writer (a store falling behind).",
              registry=self.registry).set_function(lambda: float(waiting_bytes()))

    def watch_dependency(self, name: str, is_down: Callable[[], bool]) -> None:
        """Report `is_down()` as rntk_dependency_down{dependency=name} at each scrape."""
        self.degraded.labels(name).set_function(lambda: float(is_down()))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
