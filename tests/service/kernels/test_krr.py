"""/krr through the test client: same answers as rntk_core's KernelRidge, cache reuse, durable models."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rntk_core import KernelRidge, RNTKParams
from service.app import create_app

from ..conftest import make_settings
from ..helpers import batch

PARAMS = {"sigma_b": 0.1, "sigma_h": 0.2}


def _targets(X: list) -> list[float]:
    return [float(np.sum(s)) for s in X]


def test_regression_matches_the_library(client):
    X, Xt = batch(12, seed=20), batch(5, seed=21)
    y = _targets(X)
    fit = client.post("/krr/fit", json={"X": X, "y": y, "params": PARAMS, "ridge": 0.01})
    assert fit.status_code == 200, fit.text
    body = fit.json()
    assert body["n_train"] == 12 and body["ridge"] == 0.01 and body["loo"] is None and len(body["model_id"]) == 32
    pred = client.post("/krr/predict", json={"model_id": body["model_id"], "X": Xt}).json()
    ref = KernelRidge(params=RNTKParams.from_dict(PARAMS), ridge=0.01).fit(X, y)
    np.testing.assert_allclose(pred["predictions"], ref.predict(Xt), rtol=1e-10, atol=1e-12)
    assert pred["scores"] is None and pred["std"] is None


def test_auto_ridge_reports_the_loo_curve(client):
    X = batch(10, seed=22)
    body = client.post("/krr/fit", json={"X": X, "y": _targets(X), "ridge": "auto"}).json()
    ref = KernelRidge(ridge="auto").fit(X, _targets(X))
    assert body["ridge"] == ref.ridge_
    assert len(body["loo"]["ridge"]) == len(body["loo"]["loo_mse"]) == len(ref.loo_curve_["ridge"])


def test_classification_with_scores_and_std(client):
    X, Xt = batch(14, seed=23, m=2), batch(4, seed=24, m=2)
    labels = ["up" if np.mean(s) > 0 else "down" for s in X]
    fit = client.post("/krr/fit", json={"X": X, "y": labels, "kernel": "nngp", "task": "classification",
                                        "ridge": 0.05}).json()
    assert fit["classes"] == ["down", "up"]
    pred = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": Xt, "return_std": True}).json()
    ref = KernelRidge(ridge=0.05, kernel="nngp", task="classification").fit(X, labels)
    mean, std = ref.predict(Xt, return_std=True)
    assert pred["predictions"] == mean.tolist()
    np.testing.assert_allclose(pred["scores"], ref.decision_function(Xt), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pred["std"], std, rtol=1e-8, atol=1e-10)


def test_integer_labels_stay_integers(client):
    X = batch(8, seed=25)
    y = [i % 3 for i in range(8)]
    fit = client.post("/krr/fit", json={"X": X, "y": y, "task": "classification", "ridge": 0.1}).json()
    assert fit["classes"] == [0, 1, 2]
    pred = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": X[:3]}).json()
    assert all(isinstance(p, int) for p in pred["predictions"])


def test_multi_output_regression(client):
    X = batch(9, seed=26)
    y = [[float(np.sum(s)), float(np.max(s))] for s in X]
    fit = client.post("/krr/fit", json={"X": X, "y": y, "ridge": 0.1}).json()
    pred = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": X[:2]}).json()
    ref = KernelRidge(ridge=0.1).fit(X, y)
    np.testing.assert_allclose(pred["predictions"], ref.predict(X[:2]), rtol=1e-10)


def test_fit_after_gram_reuses_every_block_and_predict_only_cross_blocks(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=4))) as client:
        X = batch(10, seed=27)
        gram = client.post("/gram", json={"X": X, "params": PARAMS}).json()
        assert gram["cache"]["misses"] == 6
        fit = client.post("/krr/fit", json={"X": X, "y": _targets(X), "params": PARAMS, "ridge": 0.1}).json()
        assert fit["cache"] == {"blocks": 6, "hits": 6, "misses": 0}
        # predicting on the training sequences needs the cross Gram K(X, X): its off-diagonal blocks
        # are the symmetric Gram's (reused), its diagonal blocks are not (no same-sample rule: σh > 0)
        pred = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": X}).json()
        assert pred["cache"] == {"blocks": 9, "hits": 6, "misses": 3}
        ref = KernelRidge(params=RNTKParams.from_dict(PARAMS), ridge=0.1).fit(X, _targets(X))
        np.testing.assert_allclose(pred["predictions"], ref.predict(X), rtol=1e-10, atol=1e-12)
        again = client.post("/krr/predict", json={"model_id": fit["model_id"], "X": X}).json()
        assert again["cache"] == {"blocks": 9, "hits": 9, "misses": 0}
        assert again["predictions"] == pred["predictions"]


def test_model_metadata_and_delete(client):
    X = batch(5, seed=28)
    model_id = client.post("/krr/fit", json={"X": X, "y": _targets(X), "ridge": 0.1}).json()["model_id"]
    info = client.get(f"/krr/models/{model_id}").json()
    assert info["model_id"] == model_id and info["size_bytes"] > 0
    assert info["metadata"]["n_train"] == 5 and info["metadata"]["kernel"] == "ntk"
    assert client.delete(f"/krr/models/{model_id}").json() == {"model_id": model_id, "deleted": True}
    assert client.get(f"/krr/models/{model_id}").status_code == 404
    assert client.post("/krr/predict", json={"model_id": model_id, "X": X}).status_code == 404
    assert client.delete(f"/krr/models/{model_id}").status_code == 404


@pytest.mark.parametrize("suffix", ["%0A", "%0D%0A", "%00", "%20"])
def test_an_id_with_a_trailing_control_character_is_no_model(client, suffix):
    X = batch(4, seed=32)
    model_id = client.post("/krr/fit", json={"X": X, "y": _targets(X), "ridge": 0.1}).json()["model_id"]
    for method in ("GET", "DELETE"):
        answer = client.request(method, f"/krr/models/{model_id}{suffix}")
        assert answer.status_code == 404 and answer.json()["error"] == "model_not_found", answer.text
    assert client.post("/krr/predict", json={"model_id": model_id + "\n", "X": X}).status_code == 404
    assert client.get(f"/krr/models/{model_id}").status_code == 200  # nothing was deleted


def test_model_ids_are_unguessable(client):
    X = batch(4, seed=29)
    ids = {client.post("/krr/fit", json={"X": X, "y": _targets(X), "ridge": 0.1}).json()["model_id"]
           for _ in range(5)}
    assert len(ids) == 5 and all(len(i) == 32 for i in ids)


def test_a_model_survives_a_restart_of_the_embedded_store(tmp_path):
    settings = make_settings(tmp_path)
    X, Xt = batch(8, seed=30), batch(3, seed=31)
    with TestClient(create_app(settings)) as client:
        model_id = client.post("/krr/fit", json={"X": X, "y": _targets(X), "ridge": 0.1}).json()["model_id"]
        before = client.post("/krr/predict", json={"model_id": model_id, "X": Xt}).json()["predictions"]
    stored = list((settings.data_dir / "models").iterdir())
    assert [p.name for p in stored] == [f"{model_id}.rntk"]  # no temporary files left behind
    with TestClient(create_app(settings)) as client:  # a new process's worth of state
        after = client.post("/krr/predict", json={"model_id": model_id, "X": Xt}).json()["predictions"]
    assert after == before
