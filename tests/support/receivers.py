"""Real receivers for the notification tests (#19): an HTTP webhook receiver (``http.server`` in
a thread) that checks signatures the way docs/notifications.md tells receivers to, and an SMTP
server (aiosmtpd) that keeps the messages it gets. Both listen on 127.0.0.1 on a free port."""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any


@dataclass
class Received:
    """One webhook request as the receiver saw it."""

    headers: dict[str, str]
    body: bytes
    status: int
    signature_ok: bool


@dataclass
class WebhookReceiver:
    """Answers 500 to the first ``fail_first`` requests, then 200; checks each signature."""

    url: str
    secret: str = ""
    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]


def verify_signature(secret: str, headers: dict[str, str], body: bytes, tolerance: float = 300) -> bool:
    """The receiver's check, as docs/notifications.md gives it."""
    timestamp = headers.get("x-cgd-bridge-timestamp", "")
    sent = headers.get("x-cgd-bridge-signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sent)


@contextlib.contextmanager
def webhook_receiver(fail_first: int = 0, delay: float = 0.0) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(url="", fail_first=fail_first)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(delay)  # a slow receiver: workers' deliveries overlap
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                status = 500 if len(receiver.requests) < receiver.fail_first else 200
                ok = verify_signature(receiver.secret, headers, body)
                receiver.requests.append(Received(headers, body, status, ok))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no")

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpSink:
    """The messages a real SMTP server (aiosmtpd) received."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def self_signed(folder: Any) -> tuple[Any, Any]:
    """A certificate for 127.0.0.1 and its key (openssl), for the TLS mail server."""
    import subprocess

    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def smtp_server(
    *, cert: Any = None, key: Any = None, implicit_tls: bool = False, login: tuple[str, str] | None = None
) -> Iterator[SmtpSink]:
    """An SMTP server; with ``cert``/``key`` it offers STARTTLS (or, ``implicit_tls``, speaks TLS
    from the start); with ``login`` it wants that user and password (over TLS only)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.support.server import free_port

    port = free_port()
    sink = SmtpSink("127.0.0.1", port)
    kwargs: dict[str, Any] = {}
    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        kwargs["ssl_context" if implicit_tls else "tls_context"] = context
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> AuthResult:
            ok = (auth.login.decode(), auth.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        # aiosmtpd counts only STARTTLS as TLS; an implicit-TLS connection is encrypted throughout
        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=not implicit_tls)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            sink.messages.append(msg)
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")
