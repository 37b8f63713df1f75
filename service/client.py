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

import email.utils
import io
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Optional, Union

import httpx
import numpy as np

__all__ = ["RNTKClient", "RNTKError", "RNTKConnectionError", "RetryPolicy", "Model", "GramResult", "Prediction",
           "npz_request"]

NPY = "application/x-npy"
NPZ = "application/x-npz"
BodyFormat = Literal["npz", "json"]


# Errors ------------------------------------------------------------------------

class RNTKError(Exception):
    """The service answered with an error, or could not be reached.

    Attributes
    ----------
    status_code : the HTTP status (None when no answer came)
    code : the service's machine-readable error code ("invalid_input", "model_not_found", ...)
    message : the service's explanation (its ``detail``)
    errors : per-field details of a 422, as the service sent them
    retry_after : the ``Retry-After`` header of the last answer, if any
    """

    def __init__(self, message: str, *, status_code: Optional[int] = None, code: str = "error",
                 errors: Optional[list] = None, retry_after: Optional[str] = None) -> None:
        super().__init__(f"{status_code} {code}: {message}" if status_code is not None else message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.errors = errors
        self.retry_after = retry_after

    @classmethod
    def from_response(cls, response: httpx.Response) -> "RNTKError":
        """The error an error answer describes (the service's JSON shape, or whatever text came)."""
        code, message, errors = "http_error", response.text[:500] or response.reason_phrase, None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "detail" in body:
            code = str(body.get("error") or code)
            message = str(body["detail"])
            errors = body.get("errors")
        return cls(message, status_code=response.status_code, code=code, errors=errors,
                   retry_after=response.headers.get("retry-after"))


class RNTKConnectionError(RNTKError):
    """No answer: the connection failed or timed out (``status_code`` is None)."""


# Retries -----------------------------------------------------------------------

def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures to try again, how often, and how long to wait in between.

    Parameters
    ----------
    attempts : tries in all, the first included (1: never retry)
    backoff_base_s, backoff_cap_s : without ``Retry-After``, wait ``base * 2**(retry - 1)`` seconds,
        at most ``cap`` (halved at random with `jitter`, so clients that failed together spread out)
    max_wait_s : the longest single wait, also when ``Retry-After`` asks for more
    retry_statuses : answers worth another try; a 503 means the service did not carry the request
        out (all compute slots busy, or the model store unreachable), so any request may be repeated
    retry_connection_errors : retry when connecting failed (the request was not sent). Read
        timeouts are never retried: the service may still be computing the answer.
    jitter : randomise the backoff (not a wait that ``Retry-After`` asked for)
    """

    attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    max_wait_s: float = 30.0
    retry_statuses: frozenset[int] = frozenset({503})
    retry_connection_errors: bool = True
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts: must be >= 1, got {self.attempts}")
        for name in ("backoff_base_s", "backoff_cap_s", "max_wait_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: must be a finite number >= 0, got {value}")

    def retries_status(self, status_code: int) -> bool:
        """Whether an answer with this status is worth another try."""
        return status_code in self.retry_statuses

    def wait_s(self, retry: int, retry_after: Optional[str] = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first), honouring ``Retry-After``."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_wait_s)
        backoff = min(self.backoff_cap_s, self.backoff_base_s * 2.0 ** min(retry - 1, 60))
        if self.jitter:
            backoff = backoff / 2 + random.uniform(0, backoff / 2)
        return min(backoff, self.max_wait_s)


NO_RETRY = RetryPolicy(attempts=1)
"""A policy that never retries."""


# Results -----------------------------------------------------------------------

@dataclass(frozen=True)
class GramResult:
    """A Gram answer: the kernels asked for (the other is None), the shape, and the cache figures."""

    ntk: Optional[np.ndarray]
    nngp: Optional[np.ndarray]
    shape: tuple[int, int]
    cache: dict[str, int]


@dataclass(frozen=True)
class Prediction:
    """A prediction answer: predictions, class scores (classification), posterior std (if asked), cache."""

    predictions: np.ndarray
    scores: Optional[np.ndarray]
    std: Optional[np.ndarray]
    cache: dict[str, int]


@dataclass(frozen=True)
class Model:
    """A model stored by the service, as ``/krr/fit`` described it; predicts through the client.

    Attributes: ``model_id`` (the handle to keep), ``ridge`` (the λ used, chosen when "auto"),
    ``n_train``, ``kernel``, ``task``, ``classes`` (classification), ``loo`` (the leave-one-out
    curve of an automatic ridge) and ``cache`` (block cache use of the fit).
    """

    client: "RNTKClient" = field(repr=False, compare=False)
    model_id: str
    ridge: float
    n_train: int
    kernel: str
    task: str
    classes: Optional[list] = None
    loo: Optional[dict] = None
    cache: dict[str, int] = field(default_factory=dict)

    def predict(self, X: Any, return_std: bool = False):
        """Predictions for X (with ``return_std``, a pair: predictions and posterior std)."""
        return self.client.predict(self.model_id, X, return_std=return_std)

    def info(self) -> dict[str, Any]:
        """The stored model's size and metadata."""
        return self.client.model_info(self.model_id)

    def delete(self) -> None:
        """Delete the stored model."""
        self.client.delete_model(self.model_id)


# Encoding ----------------------------------------------------------------------

def _checked_sequence(seq: Any, name: str, i: int) -> np.ndarray:
    """One sequence as float64, refused if its rank is wrong or it holds NaN or infinite values."""
    arr = np.asarray(seq, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}[{i}]: a sequence must have shape (T,) or (T, m), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}[{i}]: contains NaN or infinite values")
    return arr


