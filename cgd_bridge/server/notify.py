"""Delivering the outbox (#19): signed webhooks, e-mail over SMTP, the pull digests.

The store writes each notification into ``outbox`` inside the transaction of its event
(:mod:`cgd_bridge.store.outbox`); a :class:`Notifier` delivers them: a background thread in
every server process (``CGD_BRIDGE_NOTIFY_WORKER``, on by default) and ``cgd-bridge notify
run`` for cron. Workers claim rows with a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so several processes and hosts deliver each row once; a worker killed between
sending and recording lets its lease run out and the row is sent again (at least once: the
``X-CGD-Bridge-Delivery`` id lets a receiver drop a repeat).

**Webhooks.** ``POST`` of a JSON body ``{"id", "event", "created_at", "data"}`` with the headers
``X-CGD-Bridge-Event``, ``X-CGD-Bridge-Delivery`` (the idempotency id), ``X-CGD-Bridge-Timestamp``
(Unix seconds) and ``X-CGD-Bridge-Signature: v1=<hex>``, the HMAC-SHA256 with the webhook's
secret of ``"{timestamp}." + body`` (:func:`signature`; docs/notifications.md shows a receiver's
check). A 2xx answer is a delivery; anything else (or no answer within
``notify_timeout_seconds``) is retried with exponential back-off and jitter, at most
``notify_max_attempts`` times. Redirects are not followed.

**Server-side request forgery.** A webhook URL whose host resolves to a loopback, private,
link-local, multicast, reserved or unspecified address is refused, at registration and again
at every delivery (the name may resolve elsewhere by then), unless
``CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE=true`` (for an NSO whose receiver is on its own network,
and the tests).

**E-mail.** Plain-text messages rendered from ``server/mail/*.txt`` (Jinja) in the recipient's
language (:mod:`cgd_bridge.i18n`), sent over SMTP (``CGD_BRIDGE_SMTP_*``: STARTTLS, TLS or
plain, with or without a login). Without ``CGD_BRIDGE_SMTP_HOST`` e-mails are marked failed
("no SMTP server is configured") rather than kept forever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge import __version__, i18n
from cgd_bridge.errors import UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.settings import Settings
from cgd_bridge.store import outbox
from cgd_bridge.store.models import Channel, OutboxItem, Webhook, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-CGD-Bridge-Signature"
TIMESTAMP_HEADER = "X-CGD-Bridge-Timestamp"
DELIVERY_HEADER = "X-CGD-Bridge-Delivery"
EVENT_HEADER = "X-CGD-Bridge-Event"
LEASE_MARGIN = 30.0


# ---------------------------------------------------------------- signatures and addresses


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` and the hex HMAC-SHA256 of ``"{timestamp}." + body`` keyed by the secret."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, header: str, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is within ``tolerance``
    seconds of ``now`` (a replayed old delivery is refused)."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), header)


def _refused_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a reserved address"
    return None


def check_url(url: str, *, allow_private: bool) -> list[str]:
    """The addresses ``url``'s host resolves to, or UsageError when one of them is refused
    (module docstring) or the host does not resolve."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise UsageError(
            N_("'{url}' is not an http(s) URL"),
            field="url",
            fix=N_("Give https://HOST/PATH."),
            params={"url": url[:100]},
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError) as exc:
        raise UsageError(
            N_("the webhook host '{host}' does not resolve ({exc})"),
            field="url",
            fix=N_("Check the URL's host name."),
            params={"host": host, "exc": exc},
        ) from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not allow_private:
        for a in addresses:
            kind = _refused_kind(ipaddress.ip_address(a.split("%")[0]))
            if kind:
                raise UsageError(
                    N_(
                        "the webhook host '{host}' resolves to {a}, {kind}: the bridge does not call "
                        "addresses inside its own network"
                    ),
                    field="url",
                    fix=N_(
                        "Give a public address, or (for a receiver on the bridge's own network) set "
                        "CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE=true."
                    ),
                    params={"host": host, "a": a, "kind": kind},
                )
    return addresses


# ---------------------------------------------------------------- e-mail


def _mail_env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("cgd_bridge.server", "mail"),
        autoescape=False,  # noqa: S701 - plain-text e-mail, never HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENV: Any = None


@dataclass(frozen=True)
class Mail:
    """A rendered e-mail."""

    subject: str
    body: str


