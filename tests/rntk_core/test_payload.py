"""Saved models load back to bit-identical predictions; bad payloads are refused clearly."""

import io
import json

import numpy as np
import pytest

from rntk_core import KernelRidge, RNTKParams, __version__, gram
from rntk_core.krr import NotFittedError
from rntk_core.krr.payload import FORMAT_NAME, FORMAT_VERSION, payload_metadata

PARAMS = RNTKParams(n_layers=2, sigma_w=[1.3, 1.4], sigma_b=0.2, sigma_h=0.3, direction="bidirectional")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    X = [rng.normal(size=(int(t), 3)) for t in rng.integers(2, 15, size=20)]
    Z = [rng.normal(size=(int(t), 3)) for t in rng.integers(2, 15, size=7)]
    y = np.array([s[:, 0].sum() + s[0, 2] for s in X])
    return X, Z, y


def roundtrip(model):
    data = model.to_bytes()
    assert isinstance(data, bytes)
    return KernelRidge.from_bytes(data)


def fitted_models(X, y):
    return {
        "regression-1d-ntk-auto": KernelRidge(params=PARAMS).fit(X, y),
        "regression-2d-nngp": KernelRidge(params=PARAMS, ridge=0.01, kernel="nngp").fit(X, np.stack([y, y**2], 1)),
        "str-labels-nngp": KernelRidge(params=PARAMS, kernel="nngp", task="classification").fit(
            X, np.where(y > 0, "pos", np.where(y < -1, "neg", "zero"))
        ),
        "int-labels": KernelRidge(ridge=0.3, task="classification").fit(X, (y > 0).astype(np.int64) * 7),
        "bool-labels": KernelRidge(ridge=0.3, task="classification").fit(X, y > 0),
        "float-labels": KernelRidge(ridge=0.3, task="classification").fit(X, np.where(y > 0, 0.5, -2.25)),
        "mixed-labels": KernelRidge(ridge=0.3, task="classification").fit(X, [1 if v > 0 else "1" for v in y]),
    }


@pytest.mark.parametrize("name", list(fitted_models([np.ones((2, 1))] * 4, np.array([1.0, -2, 3, -4]))))
def test_roundtrip_predictions_are_bit_identical(data, name):
    X, Z, y = data
    model = fitted_models(X, y)[name]
    loaded = roundtrip(model)
    assert np.array_equal(loaded.decision_function(Z), model.decision_function(Z))
    before, after = model.predict(Z), loaded.predict(Z)
    assert after.dtype == before.dtype and np.array_equal(after, before)
    assert loaded.classes_ is None if model.classes_ is None else (
        loaded.classes_.dtype == model.classes_.dtype and loaded.classes_.tolist() == model.classes_.tolist()
    )
    if model.kernel == "nngp":
        assert np.array_equal(loaded.predict(Z, return_std=True)[1], model.predict(Z, return_std=True)[1])
    assert loaded.get_params(deep=False) | {"params": None} == model.get_params(deep=False) | {"params": None}
    assert loaded.params_ == model.params_ and loaded.ridge_ == model.ridge_
    assert [np.array_equal(a, b) for a, b in zip(loaded.X_fit_, model.X_fit_)] == [True] * len(X)
    if model.loo_curve_ is not None:
        assert {k: v.tolist() for k, v in loaded.loo_curve_.items()} == {k: v.tolist() for k, v in model.loo_curve_.items()}


