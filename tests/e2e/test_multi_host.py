"""Several hosts on one PostgreSQL behind a real load balancer (#19, docs/deploy.md "Several hosts").

Three ``cgd-bridge serve --workers 2`` processes, each a host of its own (own port, own data
folder with the same NSO structure imported, own process group), serve one PostgreSQL schema
behind Debian's nginx, which shares requests between them round-robin. What one host changes
holds on the very next request at every host (each host asked directly, several times, so both
of its workers answer): a revoked key, a withdrawal, an MoU granted and revoked, an embargo that
ends. The rate limit of one key holds across the hosts, every pull is audited exactly once, and
killing one host (SIGKILL to its process group) in the middle of pulls, uploads and a
publication loses nothing.

"Through host A" means: the API of host A, or the admin CLI run with host A's data folder and
database (where an administrator runs it). The tests share one cluster and run in file order
(``--dist loadfile`` keeps a file on one worker); each makes its own people and keys, so no
test spends another's rate limit. Nothing depends on timing but the embargo, which ends by the
real clock: the servers are separate processes, so the test clock of the unit tests cannot be
moved into them, and a wall-clock instant a few seconds ahead is the real thing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from tests.support.nginx import NGINX, nginx_balancer
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.support.server import LiveServer, live_server, seed_database
from tests.support.specimens import SPECIMENS

pytestmark = pytest.mark.skipif(NGINX is None, reason="needs Debian's nginx (apt-get install nginx-light)")

LIMIT = 40  # requests a minute per key (or client address) at every host
WORKERS = 2  # per host
KE = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?format=csv"
NP = "/sdmx/rest/data/IAEG-SDGs,DF_SDG_GLH,1.5/all?format=csv"
KE_ROWS = 181  # lines of the Kenya example as SDMX-CSV (header included)
KENYA = ROOT / "examples" / "kenya-health-scorecard"
NEPAL = ROOT / "examples" / "nepal-youth-survey"
#: an NSO structure every host imports into its own data folder (the shared specimens)
ESMS = SPECIMENS / "agencies" / "ESTAT_esms-structure.xml"


@dataclass
class Host:
    name: str
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@dataclass
class Cluster:
    hosts: list[Host]
    lb: str  # the load balancer's URL
    lb_errors: Path  # nginx's error log
    database_url: str
    keys: dict[str, str]  # the demo users' keys
    published: dict[str, int]
    engine: Engine

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def cli(self, host: Host, *args: str) -> str:
        """``cgd-bridge ARGS`` as an administrator runs it on ``host`` (its data folder, the database)."""
        env = {
            **os.environ,
            "CGD_BRIDGE_DATA_DIR": str(host.server.data_dir),
            "CGD_BRIDGE_DATABASE_URL": self.database_url,
        }
        p = subprocess.run(
            [sys.executable, "-m", "cgd_bridge", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    def person(self, organisation: str, role: str, keys: int = 1) -> tuple[str, list[str]]:
        """A new user of ``organisation`` and ``keys`` API keys of theirs (made in the database)."""
        from cgd_bridge.store import orgs
        from cgd_bridge.store.db import make_sessionmaker

        username = f"u{secrets.token_hex(4)}"
        with make_sessionmaker(self.engine)() as session:
            orgs.create_user(session, username=username, organisation=organisation, role=role)
            made = [orgs.create_key(session, username=username, label="multi-host").key for _ in range(keys)]
        return username, made

    def user_id(self, username: str) -> int:
        with self.engine.connect() as c:
            return int(
                c.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()
            )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (its own rate-limit budget without a key);
    a new connection per request, as the module-level ``httpx.get`` (a kept one may be closed
    by the server while the test waits for an upload, and reading it again resets)."""
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address, limits=no_reuse), timeout=120)


