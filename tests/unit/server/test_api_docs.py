"""/docs (Swagger UI) is served whole by the bridge (issue #10): same-origin URLs only, its files
from the ``fastapi-offline`` package with the right media types, and a CSP that allows its one
inline script by hash and nothing from outside the server. The browser test
(tests/e2e/test_web_browser.py) loads it with every outside request aborted."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.web.pages import SECURITY_HEADERS
from cgd_bridge.settings import Settings

MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("docs"), rate_limit_per_minute=0))
    with TestClient(app) as c:
        yield c


def referenced(html: str) -> list[str]:
    """The URLs the page loads: src/href attributes and Swagger UI's ``url:`` (the OpenAPI document)."""
    return re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"\burl: '([^']*)'", html)


def test_docs_reference_only_files_the_bridge_serves(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "http" not in r.text.lower(), "no absolute URL: nothing from a CDN, no validator badge"
    assert '"validatorUrl": null' in r.text
    urls = referenced(r.text)
    assert len(urls) == 4, urls  # CSS, favicon, JS, /openapi.json
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        media_type = asset.headers["content-type"].split(";")[0]
        assert media_type == MEDIA_TYPES[Path(url).suffix], url
        assert asset.content, url


def test_docs_csp_allows_its_one_inline_script_and_nothing_outside(client: TestClient) -> None:
    r = client.get("/docs")
    csp = r.headers["content-security-policy"]
    (script,) = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in csp
    assert "unsafe" not in csp
    assert "default-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    # the web pages keep their policy, with no hash
    page = client.get("/sign-in")
    assert page.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_only_the_files_docs_loads_are_served(client: TestClient) -> None:
    assert client.get("/static/swagger-ui/index.html").status_code == 404
    assert client.get("/static/swagger-ui/..%2Fcore.py").status_code == 404
    assert client.get("/static/web.css").status_code == 200  # the web pages' /static is still there
    # ReDoc would need CDN files and inline styles: it is not offered (FastAPI's default /redoc)
    assert client.get("/redoc").status_code == 404


def test_docs_behind_a_path_prefix(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))
    with TestClient(app, root_path="/bridge") as c:
        urls = referenced(c.get("/docs").text)
    assert urls
    assert all(u.startswith("/bridge/") for u in urls), urls
