"""Notifications end to end (#19): `cgd-bridge serve` on SQLite and PostgreSQL, a real SMTP server
(aiosmtpd) and a real webhook receiver (http.server) on 127.0.0.1. Submit -> accept -> publish
over HTTP produces the e-mails (content, language) and signed webhook deliveries (verified by
the receiver); the Atom feed shows the publication; `cgd-bridge notify run` delivers from cron
when the server's worker is off; the CLI shows the delivery log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from tests.support.postgres import fresh_schema
from tests.support.receivers import SmtpSink, smtp_server, wait_for, webhook_receiver
from tests.support.server import LiveServer, live_server

from .test_server_workflow import files


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *args], capture_output=True, text=True, timeout=120
    )


def _env(smtp: SmtpSink, worker: bool) -> dict[str, str]:
    return {
        "CGD_BRIDGE_NOTIFY_WORKER": "true" if worker else "false",
        # a long interval: deliveries arrive at once only because a commit wakes the worker
        "CGD_BRIDGE_NOTIFY_INTERVAL_SECONDS": "120",
        "CGD_BRIDGE_NOTIFY_BACKOFF_SECONDS": "0",
        "CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE": "true",
        "CGD_BRIDGE_SMTP_HOST": smtp.host,
        "CGD_BRIDGE_SMTP_PORT": str(smtp.port),
        "CGD_BRIDGE_SMTP_SECURITY": "none",
        "CGD_BRIDGE_MAIL_FROM": "cgd-bridge <noreply@bridge.example>",
        "CGD_BRIDGE_PUBLIC_URL": "https://bridge.example",
        "CGD_BRIDGE_DIGEST_HOURS": "0",
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.sqlite'}"
        return
    with fresh_schema("cgdb_notify") as url:
        yield url


def _auth(live: LiveServer, who: str) -> dict[str, str]:
    return live.headers(who)


def _flow(live: LiveServer, client: httpx.Client, hooks: dict[str, Any]) -> int:
    for who, email, lang in (("amina", "amina@sauti.example", "sw"), ("kamau", "kamau@knbs.example", "en")):
        r = client.put("/api/me/contact", json={"email": email, "language": lang}, headers=_auth(live, who))
        assert r.status_code == 200, r.text
    for who, org, receiver in (("kamau", "knbs", hooks["knbs"]), ("amina", "sauti", hooks["sauti"])):
        r = client.post(
            f"/api/organisations/{org}/webhooks",
            json={"url": receiver.url, "events": ["*"]},
            headers=_auth(live, who),
        )
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
    r = client.post(
        "/api/submissions",
        files=files(),
        headers=_auth(live, "amina"),
        data={"submit": "true", "revision_note": "Kilifi tallies reconciled."},
    )
    assert r.status_code == 201, r.text
    vid = int(r.json()["id"])
    kamau = _auth(live, "kamau")
    assert (
        client.post(f"/api/versions/{vid}/accept", headers=kamau, json={"comment": "Consistent."}).status_code
        == 200
    )
    assert client.post(f"/api/versions/{vid}/publish", headers=kamau).status_code == 200
    return vid


def _check(live: LiveServer, client: httpx.Client, smtp: SmtpSink, hooks: dict[str, Any], vid: int) -> None:
    flow = ["version.submitted", "version.accepted", "version.published"]
    for receiver in hooks.values():
        assert all(r.signature_ok for r in receiver.requests), "every delivery is signed with the secret"
        events = [json.loads(r.body)["event"] for r in receiver.delivered()]
        assert sorted(events) == sorted(flow)
        bodies = [json.loads(r.body) for r in receiver.delivered()]
        assert {b["data"]["version"]["id"] for b in bodies} == {vid}
        assert len({r.headers["x-cgd-bridge-delivery"] for r in receiver.delivered()}) == 3
    (review,) = smtp.to("kamau@knbs.example")
    assert "ke-health-scorecard-2024" in review["Subject"]
    assert f"https://bridge.example/versions/{vid}" in review.get_content()
    assert review["From"] == "cgd-bridge <noreply@bridge.example>"
    to_amina = smtp.to("amina@sauti.example")
    assert len(to_amina) == 2  # accepted, published; in Swahili
    from cgd_bridge import i18n

    sw = i18n.translator("sw")
    subjects = {m["Subject"] for m in to_amina}
    for english in ("Accepted: version {number} of {dataset}", "Published: version {number} of {dataset}"):
        assert sw.gettext(english) != english
        assert sw.gettext(english, number=2, dataset="ke-health-scorecard-2024") in subjects
    log = client.get("/api/organisations/knbs/deliveries", headers=_auth(live, "kamau")).json()
    assert {(d["channel"], d["state"]) for d in log} == {("webhook", "delivered"), ("email", "delivered")}
    assert len(log) == 4  # 3 webhook deliveries, 1 e-mail
    # the public Atom feed shows the publication (the example's licence is open)
    feed = feedparser.parse(client.get("/feeds/CGD_BRIDGE/DF_CGD_KE/1.0.atom").content)
    assert not feed.bozo
    assert any(f"/versions/{vid}" in e.link and e.title.startswith("Published") for e in feed.entries)


def test_the_workflow_sends_signed_webhooks_and_emails_through_the_real_server(
    database: str, tmp_path: Path
) -> None:
    with (
        smtp_server() as smtp,
        webhook_receiver() as knbs,
        webhook_receiver(fail_first=1) as sauti,
        live_server(database, tmp_path, env=_env(smtp, worker=True)) as live,
        httpx.Client(base_url=live.url, timeout=120) as client,
    ):
        hooks = {"knbs": knbs, "sauti": sauti}
        vid = _flow(live, client, hooks)
        wait_for(
            lambda: len(knbs.delivered()) == 3 and len(sauti.delivered()) == 3, what="the webhook deliveries"
        )
        wait_for(lambda: len(smtp.messages) == 3, what="the three e-mails")
        _check(live, client, smtp, hooks, vid)
        assert len(sauti.requests) == 4  # its first delivery failed once and was retried
        p = cli("admin", "webhook", "deliveries", "sauti", "--database-url", database)
        assert p.returncode == 0, p.stderr
        assert "delivered" in p.stdout
        assert "version.published" in p.stdout


def test_notify_run_delivers_from_cron_when_the_server_worker_is_off(database: str, tmp_path: Path) -> None:
    with (
        smtp_server() as smtp,
        webhook_receiver() as knbs,
        webhook_receiver() as sauti,
        live_server(database, tmp_path, env=_env(smtp, worker=False)) as live,
        httpx.Client(base_url=live.url, timeout=120) as client,
    ):
        hooks = {"knbs": knbs, "sauti": sauti}
        vid = _flow(live, client, hooks)
        assert knbs.requests == []  # nothing is sent by the request itself
        assert smtp.messages == []
        env = {**os.environ, **_env(smtp, worker=False), "CGD_BRIDGE_DATA_DIR": str(tmp_path)}
        p = subprocess.run(
            [sys.executable, "-m", "cgd_bridge", "notify", "run", "--database-url", database],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert "Delivered 9" in p.stdout, p.stdout  # 3 + 3 webhooks, 3 e-mails
        _check(live, client, smtp, hooks, vid)