def render_mail(item: OutboxItem, *, public_url: str, structures: Any = None) -> Mail:
    """The e-mail of an outbox row in its recipient's language."""
    global _ENV
    if _ENV is None:
        _ENV = _mail_env()
    t = i18n.translator(item.language or i18n.DEFAULT)
    p = item.payload
    base = public_url.rstrip("/")
    context: dict[str, Any] = {"_": t.gettext, "t": t, "base": base, "p": p}
    if item.event == outbox.DIGEST_EVENT:
        context["lines"] = _digest_lines(p, t, structures)
        template = "digest.txt"
        subject = t.gettext("Who pulled your data: {n} request(s)", n=t.number(len(context["lines"])))
    else:
        v = p["version"]
        names = {"number": v["number"], "dataset": v["dataset"], "producer": v["producer_name"]}
        subject = {
            "version.submitted": t.gettext(
                "To review: version {number} of {dataset} from {producer}", **names
            ),
            "version.accepted": t.gettext("Accepted: version {number} of {dataset}", **names),
            "version.rejected": t.gettext("Not accepted: version {number} of {dataset}", **names),
            "version.published": t.gettext("Published: version {number} of {dataset}", **names),
            "version.withdrawn": t.gettext("Withdrawn: version {number} of {dataset}", **names),
        }[item.event]
        template = item.event.split(".")[1] + ".txt"
        context["v"] = v
    body = _ENV.get_template(template).render(**context)
    return Mail(subject, body)


def _digest_lines(p: dict[str, Any], t: i18n.Translator, structures: Any) -> list[str]:
    from cgd_bridge.server.web.pulls import describe_all
    from cgd_bridge.store.audit import Pull

    pulls = [
        Pull(
            at=dt.datetime.fromisoformat(x["at"]),
            username=x["username"],
            organisation=x["organisation"],
            action=x["action"],
            dataflow=x["dataflow"],
            dataset=x["dataset"],
            version=x["version"],
            query=x["query"],
            observations=x["observations"],
            client=None,
            file=x.get("file"),
            organisation_name=x.get("organisation_name"),
            organisation_kind=x.get("organisation_kind"),
        )
        for x in p["pulls"]
    ]
    described = describe_all(pulls, SimpleNamespace(structures=structures, extra={}), t.gettext)
    return [f"{t.date(d.pull.at)} UTC: {d.words}" for d in reversed(described)]


def send_mail(settings: Settings, to: str, mail: Mail, uid: str) -> None:
    """Send one e-mail over the configured SMTP server (raises OSError/SMTPException)."""
    email = EmailMessage()  # not 'msg': that name is a catalogue keyword (i18n_tools)
    email["From"] = settings.mail_from
    email["To"] = to
    email["Subject"] = mail.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=uid.replace("-", ""), domain="cgd-bridge")
    email["X-CGD-Bridge-Delivery"] = uid
    email.set_content(mail.body)
    host = settings.smtp_host or ""
    security = settings.smtp_security
    port = settings.smtp_port or {"ssl": 465, "starttls": 587}.get(security, 25)
    timeout = settings.notify_timeout_seconds
    context = ssl.create_default_context()
    smtp: smtplib.SMTP = (
        smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        if security == "ssl"
        else smtplib.SMTP(host, port, timeout=timeout)
    )
    with smtp:
        if security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(email)


# ---------------------------------------------------------------- the worker


