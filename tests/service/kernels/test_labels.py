"""Class labels over HTTP: what JSON can carry comes back exactly from /krr/fit, /krr/predict and
/krr/models/{id}; what it cannot is refused with a 422 naming body.y.

The oracle is the training labels: on distinct, well-separated training
sequences with a tiny ridge, classification interpolates, so predicting the
training set returns each sequence's own label.

What the service takes: labels that are all JSON strings (any Unicode text:
NULs, "", astral-plane characters), or all numbers, integers within the 64-bit
signed range. A lone surrogate (``"\\ud800"``) is not Unicode text; the JSON
parser refuses it (422, invalid JSON). Integers beyond 64 bits are refused: a
JSON parser reads one past 2**64 as an approximate float, so any label of
magnitude 2**63 or more, integer or float, is refused, with the advice to send
it as a string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app import create_app

from ..conftest import make_settings
from ..helpers import npz_body, post_npz


def sequences(n: int) -> list[list[float]]:
    """n distinct sequences of 3 steps (m = 1), well separated (NTK Gram condition number below 300 for n <= 15)."""
    return [[float(np.cos(i)), float(np.sin(1.7 * i)), 0.1 * i] for i in range(n)]


def same(a: list, b: list) -> bool:
    """Equal element by element, in value and in type."""
    return len(a) == len(b) and all(type(u) is type(v) and u == v for u, v in zip(a, b))


@pytest.fixture(scope="module")
def labels_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(Path(tmp_path_factory.mktemp("labels"))))) as c:
        yield c


def fit(client: TestClient, y: list, **extra):
    body = {"X": sequences(len(y)), "y": y, "task": "classification", "ridge": 1e-6, **extra}
    return client.post("/krr/fit", content=json.dumps(body), headers={"Content-Type": "application/json"})


def assert_round_trip(client: TestClient, y: list, classes: list) -> None:
    answer = fit(client, y)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert same(body["classes"], classes)
    predicted = client.post("/krr/predict", json={"model_id": body["model_id"], "X": sequences(len(y))})
    assert predicted.status_code == 200, predicted.text
    assert same(predicted.json()["predictions"], y)
    info = client.get(f"/krr/models/{body['model_id']}").json()
    assert same(info["metadata"]["classes"], classes)


@pytest.mark.parametrize(
    "y, classes",
    [
        (["a", "a\x00", "b"], ["a", "a\x00", "b"]),
        (["\x00", "", "\x00\x00", "x\x00y"], ["", "\x00", "\x00\x00", "x\x00y"]),
        (["\U0001f600", "\U00010000", "\uffff", "é"], ["é", "\uffff", "\U00010000", "\U0001f600"]),
        ([-(2**63), 2**63 - 1, 0], [-(2**63), 0, 2**63 - 1]),
        ([0.5, -2.25], [-2.25, 0.5]),
    ],
    ids=["trailing-nul", "nul-and-empty", "astral", "int64-ends", "floats"],
)
def test_labels_come_back_exactly(labels_client, y, classes):
    assert_round_trip(labels_client, y + y[::-1], classes)


def test_labels_in_an_npz_body_come_back_exactly(labels_client):
    y = ["a", "a\x00", "", "a"]
    answer = post_npz(labels_client, npz_body({"X": sequences(4)}, {"y": y, "task": "classification",
                                                                    "ridge": 1e-6}), "/krr/fit")
    assert answer.status_code == 200, answer.text
    assert same(answer.json()["classes"], ["", "a", "a\x00"])


def refusal(answer) -> str:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_input"
    return body["detail"]


@pytest.mark.parametrize(
    "y, message",
    [
        ([0, 2**63], r"^body\.y: y\[1\]: the label 9223372036854775808 is outside the 64-bit signed integer range"),
        ([0, -(2**63) - 1], r"^body\.y: y\[1\]: the label -9\.223372036854776e\+18 is outside"),  # read as a float
        ([0.5, -(2.0**63)], r"^body\.y: y\[1\]: the label -9\.223372036854776e\+18 is outside"),
        ([0, 2**64 - 1], r"^body\.y: y\[1\]: the label 18446744073709551615 is outside"),
        ([0, 2**64], r"^body\.y: y\[1\]: the label 1\.8446744073709552e\+19 is outside .* send such labels as strings"),
        ([1, 10**30, 2], r"^body\.y: y\[1\]: the label 1e\+30 is outside"),
        ([0.5, 9.3e18], r"^body\.y: y\[1\]: the label 9\.3e\+18 is outside"),
        (["a", 1], r"^body\.y: labels must be all strings or all numbers, not a mix \(y\[0\] is a string, y\[1\] a number\)"),
        ([2, 1, "1"], r"^body\.y: labels must be all strings or all numbers, not a mix \(y\[2\] is a string, y\[0\] a number\)"),
    ],
)
def test_labels_json_cannot_carry_exactly_are_refused_naming_body_y(labels_client, y, message):
    detail = refusal(fit(labels_client, y))
    assert re.search(message, detail), detail
    npz = post_npz(labels_client, npz_body({"X": sequences(len(y))}, {"y": y, "task": "classification"}), "/krr/fit")
    assert re.search(message, refusal(npz))


def test_the_64_bit_limit_applies_to_labels_only(labels_client):
    y = [0.0, 2**64, 1e30]  # regression targets of any size are numbers like others
    answer = labels_client.post("/krr/fit", content=json.dumps({"X": sequences(3), "y": y, "ridge": 0.1}),
                                headers={"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text


def test_a_lone_surrogate_is_invalid_json(labels_client):
    body = b'{"X": [[0.1, 0.2], [0.3]], "y": ["a", "\\ud800"], "task": "classification"}'
    answer = labels_client.post("/krr/fit", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_input"
    assert answer.json()["detail"].startswith("body: invalid JSON at position")


# Property: any label set JSON carries exactly round-trips over HTTP -------------------------

TEXT = st.one_of(
    st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=("Cs",)), max_size=4),
    st.text(st.sampled_from(["\x00", "a", "\U0001f600", "\U0010ffff", "\u0301"]), max_size=3),
)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def label_sets(draw: st.DrawFn) -> list:
    classes = draw(st.one_of(st.lists(TEXT, min_size=2, max_size=4, unique=True),
                             st.lists(INT64, min_size=2, max_size=4, unique=True)))
    if isinstance(classes[0], str):
        classes += [c + "\x00" for c in draw(st.lists(st.sampled_from(classes), max_size=2, unique=True))
                    if c + "\x00" not in classes]
    return draw(st.permutations(classes + draw(st.lists(st.sampled_from(classes), max_size=4))))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(y=label_sets())
def test_any_label_set_json_carries_round_trips(labels_client, y):
    assert_round_trip(labels_client, y, sorted(set(y)))


def test_numbers_are_labels_by_value(labels_client):
    y = [1, 2.5, 1, 2.5]  # what a JavaScript client sends for [1.0, 2.5, 1.0, 2.5]
    body = fit(labels_client, y).json()
    assert same(body["classes"], [1.0, 2.5])
    predicted = labels_client.post("/krr/predict", json={"model_id": body["model_id"], "X": sequences(4)}).json()
    assert same(predicted["predictions"], [1.0, 2.5, 1.0, 2.5])
