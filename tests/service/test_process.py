"""The real thing: `uvicorn service.app:app` in its own process, on a real redis-server.

One scenario per test, because starting processes is the slow part: answers
equal rntk_core's, repeats come from the cache, appended data reuses blocks,
a model outlives a restart of the service, and Redis can die and come back.
`service_process` sets RNTK_BLOCK_SIZE=4 so that small batches span several blocks.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import redis

from .helpers import assert_matches_core, batch, load_npy


def test_gram_cache_and_model_survive_a_service_restart(service_process):
    proc, _ = service_process
    X = batch(10, seed=50, m=2)
    with httpx.Client(base_url=proc.url, timeout=60) as http:
        first = http.post("/gram", json={"X": X, "output": "both"}).json()
        assert first["cache"] == {"blocks": 6, "hits": 0, "misses": 6}
        assert_matches_core((first["ntk"], first["nngp"]), X, output="both", block_size=4)
        second = http.post("/gram", json={"X": X}, headers={"Accept": "application/x-npy"})
        assert second.headers["x-rntk-cache-hits"] == "6" and second.headers["x-rntk-cache-misses"] == "0"
        assert np.array_equal(load_npy(second.content), np.array(first["ntk"]))
        grown = X + batch(3, seed=51, m=2)
        appended = http.post("/gram", json={"X": grown}).json()
        assert appended["cache"] == {"blocks": 10, "hits": 3, "misses": 7}  # full blocks 0-3, 4-7 reused
        assert_matches_core(appended["ntk"], grown, block_size=4)
        fit = http.post("/krr/fit", json={"X": X, "y": [float(np.sum(s)) for s in X], "ridge": 0.1}).json()
        assert fit["cache"]["hits"] == 6
        before = http.post("/krr/predict", json={"model_id": fit["model_id"], "X": grown[-3:]}).json()
        assert "rntk_cache_hits_total" in http.get("/metrics").text

    proc.stop()
    proc.start()
    with httpx.Client(base_url=proc.url, timeout=60) as http:
        after = http.post("/krr/predict", json={"model_id": fit["model_id"], "X": grown[-3:]}).json()
        assert after["predictions"] == before["predictions"]
        assert after["cache"]["misses"] == 0  # the cross blocks were cached in Redis too
        assert http.get(f"/krr/models/{fit['model_id']}").json()["metadata"]["n_train"] == 10
        assert http.get("/docs").status_code == 200
        assert http.get("/openapi.json").json()["info"]["title"] == "RNTK service"
        head = http.head("/healthz")  # through uvicorn's own HTTP handling of HEAD
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "15"
        options = http.options(f"/krr/models/{fit['model_id']}")
        assert options.status_code == 204 and options.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"


def test_killing_redis_mid_test_then_restarting_it(start_service, own_redis):
    # without kept answers for exact repeats, so that every request goes to the block cache
    proc, redis_server = start_service(RNTK_BLOCK_SIZE="4", RNTK_REPEAT_CACHE_MAX_BYTES="0"), own_redis
    X = batch(7, seed=52)
    with httpx.Client(base_url=proc.url, timeout=60) as http:
        assert http.post("/gram", json={"X": X}).json()["cache"]["misses"] == 3
        stored = redis.Redis.from_url(redis_server.url)
        deadline = time.monotonic() + 10
        while len(stored.keys("*block:*")) < 6:  # both kernels of 3 blocks, written behind the answer
            assert time.monotonic() < deadline
            time.sleep(0.02)
        redis_server.kill()
        down = http.post("/gram", json={"X": X})
        assert down.status_code == 200
        assert down.json()["cache"] == {"blocks": 3, "hits": 0, "misses": 3}
        assert_matches_core(down.json()["ntk"], X, block_size=4)
        assert http.get("/readyz").json()["status"] == "degraded"
        stored = http.post("/krr/fit", json={"X": X, "y": [1.0] * 7, "ridge": 0.1})
        assert stored.status_code == 503 and "Retry-After" in stored.headers
        redis_server.start()
        deadline = time.monotonic() + 10
        while http.get("/readyz").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert http.post("/gram", json={"X": X}).json()["cache"]["misses"] == 3
        assert http.post("/gram", json={"X": X}).json()["cache"] == {"blocks": 3, "hits": 3, "misses": 0}


def test_healthz_over_http_while_a_long_gram_computes(start_service):
    proc = start_service()
    X = np.random.default_rng(53).normal(size=(700, 400)).tolist()
    done = threading.Event()

    def long_gram() -> None:
        with httpx.Client(base_url=proc.url, timeout=120) as http:
            http.post("/gram", json={"X": X, "output": "ntk"}, headers={"Accept": "application/x-npy"})
        done.set()

    worker = threading.Thread(target=long_gram)
    worker.start()
    latencies = []
    with httpx.Client(base_url=proc.url, timeout=5) as http:
        deadline = time.monotonic() + 5
        while "rntk_compute_running 1.0" not in http.get("/metrics").text and not done.is_set():
            assert time.monotonic() < deadline
        while not done.is_set() and len(latencies) < 20:
            started = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
    worker.join()
    assert latencies and max(latencies) < 0.1, latencies


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_service_leaves_no_parsing_process_behind(start_service):
    """Large JSON bodies are parsed in a worker process; it ends with the service, even a killed one."""
    proc = start_service(RNTK_WARMUP="false")
    X = np.random.default_rng(54).normal(size=(300, 400)).tolist()  # about 2.7 MB of JSON
    with httpx.Client(base_url=proc.url, timeout=120) as http:
        r = http.post("/gram", json={"X": X[:5] + [X[5][:3]], "output": "ntk"})
        assert r.status_code == 200
        big = http.post("/gram", json={"X": X, "params": {"sigma_w": 1.1}}, headers={"Accept": "application/x-npy"})
        assert big.status_code == 200
        assert_matches_core(load_npy(big.content), X, params={"sigma_w": 1.1})
    workers = _children(proc.proc.pid)
    assert workers, "no worker process parsed the large body"
    proc.proc.send_signal(signal.SIGKILL)
    proc.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, f"worker processes {workers} outlived the killed service"
        time.sleep(0.1)
