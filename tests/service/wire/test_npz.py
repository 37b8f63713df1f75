"""npz request bodies (``Content-Type: application/x-npz``): same answers and cache as JSON, strict checks.

Every malformed archive gets a 4xx whose message names the entry at fault
(``body.X_lengths[3]: ...``), never a 500; a property test throws generated
archives, valid and broken, at all three endpoints.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from hypothesis import settings as hyp_settings

from rntk_core import KernelRidge, RNTKParams
from service.app import create_app

from ..conftest import make_settings
from ..helpers import (assert_matches_core, post_npz, batch, expected, load_npy, load_npz, npz, npz_body,
                      request_entry)
from ..npz_strategies import npz_bodies


@pytest.fixture
def small_blocks(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, block_size=4))) as c:
        yield c


# Answers ------------------------------------------------------------------------------

@pytest.mark.parametrize("m", [1, 3])
@pytest.mark.parametrize("params", [{}, {"activation": "erf", "n_layers": 2, "sigma_h": 0.3},
                                    {"direction": "bidirectional", "sigma_b": 0.2}])
def test_symmetric_gram_equals_core(small_blocks, m, params):
    X = batch(11, seed=1, m=m)
    r = post_npz(small_blocks, npz_body({"X": X}, {"params": params, "output": "both"}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches_core((body["ntk"], body["nngp"]), X, params=params, output="both", block_size=4)
    assert body["shape"] == [11, 11]


def test_cross_gram_as_npy_and_npz_answers(small_blocks):
    X, Z = batch(6, seed=2, m=2), batch(9, seed=3, m=2)
    r = post_npz(small_blocks, npz_body({"X": X, "Z": Z}, {"output": "nngp"}), Accept="application/x-npy")
    assert r.headers["content-type"] == "application/x-npy" and r.headers["x-rntk-shape"] == "6,9"
    assert_matches_core(load_npy(r.content), X, Z, output="nngp", block_size=4)
    r = post_npz(small_blocks, npz_body({"X": X, "Z": Z}, {"output": "both"}), Accept="application/x-npy")
    arrays = load_npz(r.content)
    assert_matches_core((arrays["ntk"], arrays["nngp"]), X, Z, output="both", block_size=4)


def test_one_dimensional_values_are_m_1_and_request_is_optional(client):
    X = batch(5, seed=4)
    flat = npz(X_values=np.concatenate(X), X_lengths=np.array([len(s) for s in X]))
    column = npz(X_values=np.concatenate(X)[:, None], X_lengths=np.array([len(s) for s in X]))
    for body in (flat, column):
        r = post_npz(client, body)
        assert r.status_code == 200, r.text
        assert np.array_equal(np.array(r.json()["ntk"]), expected(X))


def test_deflated_archives_big_endian_and_fortran_order_are_read(client):
    X = batch(4, seed=5, m=2)
    values = np.concatenate([np.asarray(s) for s in X])
    lengths = np.array([len(s) for s in X])
    buf = io.BytesIO()
    np.savez_compressed(buf, X_values=np.asfortranarray(values).astype(">f8"), X_lengths=lengths.astype(">i8"))
    r = post_npz(client, buf.getvalue())
    assert r.status_code == 200, r.text
    assert np.array_equal(np.array(r.json()["ntk"]), expected(X))


def test_content_type_parameters_and_case_are_ignored(client):
    X = batch(3, seed=6)
    r = client.post("/gram", content=npz_body({"X": X}), headers={"Content-Type": "Application/X-NPZ; v=1"})
    assert r.status_code == 200, r.text


# The block cache -----------------------------------------------------------------------

def test_identical_request_is_served_from_the_cache(small_blocks):
    X = batch(10, seed=7)  # blocks of 4, 4, 2: 6 blocks on and above the diagonal
    first = post_npz(small_blocks, npz_body({"X": X})).json()
    second = post_npz(small_blocks, npz_body({"X": X})).json()
    assert first["cache"] == {"blocks": 6, "hits": 0, "misses": 6}
    assert second["cache"] == {"blocks": 6, "hits": 6, "misses": 0}
    assert first["ntk"] == second["ntk"]


def test_json_and_npz_requests_share_blocks(small_blocks):
    X = batch(7, seed=8, m=2)
    small_blocks.post("/gram", json={"X": X})
    again = post_npz(small_blocks, npz_body({"X": X})).json()
    assert again["cache"] == {"blocks": 3, "hits": 3, "misses": 0}
    Y = batch(6, seed=9)
    post_npz(small_blocks, npz_body({"X": Y}))
    assert small_blocks.post("/gram", json={"X": Y}).json()["cache"]["misses"] == 0


def test_appended_dataset_reuses_its_earlier_blocks(small_blocks):
    X = batch(8, seed=10)
    post_npz(small_blocks, npz_body({"X": X}))  # blocks (0,0), (0,1), (1,1)
    grown = X + batch(5, seed=11)  # 13 sequences: 4 row blocks, 10 blocks
    body = post_npz(small_blocks, npz_body({"X": grown})).json()
    assert body["cache"] == {"blocks": 10, "hits": 3, "misses": 7}
    assert_matches_core(body["ntk"], grown, block_size=4)


# Kernel ridge ---------------------------------------------------------------------------

def test_fit_and_predict_take_npz_bodies(small_blocks):
    X, Xt = batch(9, seed=12, m=2), batch(3, seed=13, m=2)
    y = [float(np.sum(s)) for s in X]
    small_blocks.post("/gram", json={"X": X})
    fit = post_npz(small_blocks, npz_body({"X": X}, {"y": y, "ridge": 0.01, "kernel": "nngp"}), "/krr/fit")
    assert fit.status_code == 200, fit.text
    assert fit.json()["cache"]["misses"] == 0  # the Gram of X is cached already
    model_id = fit.json()["model_id"]
    r = post_npz(small_blocks, npz_body({"X": Xt}, {"model_id": model_id, "return_std": True}), "/krr/predict")
    assert r.status_code == 200, r.text
    ref = KernelRidge(params=RNTKParams(), ridge=0.01, kernel="nngp").fit(X, y)
    mean, std = ref.predict(Xt, return_std=True)
    np.testing.assert_allclose(r.json()["predictions"], mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r.json()["std"], std, rtol=1e-8, atol=1e-10)
    wrong_m = post_npz(small_blocks, npz_body({"X": batch(2, seed=14)}, {"model_id": model_id}), "/krr/predict")
    assert wrong_m.status_code == 422 and wrong_m.json()["detail"].startswith("body.X_values: has m=1")


# Malformed bodies -----------------------------------------------------------------------

GOOD_VALUES = np.array([0.1, 0.2, 0.3, 0.5, -0.5])
GOOD_LENGTHS = np.array([3, 2])


def _body(**changes) -> bytes:
    """A good body (two sequences of m = 1) with entries replaced, added, or removed (None)."""
    entries = {"X_values": GOOD_VALUES, "X_lengths": GOOD_LENGTHS, "request": request_entry({"output": "ntk"})}
    entries.update(changes)
    return npz(**{k: v for k, v in entries.items() if v is not None})


def _zip(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _lying_header(shape: tuple[int, ...]) -> bytes:
    """A .npy entry whose header announces `shape` of float64 but which holds 3 values."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + np.zeros(3).tobytes()


