"""Compression attacked (#17): refusals of every coding, HEAD, 304, Range, a stream failing
midway, and secrets in compressed pages (BREACH).

Each test is a guard written as an attack: it passes on the code as it is, and was checked to
fail when the mechanism it guards is broken on purpose.
"""

from __future__ import annotations

import re
import zlib

import anyio
import brotli
import pytest
from starlette.responses import StreamingResponse

from cgd_bridge.server.http import compressed
from cgd_bridge.server.web import session as websession
from tests.unit.server.conftest import World
from tests.unit.server.test_web import Demo, sign_in

CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}
LINE = "KE_042,F,Y18T24,2024,57.9,Kaunti ya Kisumu; উপজেলা; जिल्ला\n".encode()


def _whole(world: World, kenya, path: str, headers: dict[str, str]):
    from tests.unit.server.conftest import publish

    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    return world.client.get(path, headers={**CSV, **headers})


def test_refusing_every_coding_gets_identity_never_br_or_gzip(world: World, kenya) -> None:
    path = "/sdmx/rest/data/DF_CGD_KE/all"
    refused = _whole(world, kenya, path, {"Accept-Encoding": "br;q=0, gzip;q=0, identity;q=0"})
    assert refused.status_code == 200
    assert "content-encoding" not in refused.headers
    plain = world.client.get(path, headers={**CSV, "Accept-Encoding": "identity"})
    assert refused.content == plain.content
    for odd in ("br;q=nan, gzip;q=0", "*;q=0", "BR;Q=0, GZIP;q=0.000", "br;q=, gzip;q=x"):
        r = world.client.get(path, headers={**CSV, "Accept-Encoding": odd})
        assert "content-encoding" not in r.headers, odd
        assert r.content == plain.content, odd


def test_head_304_and_range_on_a_compressed_answer(world: World, kenya) -> None:
    path = "/sdmx/rest/data/DF_CGD_KE/all"
    br = {"Accept-Encoding": "br"}
    got = _whole(world, kenya, path, br)
    assert got.headers["content-encoding"] == "br"
    assert got.headers["etag"].startswith('W/"')  # the strong tag names the identity bytes
    head = world.client.head(path, headers={**CSV, **br})
    assert head.status_code == 200
    assert head.content == b""
    for field in ("content-encoding", "etag", "content-type", "content-length"):
        assert head.headers.get(field) == got.headers.get(field), field
    again = world.client.get(path, headers={**CSV, **br, "If-None-Match": got.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert "content-encoding" not in again.headers  # no body: nothing was encoded
    # a Range request is answered whole (no 206 of compressed bytes a client would splice)
    ranged = world.client.get(path, headers={**CSV, **br, "Range": "bytes=10-20"})
    assert ranged.status_code == 200
    assert ranged.content == got.content


async def _failing(chunks: int):
    for _ in range(chunks):
        yield LINE * 400
    raise RuntimeError("the database went away mid-answer")


@pytest.mark.parametrize("coding", ["br", "gzip", "identity"])
@pytest.mark.anyio
async def test_a_stream_failing_midway_never_ends_as_a_valid_body(coding: str) -> None:
    """What was sent before the failure must not read as a whole answer: the body is never
    ended (``more_body`` stays true, so the server drops the connection), and a compressed
    stream is left unfinished, which its decoder can tell."""

    async def app(scope, receive, send):
        await StreamingResponse(_failing(5), media_type="text/csv")(scope, receive, send)

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asked: list[bool] = []

    async def receive() -> dict:
        if asked:  # the client stays connected: waiting for its disconnect must not spin
            await anyio.sleep_forever()
        asked.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/sdmx/rest/data/X/all",
        "headers": [(b"accept-encoding", coding.encode())],
        "query_string": b"",
    }
    with pytest.raises((RuntimeError, ExceptionGroup)), anyio.fail_after(30):
        await compressed(app)(scope, receive, send)
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies, "nothing was sent before the failure"
    assert all(m.get("more_body", False) for m in bodies)  # never a last, ending chunk
    data = b"".join(m.get("body", b"") for m in bodies)
    if coding == "br":
        decoder = brotli.Decompressor()
        decoder.process(data)
        assert not decoder.is_finished()
    elif coding == "gzip":
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decoder.decompress(data)
        assert not decoder.eof


def test_no_page_carries_the_csrf_token_unmasked(demo: Demo) -> None:
    """BREACH: a compressed page that echoes the request must not repeat a fixed secret. Every
    page a signed-in reviewer or submitter opens carries the token only masked anew."""
    c = demo.client
    sign_in(c, demo.keys["amina"])
    paths = ["/", "/submissions", "/dataflows", "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0", "/pulls?q=<x>"]
    raw: str | None = None
    for path in paths:
        loads: list[set[str]] = []
        for _ in range(2):
            page = c.get(path, headers={"Accept-Encoding": "br"})
            tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page.text))
            for token in tokens:
                plain = websession.unmasked_csrf(token)
                assert plain is not None, (path, token)
                raw = raw or plain
                assert plain == raw
            loads.append(tokens)
        assert loads[0].isdisjoint(loads[1]), path  # each page load its own masks
    assert raw is not None, "no page had a form"
    for path in paths:
        page = c.get(path, headers={"Accept-Encoding": "br"})
        assert raw not in page.text, path
