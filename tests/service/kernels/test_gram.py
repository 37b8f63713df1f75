"""POST /gram through the test client: answers equal rntk_core's, and the block cache is used."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app

from ..conftest import make_settings
from ..helpers import assert_matches_core, batch, expected, load_npy, load_npz


@pytest.mark.parametrize(
    "params",
    [{}, {"activation": "erf", "n_layers": 2, "sigma_w": [1.2, 0.8], "sigma_h": 0.3},
     {"direction": "bidirectional", "sigma_b": 0.2, "sigma_h": 0.5}],
)
def test_symmetric_gram_equals_core(client, params):
    X = batch(9, seed=1, m=2)
    r = client.post("/gram", json={"X": X, "params": params, "output": "both"})
    assert r.status_code == 200, r.text
    body = r.json()
    ntk, nngp = expected(X, params=params, output="both")
    assert np.array_equal(np.array(body["ntk"]), ntk)
    assert np.array_equal(np.array(body["nngp"]), nngp)
    assert body["shape"] == [9, 9]


def test_cross_gram_and_single_output(client):
    X, Z = batch(5, seed=2), batch(7, seed=3)
    body = client.post("/gram", json={"X": X, "Z": Z, "output": "nngp"}).json()
    assert set(body) == {"nngp", "shape", "cache"}
    assert body["shape"] == [5, 7]
    assert np.array_equal(np.array(body["nngp"]), expected(X, Z, output="nngp"))


def test_npy_and_npz_answers(client):
    X = batch(6, seed=4)
    r = client.post("/gram", json={"X": X}, headers={"Accept": "application/x-npy"})
    assert r.headers["content-type"] == "application/x-npy"
    assert r.headers["x-rntk-shape"] == "6,6"
    assert np.array_equal(load_npy(r.content), expected(X))
    r = client.post("/gram", json={"X": X, "output": "both"}, headers={"Accept": "application/x-npy"})
    assert r.headers["content-type"] == "application/x-npz"
    arrays = load_npz(r.content)
    ntk, nngp = expected(X, output="both")
    assert np.array_equal(arrays["ntk"], ntk) and np.array_equal(arrays["nngp"], nngp)
    r = client.post("/gram", json={"X": X}, headers={"Accept": "application/json;q=0.5, application/x-npz"})
    assert set(load_npz(r.content)) == {"ntk"}


def test_identical_request_is_served_from_the_cache(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=4))) as client:
        X = batch(10, seed=5)  # blocks of 4, 4, 2: 6 blocks on and above the diagonal
        first = client.post("/gram", json={"X": X}).json()
        second = client.post("/gram", json={"X": X}).json()
    assert first["cache"] == {"blocks": 6, "hits": 0, "misses": 6}
    assert second["cache"] == {"blocks": 6, "hits": 6, "misses": 0}
    assert first["ntk"] == second["ntk"]


def test_appended_dataset_reuses_its_earlier_blocks(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=4))) as client:
        X = batch(8, seed=6)
        client.post("/gram", json={"X": X})  # blocks (0,0), (0,1), (1,1)
        grown = X + batch(5, seed=7)  # 13 sequences: 4 row blocks, 10 blocks
        body = client.post("/gram", json={"X": grown}).json()
    assert body["cache"] == {"blocks": 10, "hits": 3, "misses": 7}
    assert_matches_core(body["ntk"], grown, block_size=4)


def test_cross_blocks_are_shared_both_ways(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=3))) as client:
        A, B = batch(5, seed=8), batch(4, seed=9)
        ab = client.post("/gram", json={"X": A, "Z": B}).json()
        ba = client.post("/gram", json={"X": B, "Z": A}).json()
    assert ab["cache"]["misses"] == 4 and ba["cache"] == {"blocks": 4, "hits": 4, "misses": 0}
    assert np.array_equal(np.array(ba["ntk"]), np.array(ab["ntk"]).T)
    assert_matches_core(ba["ntk"], B, A, block_size=3)


def test_diagonal_and_cross_blocks_of_the_same_data_differ(tmp_path):
    """With σh > 0 a sequence with itself (symmetric diagonal) is not two equal samples (cross)."""
    params = {"sigma_h": 0.7}
    with TestClient(create_app(make_settings(tmp_path, block_size=8))) as client:
        X = batch(5, seed=10)
        sym = client.post("/gram", json={"X": X, "params": params}).json()
        cross = client.post("/gram", json={"X": X, "Z": X, "params": params}).json()
    assert cross["cache"]["hits"] == 0
    assert np.array_equal(np.array(sym["ntk"]), expected(X, params=params))
    assert np.array_equal(np.array(cross["ntk"]), expected(X, X, params=params))
    assert not np.array_equal(np.array(sym["ntk"]), np.array(cross["ntk"]))


def test_params_change_the_key(tmp_path):
    with TestClient(create_app(make_settings(tmp_path))) as client:
        X = batch(4, seed=11)
        client.post("/gram", json={"X": X})
        other = client.post("/gram", json={"X": X, "params": {"sigma_b": 0.1}}).json()
        same = client.post("/gram", json={"X": X, "params": {"sigma_w": 2 ** 0.5, "n_layers": 1}}).json()
    assert other["cache"]["hits"] == 0
    assert same["cache"]["hits"] == 1  # the defaults written out are the same kernel


def test_metrics_report_requests_cache_and_work(client):
    X = batch(4, seed=12)
    client.post("/gram", json={"X": X})
    client.post("/gram", json={"X": X})
    text = client.get("/metrics").text
    assert 'rntk_http_requests_total{method="POST",route="/gram",status="200"} 2.0' in text
    assert "rntk_cache_hits_total 1.0" in text and "rntk_cache_misses_total 1.0" in text
    assert "rntk_http_request_duration_seconds_bucket" in text
    steps = float(next(line.split()[-1] for line in text.splitlines() if line.startswith("rntk_pair_steps_total")))
    lengths = sorted(len(s) for s in X)
    assert steps == sum(min(a, b) for i, a in enumerate(lengths) for b in lengths[i:])
    assert float(next(line.split()[-1] for line in text.splitlines()
                      if line.startswith("rntk_compute_seconds_total"))) > 0
