"""Exact repeats of binary Gram requests are answered whole from the kept answer (`service.repeat_cache`)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.repeat_cache import KeptAnswer, RepeatCache

from .conftest import make_settings
from .helpers import assert_matches_core, batch, load_npy, load_npz, npz_body, post_npz

NPY = {"Accept": "application/x-npy"}


def _counter(client: TestClient, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=4))) as c:
        yield c


def test_a_repeat_is_the_same_answer_with_every_block_a_hit(client):
    X = batch(10, seed=90)  # 3 runs of 4: 6 blocks
    body = npz_body({"X": X}, {"params": {"sigma_w": 1.3}, "output": "ntk"})
    first, second = post_npz(client, body, **NPY), post_npz(client, body, **NPY)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert_matches_core(load_npy(second.content), X, params={"sigma_w": 1.3}, block_size=4)
    assert (first.headers["x-rntk-cache-blocks"], first.headers["x-rntk-cache-misses"]) == ("6", "6")
    assert (second.headers["x-rntk-cache-blocks"], second.headers["x-rntk-cache-hits"],
            second.headers["x-rntk-cache-misses"]) == ("6", "6", "0")
    assert second.headers["x-rntk-shape"] == "10,10" and second.headers["content-type"] == "application/x-npy"
    assert _counter(client, "rntk_repeat_answers_total") == 1.0
    assert _counter(client, "rntk_cache_hits_total") == 6.0


def test_only_the_same_body_in_the_same_formats_is_a_repeat(client):
    X = batch(7, seed=91)
    body = npz_body({"X": X}, {"output": "both"})
    post_npz(client, body, **NPY)
    other_format = post_npz(client, body, Accept="application/x-npz")  # same request, answered as npz
    arrays = load_npz(other_format.content)
    assert_matches_core((arrays["ntk"], arrays["nngp"]), X, output="both", block_size=4)
    other_params = post_npz(client, npz_body({"X": X}, {"output": "both", "params": {"sigma_b": 0.5}}), **NPY)
    assert other_params.status_code == 200
    as_json = post_npz(client, body)
    as_json_again = post_npz(client, body)
    assert as_json.json()["ntk"] == as_json_again.json()["ntk"] == arrays["ntk"].tolist()
    assert _counter(client, "rntk_repeat_answers_total") == 0.0


def test_refusals_are_not_kept_and_the_cache_can_be_switched_off(tmp_path, client):
    bad = npz_body({"X": [[1.0, np.nan]]}, {})
    assert post_npz(client, bad, **NPY).status_code == 422
    assert post_npz(client, bad, **NPY).status_code == 422
    assert _counter(client, "rntk_repeat_answers_total") == 0.0
    with TestClient(create_app(make_settings(tmp_path, repeat_cache_max_bytes=0))) as off:
        body = npz_body({"X": batch(5, seed=92)}, {})
        assert post_npz(off, body, **NPY).content == post_npz(off, body, **NPY).content
        assert _counter(off, "rntk_repeat_answers_total") == 0.0
        assert _counter(off, "rntk_cache_hits_total") == 1.0  # served by the block cache instead


def test_kept_answers_are_bounded_in_bytes_least_recently_used_out():
    cache = RepeatCache(max_bytes=100)
    answer = KeptAnswer(bytes(20), "application/x-npy", {"x-rntk-cache-blocks": "1"}, 1)
    requests = {name: name.encode() * 10 for name in "abcd"}  # 10 bytes of request + 20 of answer each
    slots = {name: RepeatCache.slot("/gram", "application/x-npy", body) for name, body in requests.items()}
    for name in "abc":
        cache.put(slots[name], requests[name], answer)
    assert cache.get(slots["a"], requests["a"]) is answer  # now the most recently used
    cache.put(slots["d"], requests["d"], answer)
    assert cache.get(slots["b"], requests["b"]) is None and cache.get(slots["a"], requests["a"]) is answer
    assert cache.size_bytes == 90 and len(cache) == 3
    big = bytes(81)
    cache.put(RepeatCache.slot("/gram", "application/x-npy", big), big, answer)  # 101 bytes with its answer
    assert cache.get(RepeatCache.slot("/gram", "application/x-npy", big), big) is None and len(cache) == 3


def test_an_answer_is_served_only_for_the_same_bytes_even_when_the_crc_collides():
    cache = RepeatCache(max_bytes=1 << 20)
    answer = KeptAnswer(b"answer", "application/x-npy", {}, 0)
    first, second = b"aaaaa", b"bbbbb"
    slot = ("/gram", "application/x-npy", 5, 0)  # one slot for both, as a colliding CRC would give
    cache.put(slot, first, answer)
    assert cache.get(slot, first) is answer
    assert cache.get(slot, second) is None
    assert RepeatCache.slot("/gram", "application/x-npy", b"x") != RepeatCache.slot("/gram", "application/x-npz", b"x")