def _damaged(body: bytes, at: bytes, what: bytes) -> bytes:
    """`body` with the first `at` replaced by `what` (same length): damage the zip leaves in place."""
    assert len(at) == len(what) and at in body
    return body.replace(at, what, 1)


def _bad_local_header(body: bytes, member: str) -> bytes:
    """`body` with the signature of `member`'s local header broken (its directory entry still points there)."""
    at = zipfile.ZipFile(io.BytesIO(body)).getinfo(member).header_offset
    return body[:at] + b"PK\x00\x00" + body[at + 4:]


def _flagged_encrypted(body: bytes) -> bytes:
    """`body` with its first member marked encrypted (bit 0 of its flags in the central directory)."""
    at = body.index(b"PK\x01\x02") + 8
    return body[:at] + bytes([body[at] | 1]) + body[at + 1:]


def _pickled_values() -> bytes:
    return _zip(**{"X_values.npy": _npy(np.array([0.1, "a", 0.3], dtype=object), allow_pickle=True),
                   "X_lengths.npy": _npy(np.array([3]))})


BAD_BODIES = [
    (b"hello, not a zip", "body:"),
    (b"", "body"),
    (_npy(GOOD_VALUES), "body: not an .npz archive"),
    (_body()[:-40], "body"),  # truncated: the zip's directory is gone
    (_damaged(_body(), GOOD_VALUES.tobytes()[:8], np.float64(9.5).tobytes()),  # a value changed in transit
     "body.X_values: unreadable entry (Bad CRC-32"),
    (_bad_local_header(_body(), "X_lengths.npy"), "body.X_lengths: unreadable entry (Bad magic number for file header)"),
    (_flagged_encrypted(_body()), "body.X_values: encrypted entries are refused"),
    (_pickled_values(), "body.X_values: object arrays are refused"),
    (_body(X_values=GOOD_VALUES.astype(np.float32)), "body.X_values: expected float64, got float32"),
    (_body(X_values=np.arange(5)), "body.X_values: expected float64, got int64"),
    (_body(X_lengths=GOOD_LENGTHS.astype(np.int32)), "body.X_lengths: expected int64, got int32"),
    (_body(X_lengths=GOOD_LENGTHS.astype(np.float64)), "body.X_lengths: expected int64, got float64"),
    (_body(X_lengths=np.array([3, 3])), "body.X_lengths: the lengths sum to 6 but X_values has 5 rows"),
    (_body(X_lengths=np.array([2, 2])), "body.X_lengths: the lengths sum to 4"),
    (_body(X_lengths=np.array([6, -1])), "body.X_lengths[1]: a sequence needs at least one step, got length -1"),
    (_body(X_lengths=np.array([3, 2, 0])), "body.X_lengths[2]: a sequence needs at least one step, got length 0"),
    (_body(X_lengths=np.array([2**62, 2**62, 2**62, 5])), "body.X_lengths[0]: length 4611686018427387904 exceeds"),
    (_body(X_lengths=np.array([], dtype=np.int64)), "body.X_lengths: the batch holds no sequences"),
    (_body(X_lengths=GOOD_LENGTHS[None, :]), "body.X_lengths: expected a 1-D array"),
    (_body(X_values=np.array([0.1, 0.2, np.nan, 0.5, -0.5])), "body.X_values[2]: NaN or infinite value (in sequence X[0])"),
    (_body(X_values=np.array([0.1, 0.2, 0.3, 0.5, np.inf])), "body.X_values[4]: NaN or infinite value (in sequence X[1])"),
    (_body(X_values=np.array([[0.1, 0.0], [0.2, 0.0], [0.3, -np.inf], [0.5, 0.0], [-0.5, 0.0]])),
     "body.X_values[2][1]: NaN or infinite value (in sequence X[0])"),
    (_body(X_values=np.zeros((5, 0))), "body.X_values: steps have no features (m = 0)"),
    (_body(X_values=np.zeros((5, 1, 1))), "body.X_values: expected a 1-D or 2-D array"),
    (_body(X_values=None), "body.X_values: missing entry"),
    (_body(X_lengths=None), "body.X_lengths: missing entry"),
    (_body(X_values=None, X_lengths=None), "body.X_values: missing entry (X is required)"),
    (_body(Z_values=np.zeros((2, 2)), Z_lengths=np.array([2])), "body.Z_values: has m=2 features per step but X_values has m=1"),
    (_body(Z_values=np.zeros(2)), "body.Z_lengths: missing entry (Z_values is given)"),
    (_body(W=np.zeros(2)), "body.W: unknown entry"),
    (_zip(**{"X_values.npy": _lying_header((10**12,)), "X_lengths.npy": _npy(GOOD_LENGTHS)}),
     "body.X_values: its header announces float64 of shape (1000000000000,), but it holds 24 bytes"),
    (_zip(**{"X_values.npy": b"\x93NUMPY\x01\x00garbage", "X_lengths.npy": _npy(GOOD_LENGTHS)}), "body.X_values"),
    (_zip(**{"X_values.npy": _lying_header((-1, -3)), "X_lengths.npy": _npy(GOOD_LENGTHS)}),
     "body.X_values: its header announces shape (-1, -3); sizes must be whole numbers >= 0"),
    (_zip(**{"X_values.npy": _npy(GOOD_VALUES), "X_lengths.npy": _npy(GOOD_LENGTHS), "x.npy": b""}), "body.x"),
    (_body(request=np.frombuffer(b"not json", dtype=np.uint8)), "body.request: not a UTF-8 JSON object"),
    (_body(request=np.frombuffer(b"[1, 2]", dtype=np.uint8)), "body.request: expected a JSON object, got list"),
    (_body(request=np.frombuffer(b'{"output": NaN}', dtype=np.uint8)), "body.request"),
    (_body(request=np.array([123.0])), "body.request: expected uint8, got float64"),
    (_body(request=request_entry({"X": [[1.0]]})), "body.X: Extra inputs are not permitted"),
    (_body(request=request_entry({"output": "kernel"})), "body.output"),
    (_body(request=request_entry({"params": {"sigma_w": -1}})), "body.params.sigma_w"),
    (_body(request=request_entry({"params": {"n_layers": 2, "sigma_u": [1.0, -0.5]}})), "body.params.sigma_u[1]"),
    (_body(X_values=np.array([1e200, 1.0, 1.0, 1.0, 1.0])), "body.X[0]: its kernel exceeds the float64 range"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES, ids=[str(i) for i in range(len(BAD_BODIES))])
def test_malformed_bodies_are_422_naming_the_entry(client, body, field):
    r = post_npz(client, body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    assert r.json()["detail"].startswith(field), r.json()["detail"]


def test_each_endpoint_takes_only_its_own_entries(client):
    X = batch(3, seed=15)
    fit = post_npz(client, npz_body({"X": X, "Z": X}, {"y": [1.0, 2.0, 3.0]}), "/krr/fit")
    assert fit.status_code == 422 and fit.json()["detail"].startswith("body.Z_values: unknown entry")
    fit = post_npz(client, npz_body({"X": X}, {"y": [1.0]}), "/krr/fit")
    assert fit.status_code == 422 and fit.json()["detail"].startswith("body.y")
    predict = post_npz(client, npz_body({"X": X}), "/krr/predict")
    assert predict.status_code == 422 and predict.json()["detail"].startswith("body.model_id: Field required")


@pytest.mark.parametrize(
    "overrides,lengths,limit",
    [
        ({"max_sequences": 3}, [1] * 4, "max_sequences=3"),
        ({"max_length": 5}, [6], "max_length=5"),
        ({"max_total_steps": 10}, [4] * 3, "max_total_steps=10"),
        ({"max_pair_steps": 10}, [4] * 3, "max_pair_steps=10"),
        ({"max_gram_entries": 8}, [1] * 3, "max_gram_entries=8"),
        ({"max_body_bytes": 1024}, [200], "max_body_bytes=1024"),
    ],
)
def test_limits_answer_413_as_for_json(tmp_path, overrides, lengths, limit):
    values = np.linspace(-1, 1, sum(lengths))
    with TestClient(create_app(make_settings(tmp_path, **overrides))) as client:
        body = npz(X_values=values, X_lengths=np.array(lengths))
        r = post_npz(client, body)
        assert r.status_code == 413, r.text
        assert limit in r.json()["detail"] and "RNTK_" in r.json()["detail"]
        fit = post_npz(client, npz(X_values=values, X_lengths=np.array(lengths),
                                   request=request_entry({"y": [0.0] * len(lengths)})), "/krr/fit")
        assert fit.status_code == 413


def test_decoded_entries_count_against_the_body_cap(tmp_path):
    """A small deflated body that inflates past the cap is refused before anything is read."""
    buf = io.BytesIO()
    np.savez_compressed(buf, X_values=np.zeros(200_000), X_lengths=np.array([200_000]))
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=100_000))) as client:
        assert len(buf.getvalue()) < 100_000
        r = post_npz(client, buf.getvalue())
    assert r.status_code == 413
    assert r.json()["detail"].startswith("body: 1600") and "max_body_bytes=100000" in r.json()["detail"]


def test_openapi_documents_the_npz_bodies(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/gram", "/krr/fit", "/krr/predict"):
        body = paths[path]["post"]["requestBody"]
        assert set(body["content"]) == {"application/json", "application/x-npz"}
        description = body["content"]["application/x-npz"]["schema"]["description"]
        assert "X_values" in description and "X_lengths" in description and "allow_pickle=False" in description
    assert "Z_values" in paths["/gram"]["post"]["requestBody"]["content"]["application/x-npz"]["schema"]["description"]


@given(body=npz_bodies(), path=st.sampled_from(["/gram", "/krr/fit", "/krr/predict"]))
@hyp_settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_archives_never_get_a_server_error(npz_app, body, path):
    r = post_npz(npz_app, body, path)
    assert r.status_code in (200, 404, 413, 422), (r.status_code, r.text)
    assert r.json().get("error") != "internal_error"


@pytest.fixture(scope="module")
def npz_app(tmp_path_factory):
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("npz")))) as c:
        yield c
