"""Operations against a real ``cgd-bridge serve --workers 2 --log-format json`` (#19).

Clients pull in parallel (new connections, so both workers serve), then ``/metrics`` is scraped
several times (each scrape answered by whichever worker accepts it) and parsed with
``prometheus_client.parser``: every scrape must give the sums of both workers, equal to what the
test did. The server's stderr must hold one JSON line per request with its request id, route
template, status, duration and client, the request id the client sent, and never the API key
sent in the query string. SQLite only: nothing here depends on the database (the store's own
behaviour under several workers is tested on both in tests/e2e/test_server_*.py).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import LiveServer, live_server

FLOW = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
TOKEN = "ops19-scrape-token-5f2c"


def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def json_lines(log: Path) -> list[dict[str, object]]:
    lines = []
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_metrics_sum_every_worker_and_each_request_logs_one_json_line(tmp_path: Path) -> None:
    env = {
        "CGD_BRIDGE_METRICS_ALLOW": "none",
        "CGD_BRIDGE_METRICS_TOKEN": TOKEN,
        "CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": "0",
    }
    with live_server(
        f"sqlite:///{tmp_path / 'b.sqlite'}",
        tmp_path,
        env=env,
        args=("--workers", "2", "--log-format", "json"),
        timeout=180,
    ) as server:
        deadline = time.monotonic() + 180
        while server.log.read_text().count("Application startup complete") < 2:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the second worker did not start"
            time.sleep(0.5)
        # closed to the loopback address too when CGD_BRIDGE_METRICS_ALLOW=none: only the token opens it
        refused = httpx.get(server.url + "/metrics", timeout=30)
        assert refused.status_code == 403
        key = server.keys["kamau"]

        def anonymous(i: int) -> int:
            return httpx.get(server.url + FLOW, params={"format": "csv"}, timeout=60).status_code

        def keyed(i: int) -> int:
            headers = {"Authorization": f"Bearer {key}", "X-Request-ID": f"pull-{i}"}
            return httpx.get(
                server.url + FLOW, params={"format": "csv"}, headers=headers, timeout=60
            ).status_code

        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(anonymous, range(20))) + list(pool.map(keyed, range(10)))
        assert statuses == [200] * 30
        in_query = httpx.get(server.url + FLOW, params={"format": "csv", "apikey": key}, timeout=60)
        assert in_query.status_code == 200
        missing = httpx.get(
            server.url + "/api/nothing/here", headers={"X-Request-ID": "quote-me"}, timeout=30
        )
        assert missing.status_code == 404
        assert missing.headers["x-request-id"] == "quote-me"
        assert missing.json()["error"]["request_id"] == "quote-me"

        scrapes = [scrape(server) for _ in range(8)]
        route = "/sdmx/rest/data/{flow}/{key}"
        for got in scrapes:  # whichever worker answered, the sums of both
            assert got[("cgd_bridge_pulls_total", (("auth", "anonymous"), ("format", "sdmx-csv-1.0")))] == 20
            assert got[("cgd_bridge_pulls_total", (("auth", "key"), ("format", "sdmx-csv-1.0")))] == 11
            requests = (("method", "GET"), ("route", route), ("status", "200"))
            assert got[("cgd_bridge_http_requests_total", requests)] == 31
            count = (("method", "GET"), ("route", route))
            assert got[("cgd_bridge_http_request_duration_seconds_count", count)] == 31
            assert (
                got[
                    (
                        "cgd_bridge_http_requests_total",
                        (("method", "GET"), ("route", "(unmatched)"), ("status", "404")),
                    )
                ]
                == 1
            )
            assert got[("cgd_bridge_audit_queue_depth", ())] >= 0
            assert got[("cgd_bridge_jobs_busy", ())] == 0

        lines = json_lines(server.log)  # type: ignore[arg-type]
    access = [line for line in lines if line.get("logger") == "cgd_bridge.access"]
    pulls = [line for line in access if line.get("route") == route]
    assert len(pulls) == 31
    assert len({line["request_id"] for line in pulls}) == 31
    assert {f"pull-{i}" for i in range(10)} <= {str(line["request_id"]) for line in pulls}
    for line in pulls:
        assert line["status"] == 200
        assert line["method"] == "GET"
        assert line["client"] == "127.0.0.1"
        assert isinstance(line["duration_ms"], float | int)
        assert line["path"] == FLOW
    keyed_lines = [line for line in pulls if "user_id" in line]
    assert len(keyed_lines) == 11
    assert {line["org"] for line in keyed_lines} == {"knbs"}
    (quoted,) = [line for line in access if line.get("request_id") == "quote-me"]
    assert quoted["status"] == 404
    assert quoted["route"] == "(unmatched)"
    assert len({line["pid"] for line in pulls}) == 2, "both workers served, and the scrape summed them"
    text = server.log.read_text()  # type: ignore[union-attr]
    assert key not in text
    assert key.split("_", 2)[2] not in text  # not even the secret part (which may hold "_")
