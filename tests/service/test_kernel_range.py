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
