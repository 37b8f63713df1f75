"""`service.client.RNTKClient`: against a real uvicorn, and its bodies and retry policy on a mock transport.

The live tests share one `uvicorn service.app:app` on the embedded default (no
Redis), as ``scripts/serve.sh`` runs it, with one compute slot and no queue
so that a 503 with ``Retry-After`` can be provoked; the Gram and kernel ridge
tests run once with npz request bodies (the default) and once with JSON. The
mock-transport tests check what the client sends. The retry tests put
``httpx.MockTransport`` under the client to script 503s, dates and dropped
connections, and record the waits instead of sleeping.
"""

from __future__ import annotations

import ast
import email.utils
import json
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import numpy as np
import pytest

from rntk_core import KernelRidge, RNTKParams
from service.client import Model, RetryPolicy, RNTKClient, RNTKConnectionError, RNTKError
from service.wire.answers import npy_bytes, npz_bytes

from ..conftest import ServiceProcess
from ..helpers import assert_matches_core, batch, load_npz

BLOCK = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One real service for this module: embedded stores, small blocks, one slot, no queue."""
    tmp = tmp_path_factory.mktemp("client")
    proc = ServiceProcess(
        {"RNTK_DATA_DIR": str(tmp / "data"), "RNTK_BLOCK_SIZE": str(BLOCK), "RNTK_COMPUTE_SLOTS": "1",
         "RNTK_COMPUTE_QUEUE": "0", "RNTK_RETRY_AFTER_S": "1"},
        tmp / "uvicorn.log",
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def rntk(request: pytest.FixtureRequest, server: ServiceProcess) -> Iterator[RNTKClient]:
    """A client with the default body format (npz), or the one a test's ``indirect`` parameter names."""
    with RNTKClient(server.url, timeout=60, body_format=getattr(request, "param", "npz")) as client:
        yield client


BOTH_FORMATS = pytest.mark.parametrize("rntk", ["npz", "json"], indirect=True)


# Against the real service -------------------------------------------------------

@BOTH_FORMATS
def test_gram_returns_the_librarys_matrices_as_arrays(rntk):
    X = [np.asarray(s) for s in batch(9, seed=70, m=2)]
    Z = batch(3, seed=71, m=2)
    params = {"sigma_b": 0.1, "n_layers": 2}
    K = rntk.gram(X, params=params)
    assert isinstance(K, np.ndarray) and K.dtype == np.float64 and K.shape == (9, 9)
    assert_matches_core(K, batch(9, seed=70, m=2), params=params, block_size=BLOCK)
    ntk, nngp = rntk.gram(X, Z, params=RNTKParams(sigma_b=0.1, n_layers=2), output="both")
    assert_matches_core((ntk, nngp), batch(9, seed=70, m=2), Z, params=params, output="both", block_size=BLOCK)
    assert np.array_equal(rntk.gram(X, Z, params=params, output="nngp"), nngp)
    again = rntk.gram_result(X, params=params)
    assert again.shape == (9, 9) and again.nngp is None and np.array_equal(again.ntk, K)
    assert again.cache == {"blocks": 6, "hits": 6, "misses": 0}


@BOTH_FORMATS
def test_an_array_batch_is_a_batch_of_sequences(rntk):
    X = np.random.default_rng(72).normal(size=(5, 7))
    assert np.array_equal(rntk.gram(X), rntk.gram(list(X)))
    assert_matches_core(rntk.gram(X[:, :, None]), X.tolist(), block_size=BLOCK)


@BOTH_FORMATS
def test_fit_returns_a_handle_that_predicts_like_the_library(rntk):
    X, Xt = batch(12, seed=73), batch(4, seed=74)
    y = np.array([float(np.sum(s)) for s in X])
    params = RNTKParams(sigma_b=0.1, sigma_h=0.2)
    model = rntk.fit(X, y, params=params, ridge=0.01, kernel="nngp")
    assert isinstance(model, Model) and len(model.model_id) == 32
    assert (model.ridge, model.n_train, model.kernel, model.task) == (0.01, 12, "nngp", "regression")
    ref = KernelRidge(params=params, ridge=0.01, kernel="nngp").fit(X, y)
    np.testing.assert_allclose(model.predict(Xt), ref.predict(Xt), rtol=1e-10, atol=1e-12)
    mean, std = rntk.predict(model.model_id, Xt, return_std=True)
    ref_mean, ref_std = ref.predict(Xt, return_std=True)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(std, ref_std, rtol=1e-8, atol=1e-10)
    assert model.info()["metadata"]["n_train"] == 12


