"""Body limits on a real uvicorn, over a raw socket (#14): the answer comes before the body.

A client that sends the headers of a 4 GB upload and then nothing gets its 401 (no key) or 413
(too large) at once: the server does not wait for, read or spool the body. An endless chunked
upload is answered 413 after at most the limit (plus what the kernel buffers) was sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import orgs
from tests.support.server import free_port


@dataclass
class Served:
    port: int
    key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("body-live")
    app = create_app(
        Settings(data_dir=data_dir, rate_limit_per_minute=0, max_upload_mb=1, max_form_kb=64),
        database_url=f"sqlite:///{data_dir / 'bridge.sqlite'}",
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        with app.state.bridge.sessions() as session:
            orgs.create_organisation(session, slug="shushilan", name="Shushilan", kind="cso")
            orgs.create_user(session, username="rahima", organisation="shushilan", role="submitter")
            key = orgs.create_key(session, username="rahima").key
        yield Served(port, key)
    finally:
        server.should_exit = True
        thread.join(30)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return int(data.split(b" ", 2)[1])


UPLOAD = "multipart/form-data; boundary=xyz"


@pytest.mark.parametrize(
    ("key", "status"), [(None, 401), ("cgdb_invented0000_zzzzzzzzzzzzzzzzzzzzzzzzzzzz", 401), ("good", 413)]
)
def test_headers_of_a_4_gb_upload_are_answered_without_the_body(
    served: Served, key: str | None, status: int
) -> None:
    headers = {"Content-Type": UPLOAD, "Content-Length": str(4 << 30)}
    if key:
        headers["Authorization"] = f"Bearer {served.key if key == 'good' else key}"
    with socket.create_connection(("127.0.0.1", served.port), timeout=15) as sock:
        sock.sendall(_head("/api/submissions", headers))  # and then nothing: the body never comes
        assert _status(sock) == status


def test_an_endless_chunked_upload_is_cut(served: Served) -> None:
    headers = {
        "Content-Type": UPLOAD,
        "Transfer-Encoding": "chunked",
        "Authorization": f"Bearer {served.key}",
    }
    chunk = b"Rangpur,1204\r\n" * 4096
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", served.port), timeout=15) as sock:
        sock.sendall(_head("/api/validate", headers))
        part = b'--xyz\r\nContent-Disposition: form-data; name="data"; filename="d.csv"\r\n\r\n'
        sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sock.setblocking(False)
        answer = b""
        pending = frame
        while sent < 512 << 20:  # far past the limit (4 files x 1 MiB + 64 KiB)
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(4096)
            if answer:
                break
            try:
                n = sock.send(pending)
                sent += n
                pending = pending[n:] or frame  # a partial send goes on where it stopped
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        sock.settimeout(15)
        if not answer:
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 64 << 20  # cut near the limit, not after the whole stream
