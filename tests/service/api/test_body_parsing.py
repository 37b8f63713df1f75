"""Large JSON bodies parsed in a worker process answer as those parsed in a thread, errors included."""

from __future__ import annotations

import asyncio

import numpy as np
import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from service.api.body_parsing import PROCESS_PARSE_BYTES, BodyParser
from service.api.schemas import GramRequest
from service.errors.validation import field_errors

ROWS = np.random.default_rng(5).normal(size=(300, 300)).tolist()  # about 1.7 MB of JSON


def _decoded(parser: BodyParser, body: bytes):
    try:
        return asyncio.run(parser.decode(body, "application/json", GramRequest, 1 << 30))
    except RequestValidationError as exc:
        return field_errors(exc.errors())


@pytest.fixture(scope="module")
def parsers():
    apart, here = BodyParser(1), BodyParser(0)
    yield apart, here
    apart.close()


@pytest.mark.parametrize("body", [
    orjson.dumps({"X": ROWS, "params": {"sigma_w": 1.2}}),
    orjson.dumps({"X": ROWS[:-1] + [ROWS[-1][:-1] + ["seven"]]}),
    orjson.dumps({"X": ROWS, "output": "all"}),
    orjson.dumps([ROWS]),
    orjson.dumps({"X": ROWS})[:-2],
])
def test_a_worker_process_decodes_as_a_thread_does(parsers, body):
    assert len(body) > PROCESS_PARSE_BYTES
    apart, here = (_decoded(p, body) for p in parsers)
    if isinstance(here, list):
        assert apart == here and here
    else:
        assert apart.params == here.params and apart.output == here.output
        assert [a.tolist() for a in apart.X] == [np.asarray(s).reshape(-1, 1).tolist() for s in here.X]
