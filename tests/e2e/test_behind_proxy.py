"""The bridge behind a real nginx (#19): the client's address and scheme come from the trusted
proxy only, and pages, redirects and SDMX answers work under a path prefix.

nginx listens on 127.0.0.1, strips the prefix ``/cgd`` and connects to the bridge from
127.0.0.2, the one address the bridge trusts (``--proxy-headers --forwarded-allow-ips
127.0.0.2``). Test clients connect from their own loopback addresses (127.0.0.5 to .14), so
"who is the client" has a checkable answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.support.nginx import NGINX, PROXY_ADDRESS, nginx_proxy
from tests.support.server import LiveServer, live_server

pytestmark = pytest.mark.skipif(NGINX is None, reason="needs Debian's nginx (apt-get install nginx-light)")

PREFIX = "/cgd"
LIMIT = 20  # each test uses its own client addresses, so their requests never add up
KE_CSV = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format=csv"


@dataclass
class Proxied:
    bridge: LiveServer
    proxy: str  # nginx's URL, with the prefix


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    data_dir = tmp_path_factory.mktemp("proxied")
    args = ("--proxy-headers", "--forwarded-allow-ips", PROXY_ADDRESS, "--root-path", PREFIX)
    env = {"CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": str(LIMIT)}
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir, env=env, args=args) as bridge:
        port = int(bridge.url.rsplit(":", 1)[1])
        with nginx_proxy(port, PREFIX, data_dir / "nginx") as nginx:
            yield Proxied(bridge, nginx.url + PREFIX)


def client_from(address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.x.y.z is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


def pulls(bridge: LiveServer, since: int) -> list[tuple[str, str]]:
    """(client, query) of the data pulls audited after audit id ``since`` (waits for the writer)."""
    engine = create_engine(bridge.database_url)
    try:
        for _ in range(100):
            with engine.connect() as c:
                rows = c.execute(
                    text(
                        "SELECT client, query FROM audit WHERE action = 'data.pulled' AND id > :s ORDER BY id"
                    ),
                    {"s": since},
                ).all()
            if rows:
                return [(r[0], r[1]) for r in rows]
            time.sleep(0.1)
        return []
    finally:
        engine.dispose()


def last_audit_id(bridge: LiveServer) -> int:
    engine = create_engine(bridge.database_url)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT COALESCE(MAX(id), 0) FROM audit")).scalar_one())
    finally:
        engine.dispose()


def test_audit_rows_name_the_client_the_proxy_saw_and_ignore_a_forged_header(proxied: Proxied) -> None:
    key = proxied.bridge.headers("kamau")
    since = last_audit_id(proxied.bridge)
    with client_from("127.0.0.10") as c:
        r = c.get(proxied.proxy + KE_CSV, headers={**key, "X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 200, r.text
        assert r.text.count("\n") == 181
    assert pulls(proxied.bridge, since) == [("127.0.0.10", KE_CSV)]  # nginx overwrote the forged header

    since = last_audit_id(proxied.bridge)
    with client_from("127.0.0.11") as c:  # straight to the bridge: not the trusted proxy
        r = c.get(proxied.bridge.url + KE_CSV, headers={**key, "X-Forwarded-For": "198.51.100.7"})
        assert r.status_code == 200
    assert pulls(proxied.bridge, since) == [("127.0.0.11", KE_CSV)]


def test_the_rate_limit_counts_the_client_behind_the_proxy(proxied: Proxied) -> None:
    flows = "/sdmx/rest/dataflow/all/all/latest"
    with client_from("127.0.0.5") as a:
        codes = [a.get(proxied.proxy + flows).status_code for _ in range(LIMIT + 1)]
    assert codes[-1] == 429, codes
    with client_from("127.0.0.6") as b:  # another client of the same proxy has its own limit
        assert b.get(proxied.proxy + flows).status_code == 200
    with client_from("127.0.0.7") as direct:  # claiming to be the limited client changes nothing
        r = direct.get(proxied.bridge.url + flows, headers={"X-Forwarded-For": "127.0.0.6"})
        assert r.status_code == 200
        for _ in range(LIMIT):
            direct.get(proxied.bridge.url + flows, headers={"X-Forwarded-For": "127.0.0.6"})
    with client_from("127.0.0.6") as b:  # so 127.0.0.6 was not charged for 127.0.0.7's requests
        assert b.get(proxied.proxy + flows).status_code == 200


def test_cookies_are_secure_when_the_proxy_says_https_and_only_then(proxied: Proxied) -> None:
    with client_from("127.0.0.12") as c:
        r = c.get(proxied.proxy + "/sign-in")
        assert r.status_code == 200
        cookie = r.headers["set-cookie"]
        assert "secure" in cookie.lower(), cookie
        assert f"path={PREFIX}" in cookie.lower(), cookie
    with client_from("127.0.0.13") as c:  # the same header straight to the bridge is not believed
        r = c.get(proxied.bridge.url + "/sign-in", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200
        assert "secure" not in r.headers["set-cookie"].lower()


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src|action)="(/[^"]*)"', html)


def test_pages_and_sdmx_answers_work_under_the_prefix(proxied: Proxied) -> None:
    with client_from("127.0.0.14") as c:
        home = c.get(proxied.proxy + "/")
        assert home.status_code == 200
        links = _links(home.text)
        assert any(link.startswith(f"{PREFIX}/static/web.css?v=") for link in links), links
        assert f"{PREFIX}/dataflows" in links
        assert all(link.startswith(PREFIX + "/") for link in links), links
        assert c.get(f"{proxied.proxy}/static/web.css").status_code == 200

        flows = c.get(proxied.proxy + "/dataflows")
        assert flows.status_code == 200
        pages = [link for link in _links(flows.text) if link.startswith(f"{PREFIX}/dataflows/")]
        assert pages
        assert all(link.startswith(PREFIX + "/") for link in _links(flows.text))
        origin = proxied.proxy.removesuffix(PREFIX)  # nginx's http://127.0.0.1:port
        flow = c.get(origin + pages[0])
        assert flow.status_code == 200
        downloads = [link for link in _links(flow.text) if "/download?" in link]
        assert downloads
        assert all(link.startswith(PREFIX + "/") for link in downloads)
        got = c.get(origin + downloads[0].replace("&amp;", "&"))
        assert got.status_code == 200
        assert got.content

        signin = c.get(proxied.proxy + "/inbox", follow_redirects=False)  # not signed in
        assert signin.status_code == 303
        assert signin.headers["location"] == f"{PREFIX}/sign-in?next=/inbox"

        csv = c.get(proxied.proxy + KE_CSV)
        assert csv.status_code == 200
        assert csv.text.count("\n") == 181
        # an SDMX error is still an SDMX error message under the prefix (the route is recognised)
        unprefixed = c.get(proxied.bridge.url + "/sdmx/rest/data/CGD_BRIDGE,NO_SUCH_FLOW,1.0/all")
        prefixed = c.get(proxied.proxy + "/sdmx/rest/data/CGD_BRIDGE,NO_SUCH_FLOW,1.0/all")
        assert prefixed.status_code == unprefixed.status_code == 404
        assert prefixed.headers["content-type"] == unprefixed.headers["content-type"]
        assert "json" not in prefixed.headers["content-type"], prefixed.headers["content-type"]

        docs = c.get(proxied.proxy + "/docs")
        assert f"{PREFIX}/openapi.json" in docs.text
        assert c.get(proxied.proxy + "/openapi.json").status_code == 200


def test_the_bridge_logs_that_it_trusts_the_proxy(proxied: Proxied) -> None:
    assert proxied.bridge.log is not None
    log = Path(proxied.bridge.log).read_text()
    assert f"client address and scheme from {PROXY_ADDRESS} only" in log
    assert f"served under the path {PREFIX}" in log
