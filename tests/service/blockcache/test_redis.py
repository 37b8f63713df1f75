"""The app on a real Redis (started by the fixtures): shared cache, model store, losing and regaining Redis."""

from __future__ import annotations

import time

import numpy as np
import redis
from fastapi.testclient import TestClient

from service.app import create_app
from service.blockcache.stores import RedisBlockCache
from service.storage.redis_link import RedisLink

from ..conftest import make_settings
from ..helpers import assert_matches_core, batch, expected


def test_blocks_and_models_live_in_redis(redis_client, redis_server):
    X = batch(6, seed=40)
    first = redis_client.post("/gram", json={"X": X, "output": "both"}).json()
    second = redis_client.post("/gram", json={"X": X, "output": "both"}).json()
    assert first["cache"] == {"blocks": 1, "hits": 0, "misses": 1}
    assert second["cache"] == {"blocks": 1, "hits": 1, "misses": 0}
    assert_matches_core((second["ntk"], second["nngp"]), X, output="both")
    prefix = redis_client.app.state.services.settings.redis_prefix
    assert redis_client.app.state.services.cache.drain()  # the background writer has stored them
    assert "rntk_cache_writes_waiting_bytes 0.0" in redis_client.get("/metrics").text
    r = redis.Redis.from_url(redis_server.url)
    blocks = r.keys(f"{prefix}block:*")
    assert len(blocks) == 2  # one entry per kernel
    assert 0 < r.ttl(blocks[0]) <= 7 * 24 * 3600
    assert r.get(blocks[0])[:8] == b"RNTKBLK1"  # raw float64 with a header, not a pickle
    fit = redis_client.post("/krr/fit", json={"X": X, "y": [1.0] * 6, "ridge": 0.1}).json()
    assert r.exists(f"{prefix}model:{fit['model_id']}")
    assert r.ttl(f"{prefix}model:{fit['model_id']}") == -1  # models do not expire by default
    assert redis_client.get("/readyz").json()["status"] == "ready"


def test_two_service_instances_share_the_cache(tmp_path, redis_server):
    settings = make_settings(tmp_path, redis_url=redis_server.url, redis_prefix="shared-test:")
    X = batch(5, seed=41)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert a.post("/gram", json={"X": X}).json()["cache"]["misses"] == 1
        assert a.app.state.services.cache.drain()  # a's background writer has stored the block
        assert b.post("/gram", json={"X": X}).json()["cache"]["hits"] == 1
        model_id = a.post("/krr/fit", json={"X": X, "y": [0.0, 1.0, 2.0, 3.0, 4.0], "ridge": 0.1}).json()["model_id"]
        assert b.post("/krr/predict", json={"model_id": model_id, "X": X}).status_code == 200


def test_losing_redis_degrades_and_regaining_it_restores_caching(tmp_path, own_redis):
    settings = make_settings(tmp_path, redis_url=own_redis.url, repeat_cache_max_bytes=0)  # every request to Redis
    X, Xt = batch(8, seed=42), batch(3, seed=43)
    with TestClient(create_app(settings)) as client, TestClient(create_app(settings)) as other:
        assert client.post("/gram", json={"X": X}).json()["cache"]["misses"] == 1
        fit = client.post("/krr/fit", json={"X": X, "y": list(range(8)), "ridge": 0.1}).json()
        used = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": Xt}).json()
        # a model another instance stored: this one has never seen it
        unseen = other.post("/krr/fit", json={"X": X, "y": [1.0] * 8, "ridge": 0.2}).json()["model_id"]
        assert client.app.state.services.cache.drain()  # nothing left for the background writer

        own_redis.kill()
        # /gram still answers correctly, computing without the cache
        down = client.post("/gram", json={"X": X})
        assert down.status_code == 200
        assert down.json()["cache"] == {"blocks": 1, "hits": 0, "misses": 1}
        assert np.array_equal(np.array(down.json()["ntk"]), expected(X))
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["cache"]["status"] == "unreachable"
        assert "rntk_dependency_down{dependency=\"redis\"} 1.0" in client.get("/metrics").text
        # a model this instance fitted or used is still served from its copy; others are a clear 503
        again = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": Xt})
        assert again.status_code == 200 and again.json()["predictions"] == used["predictions"]
        for response in (client.post("/krr/predict", json={"model_id": "B" * 32, "X": Xt}),
                         client.get(f"/krr/models/{unseen}"),
                         client.post("/krr/fit", json={"X": X, "y": [1.0] * 8, "ridge": 0.1})):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "model_store_unavailable"
            assert "Redis" in response.json()["detail"]
            assert int(response.headers["retry-after"]) >= 1
        assert client.get("/healthz").status_code == 200

        own_redis.start()  # an empty Redis on the same port: no restart of the service
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["status"] != "ready":
            assert time.monotonic() < deadline, "the service did not notice Redis came back"
            time.sleep(0.05)
        assert client.post("/gram", json={"X": X}).json()["cache"] == {"blocks": 1, "hits": 0, "misses": 1}
        assert client.post("/gram", json={"X": X}).json()["cache"] == {"blocks": 1, "hits": 1, "misses": 0}
        refit = client.post("/krr/fit", json={"X": X, "y": [1.0] * 8, "ridge": 0.1})
        assert refit.status_code == 200


