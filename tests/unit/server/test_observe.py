"""Metrics, request ids and JSON log lines in one process (#19; ``server/metrics.py``,
``server/observe.py``). The multi-worker server, its scrape and its stderr lines are in
``tests/e2e/test_ops_live.py``."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from cgd_bridge.server import metrics
from cgd_bridge.server.app import create_app
from cgd_bridge.server.observe import REQUEST_ID, JsonFormatter, log_config, request_id_of
from cgd_bridge.settings import Settings
from tests.unit.server.conftest import World, publish

TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels (the text format, parsed)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def value(s: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return s.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def app_client(tmp_path: Path) -> TestClient:
    settings = Settings(data_dir=tmp_path, rate_limit_per_minute=0, metrics_token=TOKEN)
    app = create_app(settings, database_url=f"sqlite:///{tmp_path / 'b.sqlite'}")
    with TestClient(app) as client:
        yield client


# -- who may read /metrics --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "allow", "token", "header", "ok"),
    [
        ("127.0.0.1", "127.0.0.1,::1", None, None, True),
        ("::1", "127.0.0.1,::1", None, None, True),
        ("::ffff:127.0.0.1", "127.0.0.1", None, None, True),
        ("10.1.2.3", "127.0.0.1,::1", None, None, False),
        ("10.1.2.3", "10.0.0.0/8", None, None, True),
        ("10.1.2.3", "", None, None, False),
        ("203.0.113.9", "", TOKEN, f"Bearer {TOKEN}", True),
        ("203.0.113.9", "", TOKEN, f"bearer {TOKEN}", True),
        ("203.0.113.9", "", TOKEN, "Bearer wrong", False),
        ("203.0.113.9", "", None, "Bearer ", False),  # no token configured: no empty token either
        ("testclient", "0.0.0.0/0", None, None, False),  # not an address
        (None, "0.0.0.0/0", None, None, False),
    ],
)
def test_who_may_read_the_metrics(
    client: str | None, allow: str, token: str | None, header: str | None, ok: bool
) -> None:
    assert metrics.allowed(client, header, allow=allow, token=token) is ok


def test_metrics_are_closed_by_default_and_off_the_api_docs(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.metrics_allow == "127.0.0.1,::1"
    assert settings.metrics_token is None
    app = create_app(settings, database_url=f"sqlite:///{tmp_path / 'b.sqlite'}")
    with TestClient(app, client=("198.51.100.7", 4000)) as outside:
        r = outside.get("/metrics")
        assert r.status_code == 403
        assert "CGD_BRIDGE_METRICS_ALLOW" in r.json()["error"]["fix"]
        assert "/metrics" not in outside.get("/openapi.json").json()["paths"]
    with TestClient(app, client=("127.0.0.1", 4000)) as local:
        assert local.get("/metrics").status_code == 200


def test_metrics_settings_are_checked() -> None:
    assert Settings(metrics_allow="none").metrics_allow == ""
    assert Settings(metrics_allow=" 10.0.0.0/8 , ::1").metrics_allow == "10.0.0.0/8 , ::1"
    with pytest.raises(ValidationError, match="not an address or network"):
        Settings(metrics_allow="10.0.0.0/8,intranet")
    with pytest.raises(ValidationError):
        Settings(log_format="xml")  # type: ignore[arg-type]


# -- what is counted --------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_never_the_raw_path(app_client: TestClient) -> None:
    before = scrape(app_client)
    for i in range(25):
        app_client.get(f"/sdmx/rest/data/CGD_BRIDGE,NO_FLOW_{i},1.0/all")
        app_client.get(f"/no/such/page/{i}")
    app_client.head("/sdmx/rest/data/CGD_BRIDGE,NO_FLOW,1.0/all/")  # HEAD and a trailing slash
    after = scrape(app_client)
    routes = {
        dict(labels).get("route") for (name, labels) in after if name == "cgd_bridge_http_requests_total"
    }
    assert not any("NO_FLOW" in str(r) or "/no/such" in str(r) for r in routes)
    data = "/sdmx/rest/data/{flow}/{key}"
    got = value(after, "cgd_bridge_http_requests_total", method="GET", route=data, status="404")
    assert got - value(before, "cgd_bridge_http_requests_total", method="GET", route=data, status="404") == 25
    head = value(after, "cgd_bridge_http_requests_total", method="HEAD", route=data, status="404")
    assert (
        head - value(before, "cgd_bridge_http_requests_total", method="HEAD", route=data, status="404") == 1
    )
    unmatched = value(
        after, "cgd_bridge_http_requests_total", method="GET", route="(unmatched)", status="404"
    )
    assert (
        unmatched
        - value(before, "cgd_bridge_http_requests_total", method="GET", route="(unmatched)", status="404")
        == 25
    )
    count = value(after, "cgd_bridge_http_request_duration_seconds_count", method="GET", route=data)
    assert (
        count - value(before, "cgd_bridge_http_request_duration_seconds_count", method="GET", route=data)
        == 25
    )


@pytest.mark.world_settings(metrics_token=TOKEN)
def test_pulls_and_submissions_are_counted(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "kenya")
    before = scrape(world.client)
    flow = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
    for _ in range(3):
        assert world.client.get(flow, params={"format": "csv"}).status_code == 200
    key = {"Authorization": f"Bearer {world.keys['kamau']}"}
    for _ in range(2):
        assert world.client.get(flow, params={"format": "jsondata"}, headers=key).status_code == 200
    after = scrape(world.client)

    def delta(fmt: str, auth: str) -> float:
        return value(after, "cgd_bridge_pulls_total", format=fmt, auth=auth) - value(
            before, "cgd_bridge_pulls_total", format=fmt, auth=auth
        )

    assert delta("sdmx-csv-1.0", "anonymous") == 3
    json_formats = {dict(labels)["format"] for (name, labels) in after if name == "cgd_bridge_pulls_total"}
    json_name = next(f for f in json_formats if f.startswith("sdmx-json"))
    assert delta(json_name, "key") == 2
    assert value(after, "cgd_bridge_audit_queue_depth") >= 0


# -- request ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123", True),
        ("7f3c2a9e-1b4d-4c8e-9f0a-2d6b5e8c1a3f", True),
        ("trace:42.a_b", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("<script>", False),
        ("", False),
    ],
)
def test_an_incoming_request_id_is_kept_only_when_plain(sent: str, kept: bool) -> None:
    got = request_id_of([(b"x-request-id", sent.encode())])
    assert (got == sent) is kept
    assert REQUEST_ID.match(got)


def test_the_request_id_is_in_the_answer_and_in_error_bodies(app_client: TestClient) -> None:
    r = app_client.get("/api/submissions/999999", headers={"X-Request-ID": "cso-quote-1"})
    assert r.headers["x-request-id"] == "cso-quote-1"
    assert r.json()["error"]["request_id"] == "cso-quote-1"
    made = app_client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32
    assert made != app_client.get("/healthz").headers["x-request-id"]
    page = app_client.get("/no-such-page", headers={"X-Request-ID": "cso-quote-2", "Accept": "text/html"})
    assert page.status_code == 404
    assert "cso-quote-2" in page.text
    sdmx = app_client.get("/sdmx/rest/data/CGD_BRIDGE,NOPE,1.0/all", headers={"X-Request-ID": "cso-quote-3"})
    assert sdmx.headers["x-request-id"] == "cso-quote-3"


def test_json_log_lines(app_client: TestClient) -> None:
    assert log_config("text") is None
    config = log_config("json")
    assert config is not None
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    record = logging.LogRecord("cgd_bridge.access", logging.INFO, __file__, 1, "GET %s %s", ("/x", 200), None)
    record.fields = {"request_id": "r1", "status": 200, "route": "/x"}  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "info"
    assert line["message"] == "GET /x 200"
    assert line["request_id"] == "r1"
    assert line["time"].endswith("+00:00")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        failed = logging.LogRecord("cgd_bridge", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "ValueError: boom" in json.loads(JsonFormatter().format(failed))["exception"]


@pytest.mark.world_settings(metrics_token=TOKEN)
def test_submissions_are_counted_by_outcome(world: World) -> None:
    from tests.support.paths import ROOT

    kenya = ROOT / "examples" / "kenya-health-scorecard"
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}

    def upload(mapping: Path, data: bytes | None = None) -> int:
        files = {
            "data": ("data.csv", data if data is not None else (kenya / "data.csv").read_bytes(), "text/csv"),
            "metadata": ("quality.yaml", (kenya / "quality.yaml").read_bytes(), "application/yaml"),
            "mapping": ("mapping.yaml", mapping.read_bytes(), "application/yaml"),
        }
        return world.client.post("/api/submissions", headers=amina, files=files).status_code

    before = scrape(world.client)
    assert upload(ROOT / "mappings" / "kenya-health-scorecard.yaml") == 201
    assert upload(ROOT / "examples" / "broken" / "code-not-allowed" / "mapping.yaml") == 422
    assert (
        upload(ROOT / "mappings" / "kenya-health-scorecard.yaml", data=b"\x00\x01\x02 not a table" * 50)
        == 400
    )
    after = scrape(world.client)
    for outcome in ("stored", "invalid", "refused"):
        got = value(after, "cgd_bridge_submissions_total", outcome=outcome)
        assert got - value(before, "cgd_bridge_submissions_total", outcome=outcome) == 1, outcome
    assert value(after, "cgd_bridge_jobs_busy") == 0
    assert value(after, "cgd_bridge_jobs_queued") == 0


def test_the_audit_queue_depth_follows_the_writer(tmp_path: Path) -> None:
    """Rows queued while the writer cannot commit raise the gauge; committed, it falls back."""
    from cgd_bridge.server.audit_writer import AuditWriter
    from cgd_bridge.store.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    writer = AuditWriter(engine, interval=5.0)  # rows gather for 5 s unless flushed
    try:
        start = metrics.get().audit_queue._value.get()
        for _ in range(3):
            writer.pull(None, [], "/sdmx/rest/data/X")
        assert metrics.get().audit_queue._value.get() - start == 3
        assert writer.flush(10)
        assert metrics.get().audit_queue._value.get() == start
    finally:
        writer.close()
        engine.dispose()


def test_a_killed_workers_gauges_are_forgotten_and_its_counts_kept(tmp_path: Path) -> None:
    """Several workers write to one folder; a worker killed outright cannot remove its live
    gauges, so a scrape does: its queue is no one's now. Its counters stay (they happened)."""
    import subprocess
    import sys

    from prometheus_client import CollectorRegistry, multiprocess

    worker = (
        "import os\n"
        "from cgd_bridge.server import metrics\n"
        "metrics.audit_queued(5)\n"
        "metrics.pulled('sdmx-csv-1.0', 'anonymous')\n"
        "os._exit(0)\n"  # killed: no clean-up
    )
    env = {**os.environ, metrics.MULTIPROC_ENV: str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)

    def read() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
        from prometheus_client import generate_latest

        return samples(generate_latest(registry).decode())

    assert value(read(), "cgd_bridge_audit_queue_depth") == 10
    assert len(metrics.forget_dead_workers(str(tmp_path))) == 2
    after = read()
    assert value(after, "cgd_bridge_audit_queue_depth") == 0
    assert value(after, "cgd_bridge_pulls_total", format="sdmx-csv-1.0", auth="anonymous") == 2


def test_a_server_error_keeps_its_request_id_in_the_answer_the_log_and_the_metrics(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path, metrics_token=TOKEN)
    app = create_app(settings, database_url=f"sqlite:///{tmp_path / 'b.sqlite'}")

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        before = scrape(client)
        with caplog.at_level(logging.ERROR, logger="cgd_bridge.server"):
            r = client.get("/api/boom", headers={"X-Request-ID": "bug-report-7"})
        after = scrape(client)
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "bug-report-7"
    assert r.json()["error"]["request_id"] == "bug-report-7"
    (record,) = [rec for rec in caplog.records if rec.name == "cgd_bridge.server"]
    assert record.request_id == "bug-report-7"  # type: ignore[attr-defined]
    assert "RuntimeError: a bug" in json.loads(JsonFormatter().format(record))["exception"]
    labels = {"method": "GET", "route": "/api/boom", "status": "500"}
    assert (
        value(after, "cgd_bridge_http_requests_total", **labels)
        - value(before, "cgd_bridge_http_requests_total", **labels)
        == 1
    )