@contextlib.contextmanager
def _host(name: str, database_url: str, data_dir: Path, env: dict[str, str]) -> Iterator[Host]:
    args = ("--workers", str(WORKERS))
    with live_server(database_url, data_dir, seed=False, env=env, args=args) as server:
        yield Host(name, server)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("multi-host")
    env = {
        "CGD_BRIDGE_SECRET_KEY": secrets.token_hex(32),  # the same on every host (web sessions)
        "CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        "CGD_BRIDGE_AUDIT_DURABLE": "true",  # a pull is answered once its audit row is committed
        "CGD_BRIDGE_JOB_WORKERS": "1",
    }
    with fresh_schema("cgdb_hosts") as url, contextlib.ExitStack() as stack:
        dirs = {name: root / name for name in ("a", "b", "c")}
        for d in dirs.values():
            d.mkdir()
        keys, published = seed_database(url, dirs["a"])
        hosts = [stack.enter_context(_host(name, url, d, env)) for name, d in dirs.items()]
        nginx = stack.enter_context(nginx_balancer([h.port for h in hosts], root / "nginx"))
        engine = create_engine(url)
        stack.callback(engine.dispose)
        yield Cluster(hosts, nginx.url, nginx.log, url, keys, published, engine)


_ADDRESSES = itertools.count(30)


@pytest.fixture
def public() -> Iterator[httpx.Client]:
    """An anonymous client from a loopback address of its own (its own rate-limit budget)."""
    with client_from(f"127.0.0.{next(_ADDRESSES)}") as c:
        yield c


def hosts_of(responses: list[httpx.Response]) -> list[int]:
    """The host port that answered each response through the balancer (the last nginx tried)."""
    return [int(r.headers["x-upstream"].split(",")[-1].strip().rsplit(":", 1)[1]) for r in responses]


def at_every_host(
    cluster: Cluster, path: str, headers: dict[str, str] | None = None, *, times: int = 3, client: Any = httpx
) -> dict[str, list[int]]:
    """The status codes of ``times`` requests straight to each host (its workers take turns)."""
    return {
        h.name: [
            client.get(h.url + path, headers=headers or {}, timeout=120).status_code for _ in range(times)
        ]
        for h in cluster.hosts
    }


def all_are(codes: dict[str, list[int]], status: int) -> bool:
    return all(c == status for per_host in codes.values() for c in per_host)


# ------------------------------------------------------------------------------------------------


def test_the_balancer_sends_consecutive_requests_to_different_hosts(cluster: Cluster) -> None:
    answered = [httpx.get(cluster.lb + "/healthz", timeout=60) for _ in range(3 * len(cluster.hosts))]
    assert all(r.status_code == 200 for r in answered)
    order = hosts_of(answered)
    assert set(order) == {h.port for h in cluster.hosts}, order
    assert all(a != b for a, b in itertools.pairwise(order)), order  # round-robin


def test_every_host_serves_the_same_imported_structure(cluster: Cluster) -> None:
    if not ESMS.is_file():
        pytest.skip(f"the shared specimen {ESMS} is missing (tests/support/specimens.py)")
    path = "/sdmx/rest/dataflow/ESTAT/DEMO_TOT/latest"
    with client_from("127.0.0.20") as c:
        assert all_are(at_every_host(cluster, path, times=1, client=c), 404)
        for host in cluster.hosts:  # each host's data folder gets its own copy, as docs/deploy.md says
            cluster.cli(host, "structures", "import", str(ESMS))
        assert all_are(at_every_host(cluster, path, times=2, client=c), 200)


def test_a_key_revoked_through_one_host_is_refused_at_every_host(cluster: Cluster) -> None:
    a = cluster.host("a")
    key = (
        cluster.cli(a, "admin", "key", "create", "kamau", "--label", "revoked-later").strip().splitlines()[-1]
    )
    assert key.startswith("cgdb_")
    assert all_are(at_every_host(cluster, "/api/me", bearer(key)), 200)  # every worker knows it as good
    assert all_are(at_every_host(cluster, KE, bearer(key), times=1), 200)
    cluster.cli(a, "admin", "key", "revoke", key[:18])
    assert all_are(at_every_host(cluster, "/api/me", bearer(key)), 401)
    assert all_are(at_every_host(cluster, KE, bearer(key)), 401)
    assert httpx.get(cluster.lb + KE, headers=bearer(key), timeout=60).status_code == 401


