"""Request bodies decoded away from the event loop: small ones in a thread, large JSON in a worker process.

A thread keeps the loop free only while the work in it releases the GIL, and
JSON decoding does not: orjson parses a body, and pydantic validates it, in
single calls that hold the GIL throughout. Measured on an AMD EPYC (AVX-512):
a 5.5 MB body of 280 000 numbers takes 39 ms to parse, 4 ms to validate and
7 ms to become arrays, and a 39 MB one 271, 56 and 61 ms, so /healthz, waiting
for the GIL behind them, stalled for 144 ms and more while a large Gram
request was read. Bodies above `PROCESS_PARSE_BYTES` are therefore parsed,
validated and turned into float64 arrays in a worker process; the event
loop's process only sends the bytes and receives each batch as two arrays
(its concatenated steps and its lengths), a few memory copies. Below that,
parsing holds the GIL for at most a few milliseconds, and a thread does.
npz bodies are NumPy arrays already and are decoded in a thread.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Optional

import anyio.to_thread
import numpy as np
import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from rntk_core import SequenceBatch, as_sequences

from ..kernels.boundary import library_errors
from ..thread_priority import COMPUTE_NICENESS, lower_this_thread
from ..wire import npz_body
from ..wire.answers import JSON, NPZ, media_type

THREAD_PARSE_BYTES = 64 << 10
"""Bodies larger than this are decoded in a worker thread."""

PROCESS_PARSE_BYTES = 1 << 20
"""JSON bodies larger than this are decoded in a worker process (where there is one)."""

PARENT_CHECK_S = 0.5
"""How often a worker process checks that the service's process is still there."""


def is_npz(content_type: Optional[str]) -> bool:
    """Whether a Content-Type header announces an npz body (parameters and case ignored)."""
    return media_type(content_type) == NPZ


def is_json(content_type: Optional[str]) -> bool:
    """Whether a Content-Type header announces JSON (``application/json``, ``*/*+json``, or none), as FastAPI reads it."""
    kind = media_type(content_type)
    return kind in ("", JSON) or kind.endswith("+json")


class BodyParser:
    """Decodes the bodies of computing routes into their request models, off the event loop.

    `processes` worker processes take the large JSON bodies (0: threads only).
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: Optional[ProcessPoolExecutor] = None

    async def decode(self, body: bytes, content_type: Optional[str], model: type[BaseModel],
                     max_bytes: int) -> Optional[BaseModel]:
        """The request model of a JSON or npz body (None for an empty body or another content type:
        FastAPI then says what it expected); field errors raised as FastAPI raises a JSON body's."""
        if not body:
            return None
        if is_npz(content_type):
            decode: Callable[[], BaseModel] = lambda: npz_body.decode(body, model, max_bytes)  # noqa: E731
        elif not is_json(content_type):
            return None
        elif len(body) > PROCESS_PARSE_BYTES and self.processes:
            return await self._in_process(body, model)
        else:
            decode = lambda: _validated_json(body, model)  # noqa: E731
        try:
            if len(body) > THREAD_PARSE_BYTES:
                return await anyio.to_thread.run_sync(decode)
            return decode()
        except ValidationError as exc:
            raise RequestValidationError(_body_errors(exc)) from None

    async def _in_process(self, body: bytes, model: type[BaseModel]) -> BaseModel:
        outcome, fields, batches = await asyncio.wrap_future(self._executor().submit(_decode_apart, body, model))
        if outcome == "invalid":
            raise RequestValidationError(fields)
        with library_errors():
            arrays = {name: SequenceBatch.from_concatenated(values, lengths, name)
                      for name, (values, lengths) in batches.items()}
        return model.model_construct(**fields, **arrays)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_exit_with_parent, initargs=(os.getpid(),))
        return self._pool

    def warm_up(self) -> None:
        """Start the worker processes and load what they need, so the first large body does not wait for it."""
        if self.processes:
            for future in [self._executor().submit(_decode_apart, b"{}", _Empty) for _ in range(self.processes)]:
                future.result()

    def close(self) -> None:
        """Stop the worker processes."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _exit_with_parent(parent: int) -> None:
    """In a worker process: end it as soon as the service's process has gone, however that ended
    (a killed server leaves no one to stop its workers)."""
    lower_this_thread(COMPUTE_NICENESS)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="rntk-parent-watch", daemon=True).start()


class _Empty(BaseModel):
    """The model of the warm-up body ``{}``."""


def _validated_json(body: bytes, model: type[BaseModel]) -> BaseModel:
    """`model` validated from a JSON body; invalid JSON is reported as FastAPI reports it (``json_invalid``)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                                       "input": {}, "ctx": {"error": exc.msg}}]) from None
    return model.model_validate(data)


def _body_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """A model's validation errors placed under ``body``, as FastAPI reports them."""
    return [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]


def _decode_apart(body: bytes, model: type[BaseModel]) -> tuple[str, Any, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """In a worker process: ("ok", the other fields, each batch as (values, lengths)), or
    ("invalid", FastAPI-shaped errors that travel back cheaply)."""
    try:
        request = _validated_json(body, model)
    except ValidationError as exc:
        return "invalid", [_portable(e) for e in _body_errors(exc)], {}
    except RequestValidationError as exc:
        return "invalid", [_portable(e) for e in exc.errors()], {}
    batches = {}
    m = None
    for name in getattr(model, "BATCHES", ()):
        given = getattr(request, name)
        if given is not None:
            try:
                seqs = as_sequences(given, name, m=m)
            except ValueError:  # the event loop's process names the fault, as for a small body
                return "ok", {f: getattr(request, f) for f in request.model_fields}, {}
            m = seqs.m
            batches[name] = (np.concatenate(seqs), np.array([len(s) for s in seqs], dtype=np.int64))
    return "ok", {f: getattr(request, f) for f in request.model_fields if f not in batches}, batches


def _portable(error: dict[str, Any]) -> dict[str, Any]:
    """An error whose input is cut to what its message needs (a batch's input can be the whole batch):
    scalars travel as they are, containers as None."""
    out = {k: v for k, v in error.items() if k not in ("input", "ctx")}
    given = error.get("input")
    out["input"] = given if isinstance(given, (str, bytes, int, float, bool, type(None))) else None
    if "ctx" in error:
        out["ctx"] = {k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in error["ctx"].items()}
    return out
