"""Answers in the negotiated format: JSON, npy or npz, with the figures in headers."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from service.wire.answers import JSON, NPY, NPZ, encode_matrices, negotiate

from ..helpers import load_npy, load_npz


@pytest.mark.parametrize("media_type,names", [(NPY, ("ntk",)), (NPY, ("ntk", "nngp")), (NPZ, ("nngp",)),
                                              (JSON, ("ntk",))])
def test_matrix_answers_hold_the_matrices(media_type, names):
    matrices = {name: (np.arange(12.0).reshape(3, 4) + i) for i, name in enumerate(names)}
    response = encode_matrices(matrices, {"shape": [3, 4]}, media_type).response({"hits": 1})
    body = b"".join(response.parts)
    if media_type == JSON:
        whole = orjson.loads(body)
        assert list(whole)[-2:] == ["shape", "cache"] and whole["cache"] == {"hits": 1}
        decoded = {k: np.array(v) for k, v in whole.items() if k in names}
    elif len(names) == 1 and media_type == NPY:
        assert response.media_type == NPY and response.headers["x-rntk-shape"] == "3,4"
        assert response.headers["content-length"] == str(len(body))
        decoded = {names[0]: load_npy(body)}
    else:
        decoded = load_npz(body)
    if media_type != JSON:
        assert response.headers["x-rntk-cache-hits"] == "1" and response.headers["x-rntk-shape"] == "3,4"
    for i, name in enumerate(names):
        assert np.array_equal(decoded[name], np.arange(12).reshape(3, 4) + i)


@pytest.mark.parametrize("accept,expected", [
    (None, JSON), ("*/*", JSON), ("application/json", JSON), ("application/x-npy", NPY),
    ("application/x-npz", NPZ), ("text/html, application/x-npy;q=0.9", NPY),
    ("application/x-npy;q=0.2, application/json", JSON), ("application/x-npy;q=0", JSON),
    ("image/png", JSON), ("application/x-npy;q=bad", JSON),
])
def test_negotiate(accept, expected):
    assert negotiate(accept) == expected
