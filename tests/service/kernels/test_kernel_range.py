"""Parameters and data beyond float64's range are 422s naming the field, never 500s or silent numbers."""

from __future__ import annotations

import pytest

FIELDS = ["sigma_w", "sigma_u", "sigma_b", "sigma_h", "sigma_v"]
X = [[0.1, 0.5, -0.3], [1.0, 0.2], [0.4]]
Y = [1.0, 2.0, 3.0]


def _assert_422(response, field: str) -> None:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "invalid_input"
    assert answer["detail"].startswith(field + ":"), answer["detail"]


@pytest.mark.parametrize("value", [1e160, 1e308])
@pytest.mark.parametrize("field", FIELDS)
def test_sigmas_whose_squares_overflow_are_422_on_gram_and_fit(client, field, value):
    params = {field: value}
    _assert_422(client.post("/gram", json={"X": X, "params": params}), f"body.params.{field}")
    _assert_422(client.post("/krr/fit", json={"X": X, "y": Y, "params": params}), f"body.params.{field}")
    if field not in ("sigma_h", "sigma_v"):
        per_layer = {"n_layers": 2, field: [1.0, value]}
        _assert_422(client.post("/gram", json={"X": X, "params": per_layer}), f"body.params.{field}[1]")


BIASED = {"sigma_b": 0.1, "sigma_h": 0.2}


@pytest.mark.parametrize("body, field", [
    ({"X": [[1e300]]}, "body.X[0]:"),  # the homogeneous ReLU kernel of 1e300 is 1e600
    ({"X": [[1.0, 2.0], [1e160]], "params": BIASED}, "body.X[1]:"),
    ({"X": [[1.0, 2.0], [2.0]], "Z": [[1e160]], "params": BIASED}, "body.Z[0]:"),
    ({"X": [[1e200, 1.0], [3e200]], "params": {"activation": "erf"}}, "body.X[0]:"),
])
def test_kernels_beyond_float64_are_422_on_gram(client, body, field):
    response = client.post("/gram", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"
    assert response.json()["detail"].startswith(field), response.text


def test_predictions_beyond_float64_are_422_and_homogeneous_ones_are_exact(client):
    biased = client.post("/krr/fit", json={"X": X, "y": Y, "params": BIASED, "ridge": 0.01}).json()
    r = client.post("/krr/predict", json={"model_id": biased["model_id"], "X": [[0.3], [1e300]]})
    assert r.status_code == 422 and r.json()["detail"].startswith("body.X[1]:"), r.text
    # the default ReLU kernel is homogeneous: a test sequence 2^990 times larger predicts exactly 2^990 times more
    model = client.post("/krr/fit", json={"X": X, "y": Y, "ridge": 0.01}).json()["model_id"]
    base = client.post("/krr/predict", json={"model_id": model, "X": [[0.3, -0.2], [1.5]]})
    huge = client.post("/krr/predict", json={"model_id": model, "X": [[0.3 * 2.0 ** 990, -0.2 * 2.0 ** 990],
                                                                     [1.5 * 2.0 ** 990]]})
    assert base.status_code == huge.status_code == 200, huge.text
    assert huge.json()["predictions"] == [p * 2.0 ** 990 for p in base.json()["predictions"]]
    assert all(p != 0.0 for p in huge.json()["predictions"])
