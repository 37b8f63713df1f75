"""A Python client of the RNTK service: NumPy in, NumPy out, with retries and timeouts.

::

    from service.client import RNTKClient

    with RNTKClient("http://localhost:8000") as rntk:
        K = rntk.gram(X)                                   # (N, N) NTK as a float64 array
        K_xz, G_xz = rntk.gram(X, Z, output="both")        # NTK and NNGP between X and Z
        model = rntk.fit(X, y, params={"sigma_b": 0.1})     # a handle on the stored model
        y_hat = model.predict(X_test)
        mean, std = rntk.predict(model.model_id, X_test, return_std=True)

Sequences are given as a list of arrays of shape (T,) or (T, m), lengths free,
or as one array of shape (N, T) or (N, T, m). They travel as an ``.npz``
request body (each batch as its concatenated steps and its lengths, the other
fields as a small JSON entry: see `npz_request`), or as JSON with
``RNTKClient(..., body_format="json")``. Gram matrices come back as NumPy
``.npy`` / ``.npz`` bytes (read with ``allow_pickle=False``), not as JSON text.

Every failure raises `RNTKError` carrying the HTTP status, the service's error
code and its message (which names the field or limit at fault). Answers 503
(busy, or the model store unreachable) and failed connections are retried
as a `RetryPolicy` says, waiting what ``Retry-After`` asks, within a cap. The
client needs only httpx and NumPy.
"""

from __future__ import annotations

from .bodies import npz_request
from .errors import RNTKConnectionError, RNTKError
from .http import RNTKClient
from .results import GramResult, Model, Prediction
from .retries import NO_RETRY, RetryPolicy, parse_retry_after

__all__ = ["RNTKClient", "RNTKError", "RNTKConnectionError", "RetryPolicy", "NO_RETRY", "parse_retry_after",
           "Model", "GramResult", "Prediction", "npz_request"]
