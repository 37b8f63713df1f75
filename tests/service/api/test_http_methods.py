"""HTTP method semantics on every route of the app (RFC 9110 §9.3.2, §9.3.7, §15.5.6).

For each path the app routes, what its routes declare is what it serves:
OPTIONS answers 204 with ``Allow`` listing those methods (HEAD with GET, and
OPTIONS); HEAD answers wherever GET does, with GET's status and headers and
no body; every other method answers 405 with the same ``Allow``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.routing import Mount

from service.app import create_app
from service.storage.models import new_model_id

from ..conftest import make_settings
from ..helpers import batch

TRIED = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("methods")))) as c:
        yield c


def declared_methods(client: TestClient) -> dict[str, set[str]]:
    """Path template -> the methods its routes declare; a mounted directory of files serves GET and HEAD."""
    out: dict[str, set[str]] = defaultdict(set)
    for route in iter_route_contexts(client.app.routes):
        if isinstance(route.original_route, Mount):
            out[route.path + "/{path}"] |= {"GET", "HEAD"}
        else:
            out[route.path] |= set(route.methods)
    return out


def concrete_paths(client: TestClient, template: str) -> list[str]:
    """Requests for a template: a stored model and an unknown one for the model id, a file for a mount."""
    if "{model_id}" in template:
        X = batch(3, seed=40)
        model_id = client.post("/krr/fit", json={"X": X, "y": [1.0, 2.0, 3.0], "ridge": 0.1}).json()["model_id"]
        return [template.replace("{model_id}", model_id), template.replace("{model_id}", new_model_id())]
    if template.endswith("/{path}"):
        return [template.replace("{path}", "swagger-ui.css"), template.replace("{path}", "favicon.png")]
    assert "{" not in template, f"no request made for {template}"
    return [template]


def expected_allow(methods: set[str]) -> set[str]:
    return methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())


def allow(answer) -> set[str]:
    return {m.strip() for m in answer.headers["allow"].split(",")}


def test_the_routes_checked_are_every_route_the_api_documents(app_client):
    declared = declared_methods(app_client)
    documented = app_client.get("/openapi.json").json()["paths"]
    for path, operations in documented.items():
        assert declared[path] == {m.upper() for m in operations}, path
    assert {"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"} <= set(declared)


def test_options_head_and_405_follow_http_on_every_route(app_client):
    checked = 0
    for template, methods in declared_methods(app_client).items():
        want = expected_allow(methods)
        for path in concrete_paths(app_client, template):
            options = app_client.options(path)
            assert options.status_code == 204 and options.content == b"", (path, options.text)
            assert allow(options) == want, path
            if "GET" in methods:
                get, head = app_client.get(path), app_client.head(path)
                assert head.status_code == get.status_code and head.content == b"", path
                assert head.headers["content-type"] == get.headers["content-type"], path
                if path != "/metrics":  # the others answer the same bytes twice
                    assert int(head.headers["content-length"]) == len(get.content), path
            for method in set(TRIED) - methods:
                refused = app_client.request(method, path)
                assert refused.status_code == 405, (method, path, refused.text)
                assert allow(refused) == want, (method, path)
                assert refused.json()["error"] == "method_not_allowed"
            checked += 1
    assert checked >= 14


def test_head_and_options_on_the_routes_that_lacked_them(app_client):
    for path in ("/healthz", "/readyz"):
        head = app_client.head(path)
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
    model = f"/krr/models/{new_model_id()}"
    assert allow(app_client.options(model)) == {"DELETE", "GET", "HEAD", "OPTIONS"}
    assert allow(app_client.put(model)) == {"DELETE", "GET", "HEAD", "OPTIONS"}


def test_head_is_counted_as_head_under_its_route(app_client):
    app_client.head("/healthz")
    samples = {(s.labels["route"], s.labels["method"], s.labels["status"]): s.value
               for family in text_string_to_metric_families(app_client.get("/metrics").text)
               if family.name == "rntk_http_requests" for s in family.samples if s.name.endswith("_total")}
    assert samples[("/healthz", "HEAD", "200")] >= 1


def test_unknown_paths_stay_404_whatever_the_method(app_client):
    for method in ("OPTIONS", "HEAD", "GET", "PUT"):
        assert app_client.request(method, "/no/such/path").status_code == 404