@BOTH_FORMATS
def test_classification_labels_and_scores(rntk):
    X, Xt = batch(14, seed=75, m=2), batch(5, seed=76, m=2)
    labels = np.array(["up" if np.mean(s) > 0 else "down" for s in X])
    model = rntk.fit(X, labels, task="classification", ridge="auto")
    assert model.classes == ["down", "up"] and model.loo is not None
    ref = KernelRidge(task="classification", ridge="auto").fit(X, labels.tolist())
    result = rntk.predict_result(model.model_id, Xt)
    assert result.predictions.tolist() == ref.predict(Xt).tolist()
    np.testing.assert_allclose(result.scores, ref.decision_function(Xt), rtol=1e-10, atol=1e-12)
    assert result.std is None and set(result.cache) == {"blocks", "hits", "misses"}


def test_errors_carry_the_services_status_code_and_message(server, rntk):
    X = batch(4, seed=77)
    model = rntk.fit(X, [1.0, 2.0, 3.0, 4.0], ridge=0.1)
    model.delete()
    with pytest.raises(RNTKError) as gone:
        model.predict(X)
    assert gone.value.status_code == 404 and gone.value.code == "model_not_found"
    assert model.model_id in gone.value.message
    with pytest.raises(RNTKError) as empty:
        rntk.gram([[1.0, 2.0], []])
    assert empty.value.status_code == 422 and empty.value.message.startswith("body.X_lengths[1]")
    with RNTKClient(server.url, body_format="json") as as_json, pytest.raises(RNTKError) as mixed:
        as_json.gram([[1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]]])
    assert mixed.value.status_code == 422 and mixed.value.message.startswith("body.X[1]")
    with pytest.raises(ValueError, match=r"X\[1\]: has m=2 features per step but X\[0\] has m=1"):
        rntk.gram([[1.0, 2.0], [[1.0, 2.0], [3.0, 4.0]]])  # an npz body cannot carry it
    with pytest.raises(RNTKError) as bad:
        rntk.gram(X, params={"sigma_v": 0})
    assert bad.value.status_code == 422 and "sigma_v" in bad.value.message and bad.value.errors
    with pytest.raises(RNTKError, match="model_not_found"):
        rntk.model_info("x" * 32)
    with pytest.raises(ValueError, match=r"X\[1\]: contains NaN"):
        rntk.gram([[1.0, 2.0], [np.nan]])


def _wait_until_computing(server: ServiceProcess) -> None:
    """Until the service's only compute slot is taken."""
    with httpx.Client(base_url=server.url, timeout=5) as http:
        deadline = time.monotonic() + 10
        while "rntk_compute_running 1.0" not in http.get("/metrics").text:
            assert time.monotonic() < deadline, "the long Gram never started"
            time.sleep(0.005)


