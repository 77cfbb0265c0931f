"""`cgd-bridge admin webhook`, `admin user contact`, `admin org digest` through the real command."""

from __future__ import annotations

import os
import subprocess
import sys

from cgd_bridge.store import orgs
from cgd_bridge.store.db import make_engine, make_sessionmaker, upgrade


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip


def test_webhooks_and_contacts_from_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'cgd.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        orgs.create_organisation(s, slug="knbs", name="KNBS", kind="nso")
        orgs.create_organisation(s, slug="sauti", name="Sauti", kind="cso")
        orgs.create_user(s, username="kamau", organisation="knbs", role="reviewer")
    engine.dispose()
    db = ("--database-url", url)
    refused = run("admin", "webhook", "create", "knbs", "--url", "http://127.0.0.1:9/hook", *db)
    assert refused.returncode == 2
    assert "loopback" in refused.stderr
    assert "CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE" in refused.stderr
    assert "Traceback" not in refused.stderr
    made = run("admin", "webhook", "create", "knbs", "--url", "http://127.0.0.1:9/hook", "--event",
               "version.published", *db, CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE="true")  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("whsec_")
    assert "only time" in made.stderr
    listed = run("admin", "webhook", "list", "knbs", *db)
    assert "version.published" in listed.stdout
    assert secret not in listed.stdout
    bad = run("admin", "webhook", "create", "knbs", "--url", "https://x.example", "--event", "nope", *db)
    assert (bad.returncode, "not an event" in bad.stderr) == (2, True)
    assert run("admin", "webhook", "remove", "knbs", "1", *db).returncode == 0
    assert "version.published" not in run("admin", "webhook", "list", "knbs", *db).stdout
    contact = run(
        "admin", "user", "contact", "kamau", "--email", "kamau@knbs.example", "--language", "sw", *db
    )
    assert contact.returncode == 0, contact.stderr
    assert "kamau@knbs.example in sw" in contact.stdout
    assert run("admin", "org", "digest", "knbs", "--on", *db).returncode == 2  # an NSO: not pulled from
    assert run("admin", "org", "digest", "sauti", "--on", *db).returncode == 0
    idle = run("notify", "run", *db)
    assert idle.returncode == 0, idle.stderr
    assert "Delivered 0" in idle.stdout