def _csrf(web: httpx.Client, url: str) -> str:
    r = web.get(url)
    assert r.status_code == 200, r.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def test_a_web_session_begun_on_one_host_holds_everywhere_until_signed_out_on_another(
    cluster: Cluster,
) -> None:
    """The same CGD_BRIDGE_SECRET_KEY on every host: no sticky sessions; signing out on one host
    ends the session at every host (the ended session is in the database)."""
    a, _, c = cluster.hosts
    _, (key,) = cluster.person("knbs", "reviewer")
    with client_from("127.0.0.40") as web:  # one cookie jar for all hosts (cookies ignore ports)
        r = web.post(f"{a.url}/sign-in", data={"csrf_token": _csrf(web, f"{a.url}/sign-in"), "api_key": key})
        assert r.status_code == 303, r.text
        assert [web.get(f"{h.url}/inbox").status_code for h in cluster.hosts * 2] == [200] * 6
        r = web.post(f"{c.url}/sign-out", data={"csrf_token": _csrf(web, f"{c.url}/inbox")})
        assert r.status_code == 303, r.text
        for h in cluster.hosts * 2:
            r = web.get(f"{h.url}/inbox")
            assert r.status_code == 303, (h.name, r.status_code)
            assert "/sign-in" in r.headers["location"]


def test_every_pull_is_audited_exactly_once(cluster: Cluster) -> None:
    username, keys = cluster.person("knbs", "reviewer")
    queries = [f"{KE}&lastNObservations={n}" for n in range(1, 31)]
    answered = [httpx.get(cluster.lb + q, headers=bearer(keys[0]), timeout=120) for q in queries]
    assert [r.status_code for r in answered] == [200] * len(queries)
    assert set(hosts_of(answered)) == {h.port for h in cluster.hosts}  # every host served some
    with cluster.engine.connect() as c:  # durable audit: committed before each answer was sent
        rows = c.execute(
            text("SELECT query FROM audit WHERE action = 'data.pulled' AND user_id = :u"),
            {"u": cluster.user_id(username)},
        ).all()
    assert sorted(r[0] for r in rows) == sorted(queries)


def _wait_for_a_fresh_minute(need: float = 35.0) -> None:
    """Start in a minute that has ``need`` seconds left (the rate limit counts UTC minutes)."""
    left = 60 - time.time() % 60
    if left < need:
        time.sleep(left + 0.5)


