"""Exact repeats of Gram requests are answered whole from the kept answer (`service.repeats.cache`)."""

from __future__ import annotations

import re

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.repeats.cache import KeptAnswer, RepeatCache, fingerprint
from service.wire.answers import EncodedMatrices

from ..conftest import make_settings
from ..helpers import assert_matches_core, batch, load_npy, load_npz, npz_body, post_npz

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


def test_a_json_repeat_is_the_same_answer_with_its_cache_figures_rewritten(client):
    X = batch(10, seed=93)
    body = orjson.dumps({"X": X, "params": {"sigma_w": 1.2}, "output": "both"})
    json_headers = {"Content-Type": "application/json"}
    first = client.post("/gram", content=body, headers=json_headers)
    second = client.post("/gram", content=body, headers=json_headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["cache"] == {"blocks": 6, "hits": 0, "misses": 6}
    assert second.json()["cache"] == {"blocks": 6, "hits": 6, "misses": 0}
    assert {k: v for k, v in second.json().items() if k != "cache"} == {
        k: v for k, v in first.json().items() if k != "cache"}
    got = second.json()
    assert_matches_core((got["ntk"], got["nngp"]), X, params={"sigma_w": 1.2}, output="both", block_size=4)
    assert second.headers["content-type"] == "application/json"
    assert int(second.headers["content-length"]) == len(second.content)
    as_npy = [client.post("/gram", content=body, headers={**json_headers, "Accept": "application/x-npz"})
              for _ in range(2)]
    assert as_npy[0].content == as_npy[1].content and as_npy[1].headers["x-rntk-cache-misses"] == "0"
    assert _counter(client, "rntk_repeat_answers_total") == 2.0
    requests = re.findall(r'^rntk_http_requests_total\{method="POST",route="/gram",status="200"\} (\S+)$',
                          client.get("/metrics").text, re.M)
    assert requests == ["4.0"]


def test_only_the_same_body_in_the_same_formats_is_a_repeat(client):
    X = batch(7, seed=91)
    body = npz_body({"X": X}, {"output": "ntk"})
    kept = post_npz(client, body, **NPY)
    other_format = post_npz(client, body, Accept="application/x-npz")  # same request, answered as npz
    arrays = load_npz(other_format.content)
    assert_matches_core(arrays["ntk"], X, block_size=4)
    assert other_format.content != kept.content
    other_params = post_npz(client, npz_body({"X": X}, {"output": "ntk", "params": {"sigma_b": 0.5}}), **NPY)
    assert other_params.status_code == 200 and other_params.content != kept.content
    as_json = post_npz(client, body)
    assert as_json.json()["ntk"] == arrays["ntk"].tolist()
    assert _counter(client, "rntk_repeat_answers_total") == 0.0


def test_bodies_that_share_a_fingerprint_get_each_its_own_answer(client):
    first = orjson.dumps({"X": batch(40, seed=94), "output": "ntk"})

    def one_digit_changed(i: int) -> bytes:
        return first[:i] + str((int(chr(first[i])) + 1) % 10).encode() + first[i + 1:]

    digits = (i for i in range(1, len(first)) if chr(first[i]).isdigit() and chr(first[i - 1]).isdigit())
    second = next(body for body in map(one_digit_changed, digits) if fingerprint(body) == fingerprint(first))
    assert len(first) > 4000 and second != first
    json_headers = {"Content-Type": "application/json"}
    for body in (first, second, first, second):
        answer = client.post("/gram", content=body, headers=json_headers)
        assert answer.status_code == 200
        assert_matches_core(answer.json()["ntk"], orjson.loads(body)["X"], block_size=4)
    assert _counter(client, "rntk_repeat_answers_total") == 0.0  # each took the slot over from the other


def test_a_body_of_undeclared_length_is_computed_and_not_kept(client):
    X = batch(6, seed=95)
    body = npz_body({"X": X}, {})
    for _ in range(2):
        answer = client.post("/gram", content=iter([body[:100], body[100:]]),
                             headers={"Content-Type": "application/x-npz", **NPY})
        assert answer.status_code == 200
        assert_matches_core(load_npy(answer.content), X, block_size=4)
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
    answer = KeptAnswer(EncodedMatrices("application/x-npy", (bytes(20),), {}), 1)
    requests = {name: name.encode() * 10 for name in "abcd"}  # 10 bytes of request + 20 of answer each
    slots = {name: RepeatCache.slot("/gram", "application/x-npz", "application/x-npy", body)
             for name, body in requests.items()}
    for name in "abc":
        cache.put(slots[name], requests[name], answer)
    assert cache.get(slots["a"], requests["a"]) is answer  # now the most recently used
    cache.put(slots["d"], requests["d"], answer)
    assert cache.get(slots["b"], requests["b"]) is None and cache.get(slots["a"], requests["a"]) is answer
    assert cache.size_bytes == 90 and len(cache) == 3
    big = bytes(81)
    big_slot = RepeatCache.slot("/gram", "application/x-npz", "application/x-npy", big)
    cache.put(big_slot, big, answer)  # 101 bytes with its answer
    assert cache.get(big_slot, big) is None and len(cache) == 3


def test_an_answer_is_served_only_for_the_same_bytes_in_the_same_formats():
    cache = RepeatCache(max_bytes=1 << 20)
    answer = KeptAnswer(EncodedMatrices("application/x-npy", (b"answer",), {}), 0)
    first, second = b"aaaaa", b"bbbbb"
    slot = ("/gram", "application/x-npz", "application/x-npy", 5, 0)  # one slot for both, as a collision gives
    cache.put(slot, first, answer)
    assert cache.get(slot, first) is answer
    assert cache.get(slot, second) is None
    slots = {RepeatCache.slot("/gram", request, answer_type, b"x")
             for request in ("application/json", "application/x-npz")
             for answer_type in ("application/json", "application/x-npy", "application/x-npz")}
    assert len(slots) == 6


def test_only_requests_of_a_kept_length_may_be_repeats():
    """The layer reads a body before admission only if some kept answer has its path, formats and length."""
    cache = RepeatCache(max_bytes=100)
    answer = KeptAnswer(EncodedMatrices("application/x-npy", (bytes(20),), {}), 1)
    kind = ("/gram", "application/x-npz", "application/x-npy")
    assert not cache.may_hold(*kind, 10)
    cache.put(RepeatCache.slot(*kind, b"a" * 10), b"a" * 10, answer)
    cache.put(RepeatCache.slot(*kind, b"b" * 10), b"b" * 10, answer)
    assert cache.may_hold(*kind, 10) and not cache.may_hold(*kind, 11)
    assert not cache.may_hold("/gram", "application/json", "application/x-npy", 10)
    for k in range(3):  # 30 bytes each: the two of length 10 are evicted
        body = bytes([k]) * 10 + b"!"
        cache.put(RepeatCache.slot(*kind, body), body, answer)
    assert not cache.may_hold(*kind, 10) and cache.may_hold(*kind, 11)
    cache.put(RepeatCache.slot(*kind, b"c" * 90), b"c" * 90, answer)  # too large to keep: nothing counted
    assert not cache.may_hold(*kind, 90)
