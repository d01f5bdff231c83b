"""``/docs`` through a real `recsys serve`: Swagger UI with every asset from this server.

The point of the page is that it works with no internet: so no link may name another host,
and every file it names must answer here, without a token, with a type a browser will run.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from recsys.api import create_app
from tests.recsys.api.world import NOW, RebuiltWorld, copy_state, running_server, settings_for

with warnings.catch_warnings():
    # Starlette asks for httpx2 behind its TestClient; httpx is what this project installs.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.e2e

ASSET_TYPES = {
    "script": ("text/javascript", "application/javascript"),
    "stylesheet": ("text/css",),
    "icon": ("image/",),
}


class Links(HTMLParser):
    """Every ``src=`` and ``href=`` of a page, with the kind of file the tag asks for."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []  # (kind, url)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        rel = (values.get("rel") or "").split()
        kind = "script" if tag == "script" else "stylesheet" if "stylesheet" in rel else "icon"
        for name in ("src", "href"):
            url = values.get(name)
            if url is not None:
                self.found.append((kind, url))


def links_of(page: str) -> list[tuple[str, str]]:
    parser = Links()
    parser.feed(page)
    return parser.found


@pytest.fixture(scope="module")
def client(
    rebuilt_world: RebuiltWorld, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("api-docs")
    state = copy_state(rebuilt_world, root / "state")
    with (
        running_server(state, root / "server.log") as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def test_docs_is_swagger_ui_whose_every_asset_is_served_here(client: httpx.Client) -> None:
    page = client.get("/docs")  # no token, like /openapi.json
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text
    # No other host anywhere: not in a link, not in the inline script (cdn.jsdelivr.net and
    # fastapi.tiangolo.com are FastAPI's defaults), not protocol-relative.
    assert re.search(r"https?:|//[a-z0-9]", page.text, re.IGNORECASE) is None, page.text

    links = links_of(page.text)
    kinds = {kind for kind, _ in links}
    assert kinds == {"script", "stylesheet", "icon"}, links
    for kind, url in links:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, (url, asset.text[:200])
        assert asset.headers["content-type"].startswith(ASSET_TYPES[kind]), (url, asset.headers)
        assert len(asset.content) > 0
    script = next(client.get(url).text for kind, url in links if kind == "script")
    assert "SwaggerUIBundle" in script

    # The document the page loads is the API's own, unchanged.
    assert "url: '/openapi.json'" in page.text
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/docs" not in spec.json()["paths"]


def test_the_oauth2_redirect_page_is_local_too(client: httpx.Client) -> None:
    page = client.get("/docs/oauth2-redirect")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.search(r"https?:", page.text) is None
    assert "oauth2-redirect" in client.get("/docs").text


@pytest.mark.parametrize("path", ["/docs/static/no-such.js", "/docs/static/", "/no-such-page"])
def test_other_paths_keep_the_json_404(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"] == "not_found"
    assert set(answer.json()) == {"error", "detail"}


def test_links_follow_a_proxy_prefix(rebuilt_world: RebuiltWorld, tmp_path: Path) -> None:
    """Behind a proxy that serves the API under /recsys, the page must link there."""
    state = copy_state(rebuilt_world, tmp_path / "state")
    app = create_app(settings_for(state), lambda: NOW)
    with TestClient(app, root_path="/recsys") as client:
        page = client.get("/docs").text
    urls = [url for _, url in links_of(page)]
    assert urls and all(url.startswith("/recsys/docs/static/") for url in urls), urls
    assert "url: '/recsys/openapi.json'" in page
    assert "'/recsys/docs/oauth2-redirect'" in page