def test_the_rate_limit_of_a_key_holds_across_hosts(cluster: Cluster) -> None:
    """One key spends its minute through the balancer, at a client's steady pace (10 a second).

    With a limit per process, the six workers would allow six times the limit; shared, the
    total allowed is the limit plus at most what other workers allowed before their next sync
    (0.25 s, server/ratelimit.py), and once the database holds the spent minute every host
    refuses the key.
    """
    _, (key,) = cluster.person("knbs", "reviewer")
    flows = "/sdmx/rest/dataflow/all/all/latest"
    _wait_for_a_fresh_minute()
    minute = int(time.time() // 60)
    allowed: list[httpx.Response] = []
    refused = None
    for _ in range(WORKERS * len(cluster.hosts) * LIMIT):
        r = httpx.get(cluster.lb + flows, headers=bearer(key), timeout=60)
        if r.status_code == 429:
            refused = r
            break
        assert r.status_code == 200, r.text
        allowed.append(r)
        time.sleep(0.1)
    assert int(time.time() // 60) == minute, "the minute ended during the test (it waits for a fresh one)"
    assert refused is not None
    assert "too many requests from this API key" in refused.text
    assert LIMIT <= len(allowed) < 2 * LIMIT, len(allowed)
    print(f"rate limit {LIMIT}: {len(allowed)} allowed across {len(cluster.hosts)} hosts")
    assert set(hosts_of(allowed)) == {h.port for h in cluster.hosts}

    # the counts every worker reported add up to what was allowed, once each
    identity = key[:18]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with cluster.engine.connect() as c:
            counted = c.execute(
                text("SELECT COALESCE(SUM(count), 0) FROM rate_usage WHERE identity = :i"), {"i": identity}
            ).scalar_one()
        if counted >= len(allowed):
            break
        time.sleep(0.1)
    assert counted == len(allowed)
    time.sleep(1.0)  # four sync intervals: every worker has read the total back
    codes = at_every_host(cluster, flows, bearer(key), times=2)
    assert int(time.time() // 60) == minute
    assert all_are(codes, 429), codes


def _kenya_files() -> dict[str, Any]:
    return {
        "data": ("data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": (
            "mapping.yaml",
            (ROOT / "mappings/kenya-health-scorecard.yaml").read_bytes(),
            "text/yaml",
        ),
    }


def _nepal_files() -> dict[str, Any]:
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return {
        "data": ("data.xlsx", (NEPAL / "data.xlsx").read_bytes(), xlsx),
        "metadata": ("quality.yaml", (NEPAL / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", (ROOT / "mappings/nepal-youth-survey.yaml").read_bytes(), "text/yaml"),
        "form": ("form.xlsx", (NEPAL / "form.xlsx").read_bytes(), xlsx),
    }


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


def test_a_withdrawal_and_mou_changes_through_one_host_hold_at_every_host(
    cluster: Cluster, public: httpx.Client
) -> None:
    a, b, c = cluster.hosts
    _, (amina,) = cluster.person("sauti", "submitter")
    _, (kamau,) = cluster.person("knbs", "reviewer")
    _, (bikash,) = cluster.person("cbs-nepal", "reviewer")
    # every worker has the published Kenya data in its snapshot and its answer cache
    assert all_are(at_every_host(cluster, KE, bearer(kamau)), 200)
    assert all_are(at_every_host(cluster, KE, client=public), 200)

    _ok(httpx.post(f"{a.url}/api/versions/{cluster.published['kenya-health-scorecard']}/withdraw",
                   headers=bearer(amina), json={"reason": "a wrong county code"}, timeout=60))  # fmt: skip
    assert all_are(at_every_host(cluster, KE, bearer(kamau)), 404)
    assert all_are(at_every_host(cluster, KE, client=public), 404)

    # a new version, embargoed for a day, published through host B: the NSO with the MoU reads
    # it before the embargo ends, the public and another NSO do not
    v2 = _ok(httpx.post(f"{b.url}/api/submissions", files=_kenya_files(), headers=bearer(amina),
                        data={"revision_note": "Kilifi tallies reconciled."}, timeout=300), 201)  # fmt: skip
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    _ok(httpx.put(f"{b.url}/api/versions/{v2['id']}/embargo", headers=bearer(amina), json={"until": until}))
    _ok(httpx.post(f"{b.url}/api/versions/{v2['id']}/accept", headers=bearer(kamau), json={}, timeout=60))
    _ok(httpx.post(f"{b.url}/api/versions/{v2['id']}/publish", headers=bearer(kamau), json={}, timeout=60))
    assert all_are(at_every_host(cluster, KE, bearer(kamau)), 200)
    assert all_are(at_every_host(cluster, KE, client=public), 404)
    assert all_are(at_every_host(cluster, KE, bearer(bikash)), 404)

    # an MoU granted on host C lets the other NSO read it everywhere; revoked on host A, not
    said = cluster.cli(c, "admin", "mou", "create", "--cso", "sauti", "--nso", "cbs-nepal",
                       "--dataflow", "CGD_BRIDGE:DF_CGD_KE(1.0)", "--until", "2030-12-31")  # fmt: skip
    mou_id = said.split(":", 1)[0].removeprefix("MoU ").strip()
    codes = at_every_host(cluster, KE, bearer(bikash))
    assert all_are(codes, 200), codes
    cluster.cli(a, "admin", "mou", "revoke", mou_id)
    codes = at_every_host(cluster, KE, bearer(bikash))
    assert all_are(codes, 404), codes
    assert all_are(at_every_host(cluster, KE, bearer(kamau), times=1), 200)  # its own MoU still holds


def test_an_embargo_ends_at_every_host_at_once(cluster: Cluster, public: httpx.Client) -> None:
    """The embargo ends by the real clock: no host is told, each sees the instant pass."""
    a, b, c = cluster.hosts
    _, (sita,) = cluster.person("yuwa", "submitter")
    _, (bikash,) = cluster.person("cbs-nepal", "reviewer")
    assert all_are(at_every_host(cluster, NP, client=public, times=2), 200)
    _ok(httpx.post(f"{c.url}/api/versions/{cluster.published['nepal-youth-survey']}/withdraw",
                   headers=bearer(sita), json={"reason": "re-weighted"}, timeout=60))  # fmt: skip
    assert all_are(at_every_host(cluster, NP, client=public, times=2), 404)
    v2 = _ok(httpx.post(f"{a.url}/api/submissions", files=_nepal_files(), headers=bearer(sita),
                        data={"revision_note": "Re-weighted."}, timeout=300), 201)  # fmt: skip
    _ok(httpx.post(f"{a.url}/api/versions/{v2['id']}/accept", headers=bearer(bikash), json={}, timeout=60))
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    _ok(httpx.put(f"{b.url}/api/versions/{v2['id']}/embargo", headers=bearer(sita),
                  json={"until": ends.isoformat()}, timeout=60))  # fmt: skip
    _ok(httpx.post(f"{b.url}/api/versions/{v2['id']}/publish", headers=bearer(bikash), json={}, timeout=60))
    before = at_every_host(cluster, NP, client=public, times=2)
    assert dt.datetime.now(dt.UTC) < ends, "the machine took 30 s to publish and ask 6 times"
    assert all_are(before, 404), before
    assert all_are(at_every_host(cluster, NP, bearer(bikash), times=1), 200)  # the NSO under MoU
    time.sleep(max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds()) + 0.2)
    after = at_every_host(cluster, NP, client=public, times=2)
    assert all_are(after, 200), after


# ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    query: str
    attempts: int = 0
    status: int | None = None
    rows: int | None = None
    host: int | None = None  # the port of the host that answered
    started: float = 0.0  # time.monotonic() of the answered attempt


def _pull_until_answered(lb: str, key: str, outcome: Outcome) -> None:
    """A client that retries a failed pull (connection dropped, 502/503) up to 8 times."""
    while outcome.attempts < 8:
        outcome.attempts += 1
        outcome.started = time.monotonic()
        try:
            r = httpx.get(lb + outcome.query, headers=bearer(key), timeout=120)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if r.status_code in (502, 503, 504):
            time.sleep(0.2)
            continue
        outcome.status, outcome.rows, outcome.host = r.status_code, r.text.count("\n"), hosts_of([r])[0]
        return


def _upload_until_answered(lb: str, key: str, note: str, results: list[tuple[int, Any]]) -> None:
    """Upload the Kenya example (a new version) until an answer comes; (201, version id) or
    (status, the answer's text)."""
    for _ in range(8):
        try:
            r = httpx.post(lb + "/api/submissions", files=_kenya_files(), headers=bearer(key),
                           data={"revision_note": note}, timeout=300)  # fmt: skip
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if r.status_code in (502, 503, 504):
            time.sleep(0.5)
            continue
        results.append((r.status_code, r.json()["id"] if r.status_code == 201 else r.text))
        return
    results.append((0, "no answer after 8 attempts"))


def test_killing_one_host_under_load_loses_nothing(cluster: Cluster) -> None:
    a, b, c = cluster.hosts
    clients = 5
    username, keys = cluster.person("knbs", "reviewer", keys=clients)  # each key well inside its limit
    _, (amina,) = cluster.person("sauti", "submitter")
    per_client = 24
    outcomes = [
        [Outcome(f"{KE}&lastNObservations={i * per_client + n + 1}") for n in range(per_client)]
        for i in range(clients)
    ]
    uploads: list[tuple[int, Any]] = []
    done = [0]
    lock = threading.Lock()

    def pulls(i: int) -> None:
        for outcome in outcomes[i]:
            _pull_until_answered(cluster.lb, keys[i], outcome)
            with lock:
                done[0] += 1

    def upload_twice() -> None:
        for note in ("Load test, first.", "Load test, second."):
            _upload_until_answered(cluster.lb, amina, note, uploads)

    threads = [threading.Thread(target=pulls, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=upload_twice))
    for t in threads:
        t.start()
    deadline = time.monotonic() + 300
    while done[0] < clients * per_client // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(b.server.process.pid, signal.SIGKILL)  # host B dies with everything in flight
    killed = time.monotonic()
    for t in threads:
        t.join(600)
    assert not any(t.is_alive() for t in threads)
    assert b.server.process.wait(30) == -signal.SIGKILL

    # every pull was answered in full (after retries by nginx or the client)
    flat = [o for per in outcomes for o in per]
    assert [(o.status, o.rows) for o in flat] == [(200, o.rows) for o in flat]
    assert all(o.rows and o.rows > 1 for o in flat)
    assert b.port in {o.host for o in flat}  # host B served its share until it died
    # nginx met the dead host (refused or cut connections) and sent those requests on
    met = [
        line
        for line in cluster.lb_errors.read_text().splitlines()
        if f'upstream: "http://127.0.0.1:{b.port}' in line
        and any(w in line for w in ("failed", "prematurely closed", "reset"))
    ]
    assert met, cluster.lb_errors.read_text()[-2000:]
    assert {o.host for o in flat if o.started > killed} <= {a.port, c.port}
    # and audited: once, or (a pull whose host died after committing its audit row and before
    # its answer reached the client, then retried) twice; at most one such per client in flight
    with cluster.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query, COUNT(*) FROM audit"
                " WHERE action = 'data.pulled' AND user_id = :u GROUP BY query"
            ),
            {"u": cluster.user_id(username)},
        ).all()
    audited = {q: int(n) for q, n in rows}
    assert set(audited) == {o.query for o in flat}
    assert all(audited[o.query] in (1, 2) for o in flat)
    assert sum(audited.values()) - len(flat) <= clients
    retried = sum(o.attempts > 1 for o in flat)
    print(
        f"killed host B after {clients * per_client // 3} pulls: nginx met it {len(met)} times, "
        f"{len(flat)} pulls answered, {retried} "
        f"retried by the client, {sum(audited.values()) - len(flat)} audited twice; uploads {uploads}"
    )

    # uploads: each answered 201 in the end (a retry of one the dead host had stored makes one
    # more version); whatever was stored is whole: every version has its files and its data
    assert [s for s, _ in uploads] == [201, 201], uploads
    from cgd_bridge.store.models import StoredFile, Version, VersionData

    with cluster.engine.connect() as conn:
        versions = conn.execute(select(Version.id, Version.state, Version.observations)).all()
        files = dict(
            conn.execute(select(StoredFile.version_id, func.count()).group_by(StoredFile.version_id)).all()
        )
        data = {v for (v,) in conn.execute(select(VersionData.version_id))}
    for version_id, _state, observations in versions:
        assert files.get(version_id, 0) >= 3, version_id
        assert version_id in data, version_id
        assert observations
        assert observations > 0
    stored = {v for _, v in uploads}
    assert stored <= {v for v, _, _ in versions}

    # the newest upload published through the balancer with a host gone; then every remaining
    # host serves it, and the balancer sends nothing to the dead host
    _, (kamau,) = cluster.person("knbs", "reviewer")
    newest = max(stored)
    for action in ("accept", "publish"):
        r = httpx.post(
            f"{cluster.lb}/api/versions/{newest}/{action}", headers=bearer(kamau), json={}, timeout=60
        )
        assert r.status_code == 200, r.text
    for host in (a, c):
        r = httpx.get(host.url + KE, headers=bearer(kamau), timeout=60)
        assert r.status_code == 200
        assert r.text.count("\n") == KE_ROWS
    answered = [httpx.get(cluster.lb + KE, headers=bearer(kamau), timeout=60) for _ in range(4)]
    assert [r.status_code for r in answered] == [200] * 4
    assert set(hosts_of(answered)) <= {a.port, c.port}
