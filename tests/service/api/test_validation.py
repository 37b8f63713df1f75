"""Bad input never gets a 500: each gets a 4xx whose message names the field or limit."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app

from ..conftest import make_settings

GOOD_X = [[0.1, 0.2, 0.3], [0.5, -0.5]]

BAD_GRAMS = [
    ({"X": []}, "body.X"),
    ({"X": [[]]}, "body.X[0]"),
    ({"X": [[[]]]}, "body.X[0][0]"),
    ({}, "body.X"),
    ({"X": "abc"}, "body.X"),
    ({"X": [[1, "a"]]}, "body.X[0][1]"),
    ({"X": [["NaN"]]}, "body.X[0][0]"),
    ({"X": [["Infinity"]]}, "body.X[0][0]"),
    ({"X": [[True, 1.0]]}, "body.X[0][0]"),
    ({"X": [[None]]}, "body.X[0][0]"),
    ({"X": [[1, 2], [3, [4]]]}, "body.X[1]"),
    ({"X": [[[1, 2], [3]]]}, "body.X[0]"),  # ragged steps
    ({"X": [[[1, 2]], [[3]]]}, "body.X[1]"),  # m differs between sequences
    ({"X": [[1]], "Z": [[[1, 2]]]}, "body.Z[0]"),  # m differs between batches
    ({"X": [[1]], "Z": []}, "body.Z"),
    ({"X": GOOD_X, "foo": 1}, "body.foo"),
    ({"X": GOOD_X, "output": "kernel"}, "body.output"),
    ({"X": GOOD_X, "params": {"gamma": 1}}, "body.params.gamma"),
    ({"X": GOOD_X, "params": {"sigma_w": -1}}, "body.params.sigma_w"),
    ({"X": GOOD_X, "params": {"sigma_u": [1, -0.5], "n_layers": 2}}, "body.params.sigma_u[1]"),
    ({"X": GOOD_X, "params": {"sigma_b": [1, 2, 3], "n_layers": 2}}, "body.params.sigma_b"),
    ({"X": GOOD_X, "params": {"sigma_v": 0}}, "body.params.sigma_v"),
    ({"X": GOOD_X, "params": {"sigma_h": "1"}}, "body.params.sigma_h"),
    ({"X": GOOD_X, "params": {"n_layers": 10 ** 9}}, "body.params.n_layers"),
    ({"X": GOOD_X, "params": {"n_layers": 0}}, "body.params.n_layers"),
    ({"X": GOOD_X, "params": {"n_layers": 2.0}}, "body.params.n_layers"),
    ({"X": GOOD_X, "params": {"activation": "tanh"}}, "body.params.activation"),
    ({"X": GOOD_X, "params": {"direction": "sideways"}}, "body.params.direction"),
    ({"X": GOOD_X, "params": []}, "body.params"),
    ({"X": [[1e200, 1.0]]}, "body.X"),  # the kernel overflows float64
]


@pytest.mark.parametrize("body,field", BAD_GRAMS, ids=[str(i) for i in range(len(BAD_GRAMS))])
def test_bad_gram_requests_are_422_naming_the_field(client, body, field):
    r = client.post("/gram", json=body)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["error"] == "invalid_input"
    assert answer["detail"].startswith(field), answer["detail"]


@pytest.mark.parametrize("raw", [b'{"X": [[NaN]]}', b'{"X": [[Infinity]]}', b'{"X": [[1e400]]}',
                                 b'{"X": [[1, 2]', b'not json', b'{"X": [[' + b"9" * 400 + b"]]}"])
def test_non_json_numbers_and_broken_json_are_422(client, raw):
    r = client.post("/gram", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("body")


def test_wrong_content_type_is_422(client):
    r = client.post("/gram", content=b'{"X": [[1]]}', headers={"Content-Type": "text/plain"})
    assert r.status_code == 422
    assert "application/json" in r.json()["detail"]


BAD_FITS = [
    ({"X": GOOD_X, "y": [1.0]}, "body.y"),
    ({"X": GOOD_X, "y": []}, "body.y"),
    ({"X": GOOD_X, "y": [1.0, "a"]}, "body.y"),
    ({"X": GOOD_X, "y": [[1.0], [2.0, 3.0]]}, "body.y"),
    ({"X": GOOD_X, "y": [1.0, 2.0], "ridge": -1}, "body.ridge"),
    ({"X": GOOD_X, "y": [1.0, 2.0], "ridge": "big"}, "body.ridge"),
    ({"X": GOOD_X, "y": [1, 1], "task": "classification"}, "body.y"),
    ({"X": GOOD_X, "y": [1.0, 2.0], "kernel": "rbf"}, "body.kernel"),
    ({"X": GOOD_X, "y": [1.0, 2.0], "task": "clustering"}, "body.task"),
    ({"X": [[0.0]], "y": [1.0], "ridge": "auto"}, "body.ridge"),
    ({"X": GOOD_X, "y": [1.0, 2.0], "return_std": True}, "body.return_std"),
]


@pytest.mark.parametrize("body,field", BAD_FITS, ids=[str(i) for i in range(len(BAD_FITS))])
def test_bad_fits_are_422_naming_the_field(client, body, field):
    r = client.post("/krr/fit", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field), r.json()["detail"]


def test_bad_predictions(client):
    fit = client.post("/krr/fit", json={"X": GOOD_X, "y": [1.0, 2.0], "ridge": 0.1}).json()
    cases = [
        ({"model_id": fit["model_id"], "X": [[[1, 2]]]}, 422, "body.X[0]"),  # m differs from training
        ({"model_id": fit["model_id"], "X": GOOD_X, "return_std": True}, 422, "body.return_std"),  # NTK model
        ({"model_id": fit["model_id"], "X": GOOD_X, "return_std": "yes"}, 422, "body.return_std"),
        ({"model_id": "A" * 32, "X": GOOD_X}, 404, "model_id"),
        ({"model_id": "../../etc/passwd", "X": GOOD_X}, 404, "model_id"),
        ({"X": GOOD_X}, 422, "body.model_id"),
    ]
    for body, status, field in cases:
        r = client.post("/krr/predict", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["detail"].startswith(field), r.json()["detail"]


def test_unknown_model_ids_are_404(client):
    for method in ("GET", "DELETE"):
        for model_id in ("A" * 32, "short", "..%2F..%2Fetc"):
            r = client.request(method, f"/krr/models/{model_id}")
            assert r.status_code == 404, r.text
            assert r.json()["error"] in ("model_not_found", "not_found")


@pytest.mark.parametrize(
    "overrides,body,limit,status",
    [
        ({"max_sequences": 3}, {"X": [[1.0]] * 4}, "max_sequences=3", 413),
        ({"max_length": 5}, {"X": [[1.0] * 6]}, "max_length=5", 413),
        ({"max_total_steps": 10}, {"X": [[1.0] * 4] * 3}, "max_total_steps=10", 413),
        ({"max_pair_steps": 10}, {"X": [[1.0] * 4] * 3}, "max_pair_steps=10", 413),
        ({"max_pair_steps": 20}, {"X": [[1.0] * 4] * 3, "params": {"direction": "bidirectional"}},
         "max_pair_steps=20", 413),
        ({"max_gram_entries": 8}, {"X": [[1.0]] * 3}, "max_gram_entries=8", 413),
        ({"max_body_bytes": 1024}, {"X": [[1.0] * 400]}, "max_body_bytes=1024", 413),
    ],
)
def test_limits_answer_413_naming_the_limit(tmp_path, overrides, body, limit, status):
    with TestClient(create_app(make_settings(tmp_path, **overrides))) as client:
        r = client.post("/gram", json=body)
        assert r.status_code == status, r.text
        assert limit in r.json()["detail"]
        assert "RNTK_" in r.json()["detail"]
        fit = client.post("/krr/fit", json={**{k: v for k, v in body.items() if k != "params"},
                                            "y": [0.0] * len(body["X"])})
        assert fit.status_code == status


def test_prediction_limits_count_the_training_set(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, max_pair_steps=200))) as client:
        X = [[0.1] * 10] * 3  # 6 pairs x 10 steps = 60 pair-steps to fit
        model_id = client.post("/krr/fit", json={"X": X, "y": [1.0, 2.0, 3.0], "ridge": 0.1}).json()["model_id"]
        assert client.post("/krr/predict", json={"model_id": model_id, "X": X}).status_code == 200  # 90
        r = client.post("/krr/predict", json={"model_id": model_id, "X": X * 3})  # 270 pair-steps
        assert r.status_code == 413 and "max_pair_steps=200" in r.json()["detail"]


def test_body_cap_applies_to_streamed_bodies(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=1024))) as client:
        def chunks():
            yield b'{"X": [['
            for _ in range(300):
                yield b"1.0,"
            yield b"1.0]]}"

        r = client.post("/gram", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert "max_body_bytes=1024" in r.json()["detail"]
