"""/docs and /redoc work on a host with no Internet: every script, style sheet and icon they load, the
OpenAPI document and the OAuth2 redirect page come from the service itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

CONTENT_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",),
                 ".png": ("image/png",), ".json": ("application/json",)}


class References(HTMLParser):
    """Every URL an HTML page names in a ``src`` or ``href`` attribute, and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.append(data)


def references(html: str) -> References:
    parser = References()
    parser.feed(html)
    return parser


def assert_served_here(client, page: str, url: str) -> bytes:
    """`url`, as `page` names it, is on this host and answers 200 with the content type of its kind."""
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc, f"{page} loads {url} from another host"
    answer = client.get(urljoin(page, url))
    assert answer.status_code == 200, (url, answer.status_code)
    media = answer.headers["content-type"].split(";")[0]
    suffix = "." + parts.path.rsplit(".", 1)[-1] if "." in parts.path.rsplit("/", 1)[-1] else ""
    assert media in CONTENT_TYPES.get(suffix, ("text/html",)), (url, media)
    return answer.content


def test_swagger_ui_loads_everything_from_the_service(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    found = references(page.text)
    assert "http://" not in page.text and "https://" not in page.text and "//cdn" not in page.text
    (script,) = found.scripts
    spec = re.search(r"\burl: '([^']+)'", script).group(1)
    redirect = re.search(r"oauth2RedirectUrl: window\.location\.origin \+ '([^']+)'", script).group(1)
    loaded = {url: assert_served_here(client, "/docs", url) for url in [*found.urls, spec, redirect]}
    assert len(found.urls) == 3  # style sheet, icon, script
    (bundle,) = [body for url, body in loaded.items() if url.endswith(".js")]
    assert b"SwaggerUIBundle" in bundle
    assert loaded[spec].startswith(b'{"openapi":"3.1')
    redirect_page = references(loaded[redirect].decode())
    assert not redirect_page.urls and redirect_page.scripts  # the redirect page is self-contained


def test_redoc_loads_everything_from_the_service(client):
    page = client.get("/redoc")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text  # no web fonts either
    found = references(page.text)
    spec = re.search(r'<redoc spec-url="([^"]+)"', page.text).group(1)
    loaded = {url: assert_served_here(client, "/redoc", url) for url in [*found.urls, spec]}
    (bundle,) = [body for url, body in loaded.items() if url.endswith(".js")]
    assert b"Redoc" in bundle


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_doc_pages_answer_head(client, path):
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
