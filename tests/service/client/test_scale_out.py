"""Scale-out: two service replicas, one of them with two worker processes, sharing one real Redis.

Replica A starts through ``scripts/run-server.sh`` (the entry point of
``scripts/serve.sh`` and of the Docker image) with ``RNTK_WORKERS=2``;
replica B is the test suite's plain uvicorn. Each has a model directory of its
own, so whatever one finds that the other stored came through Redis: a model
fitted on A predicts on B, and a Gram computed on one is a cache hit on the
other. The keys also show why Redis may evict the cache but never a model:
blocks carry a TTL, models none.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import redis

from rntk_core import KernelRidge, RNTKParams
from service.client import RNTKClient, RNTKError

from ..conftest import REPO_ROOT, RedisServer, ServiceProcess
from ..helpers import assert_matches_core, batch

BLOCK = 4


class ScriptProcess(ServiceProcess):
    """The service started by ``scripts/run-server.sh`` (RNTK_HOST, RNTK_PORT, RNTK_WORKERS)."""

    def command(self) -> list[str]:
        return [str(REPO_ROOT / "scripts" / "run-server.sh"), "--log-level", "warning"]

    def launch_env(self) -> dict[str, str]:
        return {**self.env, "RNTK_HOST": "127.0.0.1", "RNTK_PORT": str(self.port),
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"}


@pytest.fixture
def replicas(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[ServiceProcess, ServiceProcess, str]]:
    """Replica A (two workers, via the entry script) and replica B on one Redis and one key prefix."""
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    shared = {"RNTK_REDIS_URL": redis_server.url, "RNTK_REDIS_PREFIX": prefix, "RNTK_BLOCK_SIZE": str(BLOCK)}
    a = ScriptProcess({**shared, "RNTK_WORKERS": "2", "RNTK_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log")
    b = ServiceProcess({**shared, "RNTK_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log")
    starters = [threading.Thread(target=p.start) for p in (a, b)]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    try:
        assert a.proc is not None and b.proc is not None, "a replica failed to start (see its log above)"
        yield a, b, prefix
    finally:
        a.stop()
        b.stop()


def wait_for_blocks(redis_server: RedisServer, prefix: str, entries: int) -> None:
    """Wait until Redis holds `entries` block entries: a replica writes new blocks behind its answer."""
    r = redis.Redis.from_url(redis_server.url)
    deadline = time.monotonic() + 10
    while len(r.keys(f"{prefix}block:*")) < entries:
        assert time.monotonic() < deadline, f"fewer than {entries} block entries in Redis after 10 s"
        time.sleep(0.02)


def test_two_replicas_share_models_and_the_gram_cache_through_one_redis(replicas, redis_server):
    a, b, prefix = replicas
    X, Xt = batch(10, seed=90, m=2), batch(3, seed=91, m=2)
    y = [float(np.sum(s)) for s in X]
    params = {"sigma_b": 0.1}
    with RNTKClient(a.url, timeout=60) as on_a, RNTKClient(b.url, timeout=60) as on_b:
        first = on_a.gram_result(X, params=params, output="both")
        assert first.cache == {"blocks": 6, "hits": 0, "misses": 6}
        assert_matches_core((first.ntk, first.nngp), X, params=params, output="both", block_size=BLOCK)
        wait_for_blocks(redis_server, prefix, 12)  # both kernels of 6 blocks
        second = on_b.gram_result(X, params=params, output="both")
        assert second.cache == {"blocks": 6, "hits": 6, "misses": 0}
        assert np.array_equal(second.ntk, first.ntk) and np.array_equal(second.nngp, first.nngp)

        cross = on_b.gram_result(X, Xt, params=params)
        assert cross.cache["misses"] == cross.cache["blocks"] > 0
        wait_for_blocks(redis_server, prefix, 12 + 2 * cross.cache["blocks"])
        assert on_a.gram_result(X, Xt, params=params).cache["misses"] == 0

        model = on_a.fit(X, y, params=params, ridge=0.05)
        assert model.cache["misses"] == 0  # the training Gram came from B's and A's earlier work
        expected = KernelRidge(params=RNTKParams.from_dict(params), ridge=0.05).fit(X, y).predict(Xt)
        on_b_result = on_b.predict_result(model.model_id, Xt)
        np.testing.assert_allclose(on_b_result.predictions, expected, rtol=1e-10, atol=1e-12)
        assert on_b_result.cache["misses"] == 0  # the cross blocks were cached above
        for _ in range(4):  # whichever of A's two workers answers
            np.testing.assert_array_equal(on_a.predict(model.model_id, Xt), on_b_result.predictions)
        assert on_b.model_info(model.model_id)["metadata"]["n_train"] == 10

        on_b.delete_model(model.model_id)
        with pytest.raises(RNTKError, match="model_not_found"):
            on_a.predict(model.model_id, Xt)
        kept = on_b.fit(X, y, ridge=0.05)

    assert len(_workers(a)) == 2, "replica A should run two uvicorn worker processes"
    assert not any((p.env["RNTK_DATA_DIR"] / Path("models")).exists() for p in (a, b))
    store = redis.Redis.from_url(redis_server.url)
    try:
        blocks = list(store.scan_iter(f"{prefix}block:*", count=1000))
        assert blocks and all(store.ttl(k) > 0 for k in blocks), "cached blocks must expire (so are evictable)"
        models = list(store.scan_iter(f"{prefix}model:*"))
        assert models == [f"{prefix}model:{kept.model_id}".encode()]
        assert store.ttl(models[0]) == -1, "models must have no TTL (so are never evicted)"
    finally:
        store.close()


def _workers(proc: ServiceProcess) -> list[int]:
    """Process ids of a replica's uvicorn workers (children spawned by multiprocessing, not its helpers)."""
    pid = proc.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    cmdlines = {c: Path(f"/proc/{c}/cmdline").read_bytes().replace(b"\0", b" ") for c in children}
    return [int(c) for c, cmd in cmdlines.items() if b"spawn_main" in cmd and b"resource_tracker" not in cmd]
