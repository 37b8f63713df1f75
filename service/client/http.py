"""`RNTKClient`: the calls of the service over httpx, with retries and timeouts."""

from __future__ import annotations

import io
import time
from typing import Any, Callable, Literal, Mapping, Optional, Union

import httpx
import numpy as np

from .bodies import json_batch, npz_request, params_dict, plain
from .errors import RNTKConnectionError, RNTKError
from .results import GramResult, Model, Prediction
from .retries import RetryPolicy

NPY = "application/x-npy"
NPZ = "application/x-npz"
BodyFormat = Literal["npz", "json"]


def _cache_headers(headers: httpx.Headers) -> dict[str, int]:
    return {k: int(headers[f"x-rntk-cache-{k}"]) for k in ("blocks", "hits", "misses")
            if f"x-rntk-cache-{k}" in headers}



class RNTKClient:
    """Calls one RNTK service (or a load balancer in front of several replicas).

    Parameters
    ----------
    base_url : where the service answers, e.g. ``"http://localhost:8000"``
    timeout : seconds to wait for an answer (reading, writing, a free connection); a Gram of
        thousands of long sequences takes minutes, so the default is generous
    connect_timeout : seconds to wait for a connection
    retry : the `RetryPolicy` (default: 4 attempts on 503 and failed connections)
    headers : extra headers sent with every request (e.g. an API gateway's token)
    transport : an httpx transport (tests use ``httpx.MockTransport``)
    sleep : how to wait between attempts (tests pass a recorder)
    body_format : how sequences are sent: ``"npz"`` (NumPy arrays, the default: several times
        less to send and to parse) or ``"json"`` (lists of numbers)
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 300.0,
        connect_timeout: float = 5.0,
        retry: Optional[RetryPolicy] = None,
        headers: Optional[Mapping[str, str]] = None,
        transport: Optional[httpx.BaseTransport] = None,
        sleep: Callable[[float], None] = time.sleep,
        body_format: BodyFormat = "npz",
    ) -> None:
        if body_format not in ("npz", "json"):
            raise ValueError(f"body_format: expected 'npz' or 'json', got {body_format!r}")
        self.body_format = body_format
        self.retry = RetryPolicy() if retry is None else retry
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers={"User-Agent": "rntk-client", **dict(headers or {})},
            transport=transport,
        )

    # lifecycle

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "RNTKClient":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # kernels

    def gram(self, X: Any, Z: Any = None, *, params: Any = None, output: str = "ntk"):
        """The Gram matrix of X (or between X and Z) as a float64 array; ``output="both"`` gives (ntk, nngp)."""
        result = self.gram_result(X, Z, params=params, output=output)
        if output == "both":
            return result.ntk, result.nngp
        return result.ntk if output == "ntk" else result.nngp

    def gram_result(self, X: Any, Z: Any = None, *, params: Any = None, output: str = "ntk") -> GramResult:
        """Like `gram`, with the shape and the block cache figures (hits, misses) of the answer."""
        fields: dict[str, Any] = {"output": output}
        if params is not None:
            fields["params"] = params_dict(params)
        accept = NPZ if output == "both" else NPY
        batches = {"X": X} if Z is None else {"X": X, "Z": Z}
        response = self._request("POST", "/gram", **self._body(batches, fields, {"Accept": accept}))
        media = response.headers.get("content-type", "").split(";")[0].strip()
        arrays: dict[str, np.ndarray]
        if media == NPY:
            arrays = {output: np.load(io.BytesIO(response.content), allow_pickle=False)}
        elif media == NPZ:
            with np.load(io.BytesIO(response.content), allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        else:
            raise RNTKError(f"expected {accept} from /gram, got {media or 'no content type'}",
                            status_code=response.status_code, code="unexpected_response")
        first = next(iter(arrays.values()))
        return GramResult(ntk=arrays.get("ntk"), nngp=arrays.get("nngp"),
                          shape=(int(first.shape[0]), int(first.shape[1])), cache=_cache_headers(response.headers))

    # kernel ridge regression

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        params: Any = None,
        ridge: Union[float, str] = "auto",
        kernel: str = "ntk",
        task: str = "regression",
    ) -> Model:
        """Fit kernel ridge regression (or classification with ``task="classification"``) and store it."""
        fields: dict[str, Any] = {"y": plain(y), "ridge": plain(ridge), "kernel": kernel, "task": task}
        if params is not None:
            fields["params"] = params_dict(params)
        data = self._request("POST", "/krr/fit", **self._body({"X": X}, fields)).json()
        return Model(client=self, model_id=data["model_id"], ridge=data["ridge"], n_train=data["n_train"],
                     kernel=data["kernel"], task=data["task"], classes=data.get("classes"),
                     loo=data.get("loo"), cache=data.get("cache") or {})

    def predict(self, model_id: str, X: Any, *, return_std: bool = False):
        """Predictions of a stored model for X; with ``return_std``, (predictions, posterior std)."""
        result = self.predict_result(model_id, X, return_std=return_std)
        return (result.predictions, result.std) if return_std else result.predictions

    def predict_result(self, model_id: str, X: Any, *, return_std: bool = False) -> Prediction:
        """Like `predict`, with the class scores of a classifier and the block cache figures."""
        fields = {"model_id": model_id, "return_std": bool(return_std)}
        data = self._request("POST", "/krr/predict", **self._body({"X": X}, fields)).json()
        as_array = lambda v: None if v is None else np.asarray(v)  # noqa: E731
        return Prediction(predictions=np.asarray(data["predictions"]), scores=as_array(data.get("scores")),
                          std=as_array(data.get("std")), cache=data.get("cache") or {})

    def model_info(self, model_id: str) -> dict[str, Any]:
        """A stored model's id, size in bytes and metadata."""
        return self._request("GET", f"/krr/models/{model_id}").json()

    def delete_model(self, model_id: str) -> None:
        """Delete a stored model (RNTKError 404 if there is none)."""
        self._request("DELETE", f"/krr/models/{model_id}")

    # operations

    def health(self) -> bool:
        """Whether the process answers ``/healthz`` (no retries; never raises)."""
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def readiness(self) -> dict[str, Any]:
        """``/readyz``: {"status": "ready" | "degraded" | "starting", ...} (no retries)."""
        try:
            response = self._http.get("/readyz")
        except httpx.HTTPError as exc:
            raise RNTKConnectionError(f"GET /readyz: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 503):
            raise RNTKError.from_response(response)
        return response.json()

    # transport

    def _body(self, batches: Mapping[str, Any], fields: Mapping[str, Any],
              headers: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        """The httpx arguments sending `batches` and `fields` in the client's body format."""
        if self.body_format == "json":
            body = {**fields, **{name: json_batch(X, name) for name, X in batches.items()}}
            return {"json": body, "headers": dict(headers or {})}
        return {"content": npz_request(batches, fields), "headers": {**dict(headers or {}), "Content-Type": NPZ}}

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying as the policy says; the successful answer, or `RNTKError`."""
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if policy.retry_connection_errors and attempt < policy.attempts:
                    self._sleep(policy.wait_s(attempt))
                    continue
                raise RNTKConnectionError(
                    f"{method} {path}: cannot connect to {self._http.base_url} after {attempt} attempt(s): {exc}"
                ) from exc
            except httpx.TimeoutException as exc:
                raise RNTKConnectionError(
                    f"{method} {path}: no answer within the timeout ({type(exc).__name__}); the service may "
                    "still be computing: raise `timeout` or send less work"
                ) from exc
            except httpx.HTTPError as exc:
                raise RNTKConnectionError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
            if response.is_success:
                return response
            if policy.retries_status(response.status_code) and attempt < policy.attempts:
                self._sleep(policy.wait_s(attempt, response.headers.get("retry-after")))
                continue
            raise RNTKError.from_response(response)