def test_a_busy_service_is_retried_after_the_time_it_asks(server, rntk):
    long_batch = np.random.default_rng(78).normal(size=(400, 2000))  # 160M pair-steps: a few tenths of a second
    waits: list[float] = []

    def record(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    worker = threading.Thread(target=lambda: rntk.gram(long_batch))
    worker.start()
    _wait_until_computing(server)
    with RNTKClient(server.url, retry=RetryPolicy(attempts=30), sleep=record) as patient:
        K = patient.gram(batch(3, seed=79))
    worker.join()
    assert K.shape == (3, 3)
    assert waits and all(w == 1.0 for w in waits)  # RNTK_RETRY_AFTER_S=1
    with RNTKClient(server.url, retry=RetryPolicy(attempts=1)) as impatient:
        busy = threading.Thread(target=lambda: rntk.gram(long_batch[::-1]))
        busy.start()
        _wait_until_computing(server)
        with pytest.raises(RNTKError) as full:
            impatient.gram(batch(3, seed=80))
        busy.join()
    assert full.value.status_code == 503 and full.value.retry_after == "1" and full.value.code == "overloaded"


def test_health_and_readiness(rntk):
    assert rntk.health() is True
    assert rntk.readiness()["status"] == "ready"
    with RNTKClient("http://127.0.0.1:9", connect_timeout=0.5, retry=RetryPolicy(attempts=1)) as nowhere:
        assert nowhere.health() is False
        with pytest.raises(RNTKConnectionError) as refused:
            nowhere.gram([[1.0]])
    assert refused.value.status_code is None and "cannot connect" in refused.value.message


# The retry policy, on a scripted transport ----------------------------------------

def _scripted(answers: list[Callable[[httpx.Request], httpx.Response]]):
    """A mock transport answering the requests with `answers` in turn; records the requests."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1](request)

    return httpx.MockTransport(handler), seen


def _busy(retry_after: str | None = "2"):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return lambda request: httpx.Response(
        503, json={"error": "overloaded", "detail": "all 2 compute slots busy", "errors": None}, headers=headers)


def _matrix(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=npy_bytes(np.eye(2)), headers={
        "Content-Type": "application/x-npy", "X-RNTK-Shape": "2,2",
        "X-RNTK-Cache-Blocks": "1", "X-RNTK-Cache-Hits": "0", "X-RNTK-Cache-Misses": "1"})


def _client(transport, waits: list[float], **policy) -> RNTKClient:
    return RNTKClient("http://rntk.test", transport=transport, sleep=waits.append,
                      retry=RetryPolicy(jitter=False, **policy))


def test_503_is_retried_after_retry_after_seconds():
    transport, seen = _scripted([_busy("2"), _busy("3"), _matrix])
    waits: list[float] = []
    result = _client(transport, waits).gram_result([[1.0, 2.0], [3.0]])
    assert waits == [2.0, 3.0] and len(seen) == 3
    assert np.array_equal(result.ntk, np.eye(2)) and result.cache == {"blocks": 1, "hits": 0, "misses": 1}
    assert seen[0].headers["accept"] == "application/x-npy"


def test_retry_after_is_capped_and_read_as_a_date_too():
    policy = RetryPolicy(max_wait_s=30.0, jitter=False)
    assert policy.wait_s(1, "3600") == 30.0
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= policy.wait_s(1, in_ten) <= 10.0
    assert policy.wait_s(1, email.utils.formatdate(time.time() - 60, usegmt=True)) == 0.0
    assert policy.wait_s(1, "soon") == 0.5  # unreadable: plain backoff


def test_backoff_doubles_up_to_its_cap_and_jitter_stays_within_it():
    policy = RetryPolicy(backoff_base_s=0.5, backoff_cap_s=3.0, jitter=False)
    assert [policy.wait_s(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittered = RetryPolicy(backoff_base_s=0.5, backoff_cap_s=3.0)
    assert all(1.0 <= jittered.wait_s(3) <= 2.0 for _ in range(50))
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_giving_up_raises_the_last_answer_as_an_error():
    transport, seen = _scripted([_busy("1")])
    waits: list[float] = []
    with pytest.raises(RNTKError) as err:
        _client(transport, waits, attempts=3).fit([[1.0]], [1.0])
    assert len(seen) == 3 and waits == [1.0, 1.0]
    assert (err.value.status_code, err.value.code, err.value.retry_after) == (503, "overloaded", "1")
    assert err.value.message == "all 2 compute slots busy"


def test_client_errors_and_other_failures_are_not_retried():
    for status, body in ((422, {"error": "invalid_input", "detail": "body.X[0]: too short", "errors": []}),
                         (404, {"error": "model_not_found", "detail": "model_id: no model", "errors": None}),
                         (500, {"error": "internal_error", "detail": "internal error", "errors": None})):
        transport, seen = _scripted([lambda request, s=status, b=body: httpx.Response(s, json=b)])
        with pytest.raises(RNTKError) as err:
            _client(transport, []).predict("m" * 32, [[1.0]])
        assert len(seen) == 1 and err.value.status_code == status and err.value.message == body["detail"]


def test_an_error_page_that_is_not_json_still_becomes_an_rntk_error():
    transport, _ = _scripted([lambda request: httpx.Response(502, text="<html>Bad Gateway</html>")])
    with pytest.raises(RNTKError) as err:
        _client(transport, []).model_info("m" * 32)
    assert err.value.status_code == 502 and "Bad Gateway" in err.value.message


def test_failed_connections_are_retried_with_backoff_but_timeouts_are_not():
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ConnectError("connection refused", request=request)
        return _matrix(request)

    waits: list[float] = []
    client = RNTKClient("http://rntk.test", transport=httpx.MockTransport(flaky), sleep=waits.append,
                        retry=RetryPolicy(jitter=False, backoff_base_s=0.25))
    assert client.gram([[1.0]]).shape == (2, 2) and waits == [0.25, 0.5]

    def slow(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        raise httpx.ReadTimeout("timed out", request=request)

    calls["n"] = 0
    client = RNTKClient("http://rntk.test", transport=httpx.MockTransport(slow), sleep=waits.append)
    with pytest.raises(RNTKConnectionError, match="timeout") as err:
        client.gram([[1.0]])
    assert calls["n"] == 1 and err.value.status_code is None


def test_timeouts_are_configurable_and_both_kernels_come_as_npz():
    def both(request: httpx.Request) -> httpx.Response:
        assert request.headers["accept"] == "application/x-npz"
        assert request.extensions["timeout"] == {"connect": 2.0, "read": 42.0, "write": 42.0, "pool": 42.0}
        return httpx.Response(200, content=npz_bytes({"ntk": np.eye(2), "nngp": 2 * np.eye(2)}),
                              headers={"Content-Type": "application/x-npz"})

    client = RNTKClient("http://rntk.test", timeout=42.0, connect_timeout=2.0, transport=httpx.MockTransport(both))
    ntk, nngp = client.gram([[1.0], [2.0]], output="both")
    assert np.array_equal(ntk, np.eye(2)) and np.array_equal(nngp, 2 * np.eye(2))


def test_the_client_package_needs_neither_the_app_nor_the_kernels():
    package = Path(__import__("service.client").client.__file__).parent
    sources = sorted(package.glob("*.py"))
    assert len(sources) > 1
    imported = set()
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "email", "io", "json", "math", "random", "time", "dataclasses", "typing",
                        "httpx", "numpy"}, imported


def _recording(answer: Callable[[httpx.Request], httpx.Response]):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    return httpx.MockTransport(handler), seen


def _fit_answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"model_id": "m" * 32, "ridge": 0.1, "n_train": 2, "kernel": "ntk",
                                     "task": "regression", "classes": None, "loo": None, "cache": {}})


def test_requests_are_npz_bodies_by_default():
    transport, seen = _recording(_matrix)
    client = RNTKClient("http://rntk.test", transport=transport)
    X = [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])]
    Z = np.arange(12.0).reshape(2, 3, 2)
    client.gram(X, params={"sigma_b": 0.1})
    client.gram([np.zeros((2, 2)), np.ones((1, 2))], Z, output="nngp")
    first, second = (load_npz(r.content) for r in seen)
    assert all(r.headers["content-type"] == "application/x-npz" for r in seen)
    assert set(first) == {"X_values", "X_lengths", "request"}
    assert np.array_equal(first["X_values"], [1.0, 2.0, 3.0, 4.0, 5.0]) and first["X_values"].dtype == np.float64
    assert np.array_equal(first["X_lengths"], [3, 2]) and first["X_lengths"].dtype == np.int64
    assert first["request"].dtype == np.uint8
    assert json.loads(first["request"].tobytes()) == {"output": "ntk", "params": {"sigma_b": 0.1}}
    assert second["X_values"].shape == (3, 2) and np.array_equal(second["X_lengths"], [2, 1])
    assert np.array_equal(second["Z_values"], Z.reshape(6, 2)) and np.array_equal(second["Z_lengths"], [3, 3])
    transport, seen = _recording(_fit_answer)
    client = RNTKClient("http://rntk.test", transport=transport)
    client.fit(X, np.array([1.0, 2.0]), ridge=0.1)
    fit = load_npz(seen[0].content)
    assert np.array_equal(fit["X_lengths"], [3, 2])
    assert json.loads(fit["request"].tobytes()) == {"y": [1.0, 2.0], "ridge": 0.1, "kernel": "ntk",
                                                    "task": "regression"}


def test_json_bodies_on_request():
    transport, seen = _recording(_matrix)
    client = RNTKClient("http://rntk.test", transport=transport, body_format="json")
    client.gram([[1.0, 2.0], [3.0]], output="ntk")
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"X": [[1.0, 2.0], [3.0]], "output": "ntk"}
    with pytest.raises(ValueError, match="body_format"):
        RNTKClient("http://rntk.test", body_format="xml")  # type: ignore[arg-type]


def test_batches_the_service_could_not_take_are_refused_before_sending():
    transport, seen = _recording(_matrix)
    client = RNTKClient("http://rntk.test", transport=transport)
    for bad, message in (([[1.0], [np.inf]], r"X\[1\]: contains NaN"),
                         (np.array([[1.0, np.nan]]), r"X\[0\]: contains NaN"),
                         ([np.zeros((2, 2, 2))], r"X\[0\]: a sequence must have shape"),
                         (np.zeros(3), r"X: an array batch must have shape")):
        with pytest.raises(ValueError, match=message):
            client.gram(bad)
    assert not seen