def _check_array_batch(X: Any, name: str) -> None:
    """An array batch must be (N, T) or (N, T, m)."""
    if X.ndim not in (2, 3):
        raise ValueError(f"{name}: an array batch must have shape (N, T) or (N, T, m), got {X.shape}")


def _sequences(X: Any, name: str) -> list:
    """A batch as JSON-ready lists, refusing non-finite values here (JSON cannot carry them)."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        _check_array_batch(X, name)
    return [_checked_sequence(seq, name, i).tolist() for i, seq in enumerate(X)]


def _batch_arrays(X: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A batch as (values, lengths): every sequence's steps concatenated, and each one's length.

    Refuses here what the request could not carry or the service would refuse
    anyway: a sequence of the wrong rank, non-finite values, or an m that differs
    from the first sequence's.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        _check_array_batch(X, name)
        arr = np.ascontiguousarray(X, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}]: contains NaN or infinite values")
        n, t = arr.shape[:2]
        return arr.reshape(n * t, *arr.shape[2:]), np.full(n, t, dtype=np.int64)
    seqs: list[np.ndarray] = []
    m: Optional[int] = None
    for i, seq in enumerate(X):
        arr = _checked_sequence(seq, name, i)
        seq_m = 1 if arr.ndim == 1 else arr.shape[1]
        if m is None:
            m = seq_m
        elif seq_m != m:
            raise ValueError(f"{name}[{i}]: has m={seq_m} features per step but {name}[0] has m={m}")
        seqs.append(arr)
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    if not seqs:
        return np.zeros(0), lengths
    if all(s.ndim == 1 for s in seqs):
        return np.concatenate(seqs), lengths
    return np.concatenate([s.reshape(s.shape[0], -1) for s in seqs]), lengths


def npz_request(batches: Mapping[str, Any], fields: Mapping[str, Any]) -> bytes:
    """An ``application/x-npz`` request body: each batch B (``"X"``, ``"Z"``) as ``B_values``
    (float64 steps, concatenated) and ``B_lengths`` (int64), `fields` (the request's other
    members, JSON-ready) as the UTF-8 JSON bytes of a uint8 ``request`` entry."""
    arrays: dict[str, np.ndarray] = {}
    for name, X in batches.items():
        arrays[f"{name}_values"], arrays[f"{name}_lengths"] = _batch_arrays(X, name)
    arrays["request"] = np.frombuffer(json.dumps(dict(fields)).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _plain(value: Any) -> Any:
    """NumPy arrays and scalars (labels, targets) as plain Python values for JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _params(params: Any) -> Optional[dict]:
    """Parameters as a dict: a mapping, an object with ``to_dict()`` (`rntk_core.RNTKParams`), or None."""
    if params is None:
        return None
    if hasattr(params, "to_dict"):
        params = params.to_dict()
    if not isinstance(params, Mapping):
        raise TypeError(f"params: expected a dict or RNTKParams, got {type(params).__name__}")
    return {k: _plain(v) for k, v in params.items()}


def _cache_headers(headers: httpx.Headers) -> dict[str, int]:
    return {k: int(headers[f"x-rntk-cache-{k}"]) for k in ("blocks", "hits", "misses")
            if f"x-rntk-cache-{k}" in headers}


# The client --------------------------------------------------------------------

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
            fields["params"] = _params(params)
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
        fields: dict[str, Any] = {"y": _plain(y), "ridge": _plain(ridge), "kernel": kernel, "task": task}
        if params is not None:
            fields["params"] = _params(params)
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
            body = {**fields, **{name: _sequences(X, name) for name, X in batches.items()}}
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
