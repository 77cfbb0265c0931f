"""Request bodies are limited while they stream, and a route's key is checked before its body (#14).

The requests here are made on the ASGI app directly, with a ``receive`` that hands the body out
in 64 KiB pieces and counts what the server took: TestClient (httpx) would read a streamed body
whole before the app sees it, which is the very thing these tests must see not happening.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.unit.server.conftest import World

CHUNK = 64 << 10
BOUNDARY = "cgdbridgeboundary"


@dataclass
class Sent:
    """What one request did: the answer, and how many body bytes the server read."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    consumed: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


def multipart_rows(total: int) -> Iterator[bytes]:
    """A multipart upload whose 'data' file is ``total`` bytes of a Nepal household survey."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="data"; filename="nepal.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nडिस्ट्रिक्ट,households\r\n"
    ).encode()
    row = "काठमाडौं,1204\r\n".encode() * (CHUNK // 20)
    sent = 0
    while sent < total:
        yield row
        sent += len(row)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def request(
    world: World,
    method: str,
    path: str,
    chunks: Iterator[bytes],
    headers: dict[str, str],
) -> Sent:
    """``method path`` with the body ``chunks`` (streamed), straight into the ASGI app."""
    out = Sent()

    async def call() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("203.0.113.7", 50000),
            "server": ("testserver", 80),
        }
        pending = iter(chunks)

        async def receive() -> dict[str, Any]:
            piece = next(pending, None)
            if piece is None:
                return {"type": "http.request", "body": b"", "more_body": False}
            out.consumed += len(piece)
            return {"type": "http.request", "body": piece, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out.status = message["status"]
                out.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                out.body += message.get("body", b"")

        await world.app(scope, receive, send)  # type: ignore[operator]

    world.client.portal.call(call)  # type: ignore[union-attr]
    return out


def upload_headers(length: int | None, key: str | None = None) -> dict[str, str]:
    h = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    h.update({"content-length": str(length)} if length is not None else {"transfer-encoding": "chunked"})
    if key:
        h["authorization"] = f"Bearer {key}"
    return h


FOUR_GB = 4 << 30
SOME_MB = 16 << 20  # what the body generators send at most (a failing test need not send 4 GB)


@pytest.mark.parametrize("length", [FOUR_GB, None], ids=["content-length", "chunked"])
@pytest.mark.parametrize("key", [None, "cgdb_invented0000_notakeyatall"], ids=["no-key", "bad-key"])
def test_an_anonymous_upload_is_refused_before_a_byte_is_read(
    world: World, length: int | None, key: str | None
) -> None:
    """Was: the whole body spooled to disk, then 401 (an endless one filled the disk)."""
    r = request(world, "POST", "/api/submissions", multipart_rows(SOME_MB), upload_headers(length, key))
    assert r.status == 401, r.body[:300]
    assert r.consumed == 0
    assert "API key" in r.json()["error"]["message"]


def test_a_content_length_above_the_limit_is_refused_up_front(world: World) -> None:
    limit = world.bridge.settings.max_upload_mb
    r = request(
        world,
        "POST",
        "/api/validate",
        multipart_rows(SOME_MB),
        upload_headers(FOUR_GB, world.keys["amina"]),
    )
    assert r.status == 413, r.body[:300]
    assert r.consumed == 0
    message = r.json()["error"]["message"]
    assert "4,096 MiB" in message
    assert "CGD_BRIDGE_MAX_UPLOAD_MB" in message
    assert f"{4 * limit + 1:,} MiB" in message  # four files of the upload limit, and the form


@pytest.mark.world_settings(max_upload_mb=1, max_form_kb=64)
def test_an_endless_chunked_upload_is_cut_at_the_limit(world: World) -> None:
    r = request(
        world, "POST", "/api/validate", multipart_rows(SOME_MB), upload_headers(None, world.keys["amina"])
    )
    assert r.status == 413, r.body[:300]
    limit = 4 * (1 << 20) + (64 << 10)
    assert limit < r.consumed <= limit + CHUNK  # read up to the limit, not one piece more
    assert "CGD_BRIDGE_MAX_UPLOAD_MB" in r.json()["error"]["message"]
    assert world.client.get("/healthz").status_code == 200


@pytest.mark.world_settings(max_json_kb=16)
def test_a_json_body_has_its_own_smaller_limit(world: World) -> None:
    headers = {"content-type": "application/json", "authorization": f"Bearer {world.keys['kamau']}"}
    comment = json.dumps({"comment": "Kiambu county totals checked " * 2000}).encode()
    r = request(
        world,
        "POST",
        "/api/versions/1/accept",
        iter([comment]),
        {**headers, "content-length": str(len(comment))},
    )
    assert r.status == 413
    assert r.consumed == 0
    assert "CGD_BRIDGE_MAX_JSON_KB" in r.json()["error"]["message"]
    assert "Sign in" not in r.json()["error"]["message"]  # that is for the public on web pages
    r = request(
        world,
        "POST",
        "/api/versions/1/accept",
        iter([comment[i : i + 4096] for i in range(0, len(comment), 4096)]),
        {**headers, "transfer-encoding": "chunked"},
    )
    assert r.status == 413
    assert r.consumed <= (16 << 10) + 4096
    # a body within the limit goes to the route as before (no version 1 here: 404)
    small = b'{"comment": "ok"}'
    r = request(
        world, "POST", "/api/versions/1/accept", iter([small]), {**headers, "content-length": str(len(small))}
    )
    assert r.status == 404, r.body[:300]


@pytest.mark.world_settings(max_form_kb=64)
def test_a_web_upload_without_a_session_gets_the_form_limit(world: World) -> None:
    """The public cannot make the server spool an upload through the web pages either."""
    r = request(world, "POST", "/submit", multipart_rows(SOME_MB), upload_headers(None))
    assert r.status == 413, r.body[:300]
    assert r.consumed <= (64 << 10) + CHUNK
    assert r.headers["content-type"].startswith("text/html")  # the web pages' error page
    assert "Sign in first" in r.body.decode()


def test_a_path_that_takes_no_body_reads_none(world: World) -> None:
    body = b"x" * 100
    r = request(
        world,
        "POST",
        "/sdmx/rest/data/DF_CGD_KE",
        iter([body]),
        {"content-type": "application/json", "content-length": str(2 << 30)},
    )
    assert r.status == 405
    assert r.consumed == 0
    assert "mes:Error" in r.body.decode()
