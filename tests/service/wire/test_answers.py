"""Answers in the negotiated format: JSON, npy or npz, with the figures in headers."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from service.wire.answers import JSON, NPY, NPZ, PartsResponse, matrices_response, negotiate

from ..helpers import load_npy, load_npz


@pytest.mark.parametrize("media_type,names", [(NPY, ("ntk",)), (NPY, ("ntk", "nngp")), (NPZ, ("nngp",)),
                                              (JSON, ("ntk",))])
def test_matrix_answers_hold_the_matrices(media_type, names):
    matrices = {name: (np.arange(12.0).reshape(3, 4) + i) for i, name in enumerate(names)}
    response = matrices_response(matrices, {"shape": [3, 4], "cache": {"hits": 1}}, media_type)
    body = b"".join(response.parts) if isinstance(response, PartsResponse) else bytes(response.body)
    if media_type == JSON:
        decoded = {k: np.array(v) for k, v in orjson.loads(body).items() if k in names}
    elif len(names) == 1 and media_type == NPY:
        assert response.media_type == NPY and response.headers["x-rntk-shape"] == "3,4"
        assert response.headers["content-length"] == str(len(body))
        decoded = {names[0]: load_npy(body)}
    else:
        decoded = load_npz(body)
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
