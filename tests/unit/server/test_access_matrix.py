"""The authorisation matrix over HTTP: every kind of principal x every state x the endpoints that expose data.

One database holds the Kenya example submitted by six CSOs to the same dataflow, each left in a
different state (published open, published restricted, embargoed, withdrawn, draft, submitted).
KNBS has an MoU with all of them; CBS Nepal with none. Pulls name the producer as the SDMX
provider, so each cell of the matrix looks at one state. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from cgd_bridge import pipeline
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile, VersionContent
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
STATES = ("open", "restricted", "embargoed", "withdrawn", "draft", "submitted")
WHO = ("anonymous", "producer", "other_cso", "mou_nso", "other_nso", "admin")
OK, UNAUTH, FORBID, GONE = 200, 401, 403, 404

# Can the principal see the version record (report, metadata, coverage)?
SEE = {
    "open": dict.fromkeys(WHO, OK),
    "restricted": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": OK,
        "other_nso": GONE,
        "admin": OK,
    },
    "embargoed": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": OK,
        "other_nso": GONE,
        "admin": OK,
    },
    "withdrawn": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": GONE,
        "other_nso": GONE,
        "admin": OK,
    },
    "draft": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": GONE,
        "other_nso": GONE,
        "admin": OK,
    },
    "submitted": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": OK,
        "other_nso": GONE,
        "admin": OK,
    },
}
# What an SDMX data (and metadata) pull of the producer's data answers.
PULL = {
    "open": dict.fromkeys(WHO, OK),
    "restricted": {
        "anonymous": UNAUTH,
        "producer": OK,
        "other_cso": FORBID,
        "mou_nso": OK,
        "other_nso": FORBID,
        "admin": OK,
    },
    "embargoed": {
        "anonymous": GONE,
        "producer": OK,
        "other_cso": GONE,
        "mou_nso": OK,
        "other_nso": GONE,
        "admin": OK,
    },
    "withdrawn": dict.fromkeys(WHO, GONE),
    "draft": dict.fromkeys(WHO, GONE),
    "submitted": dict.fromkeys(WHO, GONE),
}


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]
    versions: dict[str, int]

    def headers(self, state: str, who: str) -> dict[str, str]:
        user = {
            "producer": f"cso-{state}",
            "other_cso": "outsider",
            "mou_nso": "kamau",
            "other_nso": "bikash",
            "admin": "root",
        }.get(who)
        return {"Authorization": f"Bearer {self.keys[user]}"} if user else {}


def _build(session: object, structures: object) -> tuple[dict[str, str], dict[str, int]]:
    result = pipeline.harmonise(
        KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=MAPPING, structures=structures
    )
    assert result.harmonised is not None
    assert result.target is not None
    keys: dict[str, str] = {}
    orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
    orgs.create_organisation(session, slug="cbs-nepal", name="CBS Nepal", kind="nso")
    orgs.create_organisation(session, slug="outsider-cso", name="Another CSO", kind="cso")
    orgs.create_organisation(session, slug="admins", name="Admins", kind="admin")
    for user, org, role in (
        ("kamau", "knbs", "reviewer"),
        ("bikash", "cbs-nepal", "reviewer"),
        ("outsider", "outsider-cso", "submitter"),
        ("root", "admins", "admin"),
    ):
        orgs.create_user(session, username=user, organisation=org, role=role)
        keys[user] = orgs.create_key(session, username=user).key
    reviewer = Principal.of(orgs.get_user(session, username="kamau"))
    versions = {}
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    for state in STATES:
        slug = f"cso-{state}"
        orgs.create_organisation(session, slug=slug, name=f"CSO {state}", kind="cso")
        orgs.create_user(session, username=slug, organisation=slug, role="submitter")
        keys[slug] = orgs.create_key(session, username=slug).key
        mous.create_mou(
            session, cso=slug, nso="knbs", dataflows=["*"], valid_until=future + dt.timedelta(days=365)
        )
        producer = Principal.of(orgs.get_user(session, username=slug))
        # each CSO reports its own year, so that no two of them hold one series key and period (#13)
        table = result.harmonised.table
        year = pa.array([str(2024 - STATES.index(state))] * table.num_rows)
        content = dataclasses.replace(
            VersionContent.of(result),
            table=table.set_column(table.column_names.index("TIME_PERIOD"), "TIME_PERIOD", year),
        )
        v = submissions.create_version(
            session,
            content,
            principal=producer,
            files=[RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv")],
            submit=state != "draft",
            is_open=state != "restricted",
            embargo_until=future if state == "embargoed" else None,
        )
        if state in ("open", "restricted", "embargoed", "withdrawn"):
            submissions.accept(session, principal=reviewer, version_id=v.id)
            submissions.publish(session, principal=reviewer, version_id=v.id)
        if state == "withdrawn":
            submissions.withdraw(session, principal=producer, version_id=v.id, reason="test")
        versions[state] = v.id
    return keys, versions


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir: Path = tmp_path_factory.mktemp(f"matrix-{request.param}")
    with fresh_schema("cgdb_matrix") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{data_dir / 'matrix.sqlite'}"
        app = create_app(Settings(data_dir=data_dir, rate_limit_per_minute=0), database_url=url)
        with TestClient(app) as client:
            bridge = app.state.bridge
            with bridge.sessions() as session:
                keys, versions = _build(session, bridge.structures)
            yield World(client, keys, versions)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("who", WHO)
def test_seeing_a_version(world: World, state: str, who: str) -> None:
    r = world.client.get(f"/api/versions/{world.versions[state]}", headers=world.headers(state, who))
    assert r.status_code == SEE[state][who], r.text
    if r.status_code == OK:
        assert r.json()["report"]
        assert r.json()["metadata"]["dataset"]["id"] == "ke-health-scorecard-2024"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("who", WHO)
def test_pulling_data_and_metadata(world: World, state: str, who: str) -> None:
    headers = world.headers(state, who)
    r = world.client.get(
        f"/sdmx/rest/data/DF_CGD_KE/all/cso-{state}", headers={**headers, "Accept": "text/csv"}
    )
    assert r.status_code == PULL[state][who], r.text[:300]
    if r.status_code == OK:
        assert r.text.count("\n") == 181  # header + the 180 observations of one dataset, no more
    m = world.client.get(f"/sdmx/rest/metadata/DF_CGD_KE/all/cso-{state}", headers=headers)
    assert m.status_code == PULL[state][who], m.text[:300]


@pytest.mark.parametrize("who", WHO)
def test_the_whole_dataflow_holds_what_each_may_see(world: World, who: str) -> None:
    # without a provider, a pull returns the union of the datasets the principal may read
    headers = world.headers("open", who)
    r = world.client.get("/sdmx/rest/data/DF_CGD_KE", headers={**headers, "Accept": "text/csv"})
    readable = [s for s in STATES if PULL[s][who if who != "producer" else "anonymous"] == OK]
    if who == "producer":
        readable = sorted({*readable, "open"})
    assert r.status_code == OK
    assert r.text.count("\n") == 1 + 180 * len(readable)


@pytest.mark.parametrize("who", WHO)
def test_reviewing_needs_an_mou_reviewer(world: World, who: str) -> None:
    # rejecting the published version: only an MoU reviewer (or admin) gets as far as the state rule
    v = world.versions["open"]
    r = world.client.post(
        f"/api/versions/{v}/reject", headers=world.headers("open", who), json={"comment": "no"}
    )
    expected = {
        "anonymous": UNAUTH,
        "producer": FORBID,
        "other_cso": FORBID,
        "mou_nso": 409,
        "other_nso": FORBID,
        "admin": 409,
    }[who]
    assert r.status_code == expected, r.text


def test_listing_submissions(world: World) -> None:
    def producers(headers: dict[str, str]) -> set[str]:
        return {s["producer"] for s in world.client.get("/api/submissions", headers=headers).json()}

    assert producers({}) == {"cso-open"}
    assert producers(world.headers("draft", "producer")) == {"cso-draft"}
    assert producers(world.headers("x", "mou_nso")) == {
        f"cso-{s}" for s in STATES if s not in ("draft", "withdrawn")
    }
    assert producers(world.headers("x", "admin")) == {f"cso-{s}" for s in STATES}