@dataclass
class Counts:
    """What one :meth:`Notifier.run_once` did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


class Notifier:
    """Delivers due outbox rows: :meth:`run_once` (cron, tests) or :meth:`start` (a thread)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        structures: Any = None,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.structures = structures
        self.now = now
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_digest = 0.0
        self._last_prune = 0.0

    # one pass

    def run_once(self, limit: int = 50) -> Counts:
        counts = Counts()
        s = self.settings
        with self.sessions() as session:
            if s.digest_hours > 0 and time.monotonic() - self._last_digest >= 60:
                self._last_digest = time.monotonic()
                counts.digests = outbox.enqueue_digests(
                    session, now=self.now(), every=dt.timedelta(hours=s.digest_hours)
                )
            if s.notify_keep_days > 0 and time.monotonic() - self._last_prune >= 3600:
                self._last_prune = time.monotonic()
                outbox.prune(session, before=self.now() - dt.timedelta(days=s.notify_keep_days))
            lease = dt.timedelta(seconds=s.notify_timeout_seconds * 2 + LEASE_MARGIN)
            items = outbox.claim(session, now=self.now(), lease=lease, limit=limit)
            for item in items:
                ok, error, status, final = self._deliver(item)
                state = outbox.finish(
                    session, item, ok=ok, now=self.now(), max_attempts=s.notify_max_attempts,
                    base_delay=s.notify_backoff_seconds, error=error, status=status, final=final,
                )  # fmt: skip
                if state == "delivered":
                    counts.delivered += 1
                elif state == "failed":
                    counts.failed += 1
                else:
                    counts.retrying += 1
                if error:
                    counts.errors.append(f"{item.event} {item.uid}: {error}")
        return counts

    def run_until_idle(self, timeout: float = 30.0) -> Counts:
        """Deliver until nothing is due (retries waiting for their time are left); for cron."""
        total = Counts()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            c = self.run_once()
            total.delivered += c.delivered
            total.retrying += c.retrying
            total.failed += c.failed
            total.digests += c.digests
            total.errors += c.errors
            if c.attempted == 0:
                break
        return total

    def _deliver(self, item: OutboxItem) -> tuple[bool, str | None, int | None, bool]:
        """(delivered, error, HTTP status, final: no retry can mend it)."""
        try:
            if item.channel == Channel.WEBHOOK:
                return self._post(item)
            return self._mail(item)
        except Exception as exc:  # noqa: BLE001 - a delivery's failure is recorded, never raised
            log.warning("notification %s failed: %s", item.uid, exc)
            return False, f"{type(exc).__name__}: {exc}", None, False

    def _post(self, item: OutboxItem) -> tuple[bool, str | None, int | None, bool]:
        hook: Webhook | None = item.webhook
        if hook is None or hook.revoked_at is not None:
            return False, "the webhook was removed", None, True
        try:
            check_url(hook.url, allow_private=self.settings.webhook_allow_private)
        except UsageError as exc:
            return False, exc.problem, None, True
        body = json.dumps(
            {
                "id": item.uid,
                "event": item.event,
                "created_at": item.created_at.isoformat(),
                "data": item.payload,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"cgd-bridge/{__version__}",
            EVENT_HEADER: item.event,
            DELIVERY_HEADER: item.uid,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(hook.secret, stamp, body),
        }
        try:
            r = httpx.post(
                hook.url,
                content=body,
                headers=headers,
                timeout=self.settings.notify_timeout_seconds,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}" or type(exc).__name__, None, False
        if 200 <= r.status_code < 300:
            return True, None, r.status_code, False
        return False, f"HTTP {r.status_code}: {r.text[:200]}", r.status_code, False

    def _mail(self, item: OutboxItem) -> tuple[bool, str | None, int | None, bool]:
        if not self.settings.smtp_host:
            return False, "no SMTP server is configured (CGD_BRIDGE_SMTP_HOST)", None, True
        assert item.recipient is not None
        mail = render_mail(item, public_url=self.settings.public_url, structures=self.structures)
        send_mail(self.settings, item.recipient, mail, item.uid)
        return True, None, None, False

    # the thread

    def start(self) -> None:
        """Deliver in a daemon thread every ``notify_interval_seconds`` (or sooner, on :meth:`wake`)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="cgd-bridge-notify", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due rows now (after an event was committed)."""
        self._wake.set()

    def wake_on_commit(self) -> None:
        """Wake the worker when a session of :attr:`sessions` commits outbox rows, so what a
        request caused goes out at once rather than at the next interval."""
        from sqlalchemy import event

        def flushed(session: Session, _context: Any, _instances: Any) -> None:
            if any(isinstance(o, OutboxItem) for o in session.new):
                session.info["cgd_outbox"] = True

        def committed(session: Session) -> None:
            if session.info.pop("cgd_outbox", False):
                self.wake()

        event.listen(self.sessions, "before_flush", flushed)
        event.listen(self.sessions, "after_commit", committed)

    def _loop(self) -> None:
        from cgd_bridge.store.db import unavailable

        while not self._stop.is_set():
            try:
                c = self.run_once()
                busy = c.attempted > 0
            except Exception as exc:  # a database hiccup must not end the worker
                problem = unavailable(exc)
                if problem is not None:  # one line, not a traceback every interval
                    log.warning("the notification worker will try again: %s", problem.internal)
                else:
                    log.exception("the notification worker could not run")
                busy = False
            if not busy:
                self._wake.wait(self.settings.notify_interval_seconds)
                self._wake.clear()

    def close(self, timeout: float = 15.0) -> None:
        """Stop the thread (after the delivery under way)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            with contextlib.suppress(RuntimeError):
                self._thread.join(timeout)
            self._thread = None
