"""Class labels come back exactly as given: through fit, predict and a saved payload.

The oracle is the training labels themselves: on distinct, well-separated
training sequences with a tiny ridge, kernel ridge classification
interpolates, so predicting the training set must return each sequence's own
label, value and type, before and after `to_bytes` / `from_bytes`.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rntk_core import KernelRidge


def sequences(n: int) -> list[np.ndarray]:
    """n distinct sequences of 3 steps (their NTK Gram has a condition number below 300 for n <= 15)."""
    return [np.array([np.cos(i), np.sin(1.7 * i), 0.1 * i]) for i in range(n)]


def same(a: list, b: list) -> bool:
    """Equal element by element in value and in type (1, 1.0 and True are three different labels here)."""
    return len(a) == len(b) and all(type(u) is type(v) and u == v for u, v in zip(a, b))


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def fit_and_reload(y: list) -> tuple[KernelRidge, KernelRidge]:
    X = sequences(len(y))
    model = KernelRidge(ridge=1e-6, task="classification").fit(X, y)
    return model, KernelRidge.from_bytes(model.to_bytes())


def assert_labels_round_trip(y: list) -> None:
    X = sequences(len(y))
    distinct = list(dict.fromkeys(y))
    model = KernelRidge(ridge=1e-6, task="classification").fit(X, y)
    if any(isinstance(v, str) and not v.isascii() and _has_surrogate(v) for v in y):
        with pytest.raises(ValueError, match=r"^classes_: label .* holds the surrogate code point"):
            model.to_bytes()
        models = [model]
    else:
        models = [model, KernelRidge.from_bytes(model.to_bytes())]
    for model in models:
        classes = model.classes_.tolist()
        assert len(classes) == len(distinct) and all(any(same([c], [d]) for d in distinct) for c in classes)
        assert same(model.predict(X).tolist(), y)


@pytest.mark.parametrize(
    "y, classes",
    [
        (["a", "a\x00", "b"], ["a", "a\x00", "b"]),
        (["\x00", "", "\x00\x00", "x\x00y"], ["", "\x00", "\x00\x00", "x\x00y"]),
        (["\U0001f600", "\U00010000", "\uffff", "é"], ["é", "\uffff", "\U00010000", "\U0001f600"]),
        ([2**63, 2**63 + 1, -1], [-1, 2**63, 2**63 + 1]),
        ([2**64, -(2**70), 0], [-(2**70), 0, 2**64]),
        ([-(2**63), 2**63 - 1], [-(2**63), 2**63 - 1]),
    ],
    ids=["trailing-nul", "nul-and-empty", "astral", "beyond-int64", "beyond-uint64", "int64-ends"],
)
def test_labels_are_kept_exactly_and_sorted(y, classes):
    y = y + y[::-1]
    for model in fit_and_reload(y):
        assert same(model.classes_.tolist(), classes)
        assert same(model.predict(sequences(len(y))).tolist(), y)
        assert model.score(sequences(len(y)), y) == 1.0


def test_labels_with_surrogates_are_kept_in_memory_and_refused_at_save():
    y = ["\ud800", "\udfff", "\ud83d\ude00", "a"] * 2  # the pair is two code points, not 😀
    model = KernelRidge(ridge=1e-6, task="classification").fit(sequences(len(y)), y)
    assert same(model.classes_.tolist(), ["a", "\ud800", "\ud83d\ude00", "\udfff"])
    assert same(model.predict(sequences(len(y))).tolist(), y)
    with pytest.raises(ValueError, match=r"^classes_: label '\\ud800' holds the surrogate code point U\+D800"):
        model.to_bytes()


def test_a_label_array_of_numpy_strings_keeps_its_dtype():
    y = np.array(["b", "a", "b", "c"])
    for model in fit_and_reload(y):
        assert model.classes_.dtype == y.dtype and model.classes_.tolist() == ["a", "b", "c"]
        assert model.predict(sequences(4)).tolist() == y.tolist()


def test_int64_labels_stay_int64():
    y = [3, -(2**63), 2**63 - 1, 3]
    for model in fit_and_reload(y):
        assert model.classes_.dtype == np.int64
        assert same(model.predict(sequences(4)).tolist(), y)


def test_mixed_ints_and_floats_are_not_turned_into_floats():
    y = [1, 2.5, True, 1, 2.5, True, "1"]
    model, loaded = fit_and_reload(y)
    # True == 1 in Python, so those two are one class (the first seen of them names it)
    assert same(model.classes_.tolist(), [1, 2.5, "1"]) and same(loaded.classes_.tolist(), [1, 2.5, "1"])


def test_a_payload_whose_labels_do_not_fit_their_dtype_is_refused():
    model = KernelRidge(ridge=0.1, task="classification").fit(sequences(4), np.array(["a", "b", "a", "b"]))
    blob = model.to_bytes()
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["metadata"].tobytes())
    meta["classes"] = ["a", "a\x00"]  # a fixed-width str dtype would silently make these one label
    arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with pytest.raises(ValueError, match=r"^payload: classes .* do not fit classes_dtype '<U1'"):
        KernelRidge.from_bytes(buffer.getvalue())


# Property: any set of str labels, any set of int labels, or a mix, round-trips --------------

ANY_CHARACTER = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())  # surrogates too
EDGE_CHARACTER = st.sampled_from(["\x00", "a", "\ud800", "\udc00", "\U0001f600", "\U0010ffff"])
STRINGS = st.one_of(st.text(ANY_CHARACTER, max_size=4), st.text(EDGE_CHARACTER, max_size=3))
INTEGERS = st.one_of(st.integers(), st.integers(min_value=-(2**64), max_value=2**64),
                     st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64]))


def label_sets(labels: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(labels, min_size=2, max_size=5, unique=True)


@st.composite
def training_labels(draw: st.DrawFn) -> list:
    """Distinct labels of one kind (or a mix of str and int), each used at least once, in a drawn order.

    Some str labels get a twin with trailing NULs (``"a"`` and ``"a\\0"``): what fixed-width strings merge.
    """
    classes = draw(st.one_of(label_sets(STRINGS), label_sets(INTEGERS),
                             label_sets(st.one_of(STRINGS, INTEGERS)).filter(
                                 lambda ls: len({type(v) for v in ls}) == 2)))
    strings = [v for v in classes if isinstance(v, str)]
    if strings:
        twins = draw(st.lists(st.sampled_from(strings), max_size=2, unique=True))
        padding = draw(st.sampled_from(["\x00", "\x00\x00"]))
        classes += [t + padding for t in twins if t + padding not in classes]
    extra = draw(st.lists(st.sampled_from(classes), max_size=6))
    return draw(st.permutations(classes + extra))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(training_labels())
def test_any_label_set_round_trips_through_fit_payload_and_predict(y):
    assert_labels_round_trip(y)
