"""Notifications delivered (#19): signed webhooks to a real HTTP receiver, retries with back-off
to a bound, the SSRF refusal at registration and at delivery, e-mails to a real SMTP server in
the recipient's language, the pull digest, and the JSON API of webhooks and the delivery log."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cgd_bridge.server.notify import Notifier
from cgd_bridge.settings import Settings
from cgd_bridge.store import outbox, submissions
from tests.support.receivers import smtp_server, webhook_receiver
from tests.support.server import free_port

from .conftest import KENYA, RawFile

pytestmark = pytest.mark.world_settings(notify_worker=False, webhook_allow_private=True)


def _notifier(world, **kw) -> Notifier:
    settings = Settings(
        data_dir=world.bridge.settings.data_dir,
        webhook_allow_private=kw.pop("allow", True),
        notify_backoff_seconds=0,
        notify_max_attempts=kw.pop("attempts", 3),
        notify_timeout_seconds=5,
        digest_hours=kw.pop("digest_hours", 0),
        public_url="https://bridge.example",
        **kw,
    )
    return Notifier(world.bridge.sessions, settings, structures=world.bridge.structures)


def _auth(world, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.keys[who]}"}


def _submit(world, kenya, dataset: str = "notify-test") -> int:
    with world.bridge.sessions() as s:
        v = submissions.create_version(
            s, kenya, principal=world.producer, dataset=dataset, submit=True,
            files=[RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv")],
        )  # fmt: skip
        return v.id


def _register(world, who: str, org: str, url: str, events=("*",)) -> dict:
    r = world.client.post(
        f"/api/organisations/{org}/webhooks",
        json={"url": url, "events": list(events)},
        headers=_auth(world, who),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_a_signed_delivery_that_fails_twice_is_retried_and_logged_once_as_delivered(world, kenya):
    with webhook_receiver(fail_first=2) as receiver:
        hook = _register(world, "kamau", "knbs", receiver.url, ["version.submitted"])
        receiver.secret = hook["secret"]
        assert hook["secret"].startswith("whsec_")
        # the secret is shown once: never in the list
        listed = world.client.get("/api/organisations/knbs/webhooks", headers=_auth(world, "kamau")).json()
        assert [h["secret"] for h in listed] == [None]
        _submit(world, kenya)
        notifier = _notifier(world)
        for _ in range(5):
            notifier.run_once()
        assert [r.status for r in receiver.requests] == [500, 500, 200]
        assert all(r.signature_ok for r in receiver.requests)
        ids = {r.headers["x-cgd-bridge-delivery"] for r in receiver.requests}
        assert len(ids) == 1  # the same idempotency id on every attempt
        body = json.loads(receiver.requests[-1].body)
        assert body["event"] == "version.submitted"
        assert body["id"] in ids
        assert body["data"]["version"]["dataset"] == "notify-test"
    log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
    assert [(d["state"], d["attempts"], d["last_error"]) for d in log] == [("delivered", 3, None)]
    # the CSO may not read the NSO's log, nor register its webhooks
    assert (
        world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "amina")).status_code
        == 403
    )


def test_two_workers_at_once_deliver_each_row_once(world, kenya):
    import threading

    with webhook_receiver(delay=0.05) as receiver:
        receiver.secret = _register(world, "kamau", "knbs", receiver.url)["secret"]
        for n in range(6):
            _submit(world, kenya, f"dataset-{n}")
        workers = [_notifier(world), _notifier(world)]
        threads = [
            threading.Thread(target=lambda w=w: [w.run_once(limit=1) for _ in range(10)]) for w in workers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ids = [r.headers["x-cgd-bridge-delivery"] for r in receiver.requests]
        assert len(ids) == len(set(ids)) == 6, ids  # each row once, none twice
    log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
    assert {d["state"] for d in log} == {"delivered"}
    assert len(log) == len(ids)


def test_a_receiver_down_forever_ends_as_failed_after_the_bound(world, kenya):
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    _register(world, "kamau", "knbs", dead)
    _submit(world, kenya)
    notifier = _notifier(world, attempts=4)
    for _ in range(8):
        notifier.run_once()
    log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
    assert [(d["state"], d["attempts"]) for d in log] == [("failed", 4)]
    assert "ConnectError" in log[0]["last_error"]


def test_loopback_urls_are_refused_at_delivery_too_unless_allowed(world, kenya):
    with webhook_receiver() as receiver:
        _register(world, "kamau", "knbs", receiver.url)
        _submit(world, kenya)
        _notifier(world, allow=False).run_once()  # the setting changed since registration
        assert receiver.requests == []
    log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
    assert [(d["state"], d["attempts"]) for d in log] == [("failed", 1)]
    assert "loopback" in log[0]["last_error"]


@pytest.mark.world_settings(notify_worker=False)
def test_loopback_and_private_urls_are_refused_at_registration(world):
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x",
                "http://169.254.169.254/latest/meta-data"):  # fmt: skip
        r = world.client.post(
            "/api/organisations/knbs/webhooks",
            json={"url": url, "events": ["*"]},
            headers=_auth(world, "kamau"),
        )
        assert r.status_code == 400, (url, r.text)
        assert "CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE" in r.json()["error"]["fix"]
    assert world.client.get("/api/organisations/knbs/webhooks", headers=_auth(world, "kamau")).json() == []


def test_emails_go_to_reviewers_and_the_submitter_in_their_language(world, kenya):
    r = world.client.put("/api/me/contact", json={"email": "amina@sauti.example", "language": "sw"},
                         headers=_auth(world, "amina"))  # fmt: skip
    assert r.json() == {"username": "amina", "email": "amina@sauti.example", "language": "sw"}
    world.client.put("/api/me/contact", json={"email": "kamau@knbs.example"}, headers=_auth(world, "kamau"))
    with smtp_server() as smtp:
        vid = _submit(world, kenya)
        with world.bridge.sessions() as s:
            submissions.reject(s, principal=world.reviewer, version_id=vid, comment="Kilifi totals are off.")
        _notifier(world, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none").run_once()
        (review,) = smtp.to("kamau@knbs.example")
        assert "notify-test" in review["Subject"]
        assert "needs your review" in review.get_content()
        assert f"https://bridge.example/versions/{vid}" in review.get_content()
        (rejected,) = smtp.to("amina@sauti.example")
        text = rejected.get_content()
        assert "Kilifi totals are off." in text
        from cgd_bridge import i18n

        sw = i18n.translator("sw")
        english = "The reviewer's reason: {reason}"
        assert sw.gettext(english) != english, "the Swahili catalogue should translate the reason line"
        assert sw.gettext(english, reason="Kilifi totals are off.") in text
        assert rejected["X-CGD-Bridge-Delivery"]
    log = world.client.get("/api/organisations/sauti/deliveries", headers=_auth(world, "amina")).json()
    assert [(d["channel"], d["state"]) for d in log] == [("email", "delivered")]


def test_without_an_smtp_server_emails_are_marked_failed_with_the_reason(world, kenya):
    world.client.put("/api/me/contact", json={"email": "kamau@knbs.example"}, headers=_auth(world, "kamau"))
    _submit(world, kenya)
    _notifier(world).run_once()
    log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
    assert [(d["state"], d["attempts"]) for d in log] == [("failed", 1)]
    assert "CGD_BRIDGE_SMTP_HOST" in log[0]["last_error"]


def test_the_pull_digest_tells_a_cso_in_words_who_pulled_its_data(world, kenya):
    from .conftest import publish

    with world.bridge.sessions() as s:
        publish(s, kenya, world.producer, world.reviewer, "digest-test")
    world.client.put("/api/me/contact", json={"email": "amina@sauti.example"}, headers=_auth(world, "amina"))
    r = world.client.put(
        "/api/organisations/sauti/pull-digest", json={"on": True}, headers=_auth(world, "amina")
    )
    assert r.json()["pull_digest"] is True
    assert world.get(world.series + "?startPeriod=2024&endPeriod=2024", "kamau") == 200
    assert world.get(world.series) == 200  # the public: not an MoU partner, not in the digest
    world.bridge.audit.flush()
    with smtp_server() as smtp:
        notifier = _notifier(
            world, smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none", digest_hours=1
        )
        with world.bridge.sessions() as s:  # the first digest covers the last hour
            assert outbox.enqueue_digests(s, every=dt.timedelta(hours=1)) == 1
            assert outbox.enqueue_digests(s, every=dt.timedelta(hours=1)) == 0  # not due again yet
        notifier.now = lambda: dt.datetime.now(dt.UTC)
        notifier.run_until_idle()
        (digest,) = smtp.to("amina@sauti.example")
        text = digest.get_content()
        assert "KNBS pulled" in text
        assert "2024" in text
        assert "Someone without an account" not in text
        assert "/sdmx/rest" not in text  # words, not query strings


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999/x", "https://", "http://exa mple.org/"])
def test_malformed_webhook_urls_are_clear_errors(url):
    from cgd_bridge.errors import UsageError
    from cgd_bridge.server.notify import check_url

    with pytest.raises(UsageError) as caught:
        check_url(url, allow_private=False)
    assert caught.value.fix


# aiosmtpd warns of AUTH without STARTTLS; with implicit TLS ("ssl") the connection is TLS anyway
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_emails_go_over_tls_with_a_login(world, kenya, tmp_path, monkeypatch, security):
    from tests.support.receivers import self_signed

    cert, key = self_signed(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's certificate
    world.client.put("/api/me/contact", json={"email": "kamau@knbs.example"}, headers=_auth(world, "kamau"))
    with smtp_server(
        cert=cert, key=key, implicit_tls=security == "ssl", login=("bridge", "s3cret-pass")
    ) as smtp:
        _submit(world, kenya)
        mail = {
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": security,
            "smtp_username": "bridge",
        }
        _notifier(world, smtp_password="wrong", **mail).run_once()  # refused: retried, not lost
        assert smtp.messages == []
        log = world.client.get("/api/organisations/knbs/deliveries", headers=_auth(world, "kamau")).json()
        assert [(d["state"], d["attempts"]) for d in log] == [("pending", 1)]
        assert "535" in log[0]["last_error"]
        _notifier(world, smtp_password="s3cret-pass", **mail).run_once()
        (message,) = smtp.to("kamau@knbs.example")
        assert "needs your review" in message.get_content()