def test_the_service_starts_while_redis_is_down(tmp_path, own_redis):
    url = own_redis.url
    own_redis.kill()
    with TestClient(create_app(make_settings(tmp_path, redis_url=url))) as client:
        X = batch(4, seed=44)
        assert client.get("/readyz").json()["status"] == "degraded"
        assert np.array_equal(np.array(client.post("/gram", json={"X": X}).json()["ntk"]), expected(X))
        own_redis.start()
        deadline = time.monotonic() + 10
        while client.post("/gram", json={"X": X}).json()["cache"]["hits"] != 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_a_gram_of_several_blocks_stores_each_block_once_and_is_all_hits_next_time(tmp_path, redis_server):
    prefix = "several-blocks:"
    settings = make_settings(tmp_path, redis_url=redis_server.url, redis_prefix=prefix, block_size=2)
    X = batch(6, seed=44)  # 3 runs of 2 sequences: 6 blocks on and above the diagonal
    with TestClient(create_app(settings)) as client:
        first = client.post("/gram", json={"X": X, "output": "both"}).json()
        second = client.post("/gram", json={"X": X, "output": "both"}).json()
    assert first["cache"] == {"blocks": 6, "hits": 0, "misses": 6}
    assert second["cache"] == {"blocks": 6, "hits": 6, "misses": 0}
    assert_matches_core((first["ntk"], first["nngp"]), X, output="both", block_size=2)
    assert_matches_core((second["ntk"], second["nngp"]), X, output="both", block_size=2)
    r = redis.Redis.from_url(redis_server.url)
    keys = r.keys(f"{prefix}block:*")
    assert len(keys) == 12 and all(0 < r.ttl(k) for k in keys)


def test_put_many_skips_oversized_entries_and_sets_the_ttl(tmp_path, redis_server):
    settings = make_settings(tmp_path, redis_url=redis_server.url, redis_prefix="put-many:")
    link = RedisLink(settings)
    try:
        cache = RedisBlockCache(link, ttl_s=60, max_entry_bytes=10)
        cache.put_many([("a", b"1"), ("b", b"22"), ("big", bytes(11))])
        assert cache.get_many(["a", "b", "big"]) == [b"1", b"22", None]
        assert 0 < redis.Redis.from_url(redis_server.url).ttl("put-many:block:a") <= 60
        assert cache.errors == 0
    finally:
        link.close()


def test_a_refused_write_is_counted_and_skipped(tmp_path, own_redis):
    settings = make_settings(tmp_path, redis_url=own_redis.url, redis_prefix="refused:")
    link = RedisLink(settings)
    try:
        cache = RedisBlockCache(link, ttl_s=60)
        r = redis.Redis.from_url(own_redis.url)
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory", 1)  # every write is refused (OOM)
        cache.put_many([("a", b"1")])
        cache.put_many([("b", b"2"), ("c", b"3")])
        assert cache.errors == 3
        r.config_set("maxmemory", 0)
        cache.put_many([("b", b"2")])
        assert cache.get_many(["a", "b", "c"]) == [None, b"2", None] and cache.errors == 3
    finally:
        link.close()
