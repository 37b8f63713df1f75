"""GET /metrics reports the bytes and entries of the in-process caches as they fill and evict.

The expected figures are worked out from what was sent: a /gram of N
sequences computed whole (one block) keeps its NTK and its NNGP, each an N x N
float64 matrix of 8·N² bytes, as two entries; an answer kept for exact repeats
costs its request body plus its JSON body up to the final cache figures.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app

from ..conftest import make_settings
from ..helpers import batch


def cache_gauges(client: TestClient) -> dict[tuple[str, str], float]:
    """(metric, cache label) -> value of the rntk_in_process_cache_* gauges, read by Prometheus's own parser."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    out = {}
    for family in text_string_to_metric_families(answer.text):
        if family.name.startswith("rntk_in_process_cache_"):
            for sample in family.samples:
                out[(sample.name.removeprefix("rntk_in_process_cache_"), sample.labels["cache"])] = sample.value
    return out


def blocks(client: TestClient) -> tuple[float, float]:
    gauges = cache_gauges(client)
    return gauges[("bytes", "blocks")], gauges[("entries", "blocks")]


def answers(client: TestClient) -> tuple[float, float]:
    gauges = cache_gauges(client)
    return gauges[("bytes", "answers")], gauges[("entries", "answers")]


def post_gram(client: TestClient, n: int, seed: int) -> tuple[bytes, bytes]:
    """Both kernels of the Gram of `n` sequences (so that a hit uses, and refreshes, both entries)."""
    body = json.dumps({"X": batch(n, seed=seed), "output": "both"}).encode()
    answer = client.post("/gram", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    return body, answer.content


def test_block_cache_gauges_follow_stores_and_evictions(tmp_path: Path):
    both = lambda n: 2 * 8 * n * n  # noqa: E731 - NTK and NNGP of one whole-Gram block
    settings = make_settings(tmp_path, cache_max_bytes=both(4) + both(5) + 50, repeat_cache_max_bytes=0)
    with TestClient(create_app(settings)) as client:
        assert blocks(client) == (0, 0)
        post_gram(client, 4, seed=1)
        assert blocks(client) == (both(4), 2)
        post_gram(client, 5, seed=2)
        assert blocks(client) == (both(4) + both(5), 4)
        post_gram(client, 4, seed=1)  # a hit: nothing is stored, the N=4 pair becomes the most recently used
        assert blocks(client) == (both(4) + both(5), 4)
        post_gram(client, 3, seed=3)  # over the budget: the least recently used entry (the N=5 NTK) leaves
        assert blocks(client) == (both(4) + both(5) + both(3) - 8 * 5 * 5, 5)
        post_gram(client, 5, seed=4)  # 400 bytes more: the N=5 NNGP, then the N=4 NTK leave
        assert blocks(client) == (8 * 4 * 4 + both(3) + both(5), 5)


def test_answer_cache_gauges_follow_kept_answers_and_evictions(tmp_path: Path):
    settings = make_settings(tmp_path, repeat_cache_max_bytes=4000)
    with TestClient(create_app(settings)) as client:
        assert answers(client) == (0, 0)
        body, content = post_gram(client, 4, seed=5)
        first = len(body) + content.rindex(b',"cache":')
        assert answers(client) == (first, 1)
        post_gram(client, 4, seed=5)  # an exact repeat is served, not kept again
        assert answers(client) == (first, 1)
        sizes = [first]
        seed = 6
        while sum(sizes) <= 4000:  # kept answers until the budget is passed; then the oldest leave
            body, content = post_gram(client, 4, seed=seed)
            sizes.append(len(body) + content.rindex(b',"cache":'))
            seed += 1
        while sum(sizes) > 4000:
            sizes.pop(0)
        assert answers(client) == (sum(sizes), len(sizes)) and len(sizes) < seed - 5


def test_with_redis_the_block_cache_is_not_in_process(redis_client):
    post_gram(redis_client, 4, seed=7)
    gauges = cache_gauges(redis_client)
    assert ("bytes", "blocks") not in gauges and ("bytes", "answers") in gauges