def test_metadata_describes_the_model(data):
    X, _, y = data
    model = KernelRidge(params=PARAMS, kernel="nngp", task="classification").fit(X, np.where(y > 0, "a", "b"))
    blob = model.to_bytes()
    meta = payload_metadata(blob)
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == FORMAT_VERSION
    assert meta["library_version"] == __version__
    assert RNTKParams.from_dict(meta["params"]) == PARAMS
    assert (meta["kernel"], meta["task"], meta["ridge_setting"]) == ("nngp", "classification", "auto")
    assert meta["ridge"] == model.ridge_ and meta["classes"] == ["a", "b"]
    lengths = [len(s) for s in X]
    assert (meta["n_train"], meta["m"], meta["min_length"], meta["max_length"]) == (20, 3, min(lengths), max(lengths))
    assert meta["has_cholesky"] is True and len(meta["loo_curve"]["loo_mse"]) == len(model.loo_curve_["ridge"])
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        assert sorted(archive.files) == ["cholesky", "dual_coef", "lengths", "metadata", "sequences"]
        assert archive["cholesky"].shape == (20 * 21 // 2,)


def test_ntk_payload_carries_no_cholesky_factor(data):
    X, Z, y = data
    loaded = roundtrip(KernelRidge(ridge=0.1).fit(X, y))
    assert loaded.cholesky_ is None and payload_metadata(loaded.to_bytes())["has_cholesky"] is False
    with pytest.raises(ValueError, match=r"^return_std: .*kernel='nngp'"):
        loaded.predict(Z, return_std=True)


def test_loaded_model_predicts_from_precomputed_grams(data):
    X, Z, y = data
    model = KernelRidge(params=PARAMS, ridge=0.1, kernel="nngp").fit(X, y)
    loaded = KernelRidge.from_bytes(model.to_bytes())
    cross = gram(Z, X, params=PARAMS, output="nngp")
    diag = np.diag(gram(Z, params=PARAMS, output="nngp"))
    for a, b in zip(loaded.predict_gram(cross, return_std=True, K_diag=diag), model.predict(Z, return_std=True)):
        assert np.array_equal(a, b)


def test_labels_that_are_not_json_scalars_are_refused_at_save(data):
    X, _, y = data
    model = KernelRidge(ridge=0.1, task="classification").fit(X, [(1, 2) if v > 0 else (3, 4) for v in y])
    assert model.predict(X[:1])[0] in [(1, 2), (3, 4)]
    with pytest.raises(ValueError, match=r"^classes_: label \(1, 2\) of type tuple cannot be stored"):
        model.to_bytes()


def test_unfitted_model_cannot_be_saved():
    with pytest.raises(NotFittedError):
        KernelRidge().to_bytes()


# corrupt or foreign payloads


def rewrite(blob, change):
    """Reopen a payload, let `change` edit its arrays and metadata, save it again."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["metadata"].tobytes())
    original = arrays["metadata"]
    change(arrays, meta)
    if arrays.get("metadata") is original:
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def set_meta(key, value):
    return lambda arrays, meta: meta.__setitem__(key, value)


def set_array(key, value):
    return lambda arrays, meta: arrays.__setitem__(key, value)


@pytest.mark.parametrize(
    "change, message",
    [
        (set_meta("format_version", 2), r"unsupported format_version 2; .* reads version 1"),
        (set_meta("format", "other"), r"not a KernelRidge payload \(format"),
        (set_meta("n_train", 19), r"array 'lengths' has shape \(20,\)"),
        (set_meta("m", 2), r"array 'sequences' has shape"),
        (set_meta("kernel", "rbf"), r"unknown task 'regression' or kernel 'rbf'"),
        (set_meta("params", {"activation": "tanh"}), r"invalid params \(activation"),
        (set_meta("has_cholesky", False), r"'cholesky' present but has_cholesky is false"),
        (lambda a, m: m.pop("ridge"), r"corrupt metadata \(KeyError"),
        (set_meta("ridge", "auto"), r"ridge must be the number used"),
        (set_meta("ridge_setting", -1), r"invalid ridge_setting \(ridge: must be"),
        (set_array("lengths", np.full(20, 3)), r"array 'sequences' has shape"),
        (set_array("dual_coef", np.zeros(21)), r"array 'dual_coef' has shape \(21,\)"),
        (set_array("dual_coef", np.full(20, np.nan)), r"array 'dual_coef' must be finite float64"),
        (set_array("cholesky", np.zeros(5)), r"array 'cholesky' has shape \(5,\)"),
        (set_array("extra", np.zeros(2)), r"unexpected array 'extra'"),
        (set_array("dual_coef", np.array([object()] * 20)), r"array 'dual_coef' is unreadable"),
        (lambda a, m: a.pop("metadata"), r"not a KernelRidge payload \(no 'metadata' entry"),
        (set_array("metadata", np.frombuffer(b"{not json", dtype=np.uint8)), r"metadata is not valid JSON"),
    ],
)
def test_corrupt_payloads_are_refused(data, change, message):
    X, _, y = data
    blob = KernelRidge(params=PARAMS, ridge=0.1, kernel="nngp").fit(X, y).to_bytes()
    with pytest.raises(ValueError, match=r"^payload: " + message):
        KernelRidge.from_bytes(rewrite(blob, change))


def test_bad_classes_are_refused(data):
    X, _, y = data
    blob = KernelRidge(ridge=0.1, task="classification").fit(X, y > 0).to_bytes()
    for change in (set_meta("classes", [True]), set_meta("classes", [1, 1]), set_meta("classes_dtype", "V8")):
        with pytest.raises(ValueError, match=r"^payload: (classes|unknown classes_dtype|classes_dtype)"):
            KernelRidge.from_bytes(rewrite(blob, change))


@pytest.mark.parametrize("blob", [b"", b"not a payload", b"PK\x03\x04garbage", "text"])
def test_non_payloads_are_refused(blob):
    with pytest.raises(ValueError, match=r"^payload: "):
        KernelRidge.from_bytes(blob)
    with pytest.raises(ValueError, match=r"^payload: "):
        payload_metadata(blob)


def test_truncated_payload_is_refused(data):
    X, _, y = data
    blob = KernelRidge(ridge=0.1).fit(X, y).to_bytes()
    with pytest.raises(ValueError, match=r"^payload: "):
        KernelRidge.from_bytes(blob[: len(blob) // 2])
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    with pytest.raises(ValueError, match=r"^payload: not a KernelRidge payload \(a bare array"):
        KernelRidge.from_bytes(buffer.getvalue())
