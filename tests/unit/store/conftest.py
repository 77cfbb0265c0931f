"""Store fixtures: a migrated database on SQLite and on PostgreSQL, the Kenya example, a cast of users.

PostgreSQL runs on 127.0.0.1 with trust authentication (database ``test``; override with
``CGD_BRIDGE_TEST_POSTGRES_URL``). Each test session migrates a fresh schema with a random name
(via ``search_path``) and drops it at the end; each test starts from empty tables. If the
server is down, the fixture tries to start it with ``pg_ctlcluster``, and fails when it cannot:
tests never skip PostgreSQL silently. ``CGD_BRIDGE_TEST_POSTGRES=0`` skips it on purpose.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge.store import orgs
from cgd_bridge.store.db import make_engine, make_sessionmaker, upgrade
from cgd_bridge.store.models import Base
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile
from tests.support.postgres import PG_URL, ensure_server

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
# The example's mapping lives in mappings/ (it used to sit beside the data).
KENYA_MAPPING = next(
    (p for p in (ROOT / "mappings" / "kenya-health-scorecard.yaml", KENYA / "mapping.yaml") if p.is_file()),
    ROOT / "mappings" / "kenya-health-scorecard.yaml",
)
UTC = dt.UTC


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The test PostgreSQL server's URL, once it answers (started if need be)."""
    return ensure_server()


@pytest.fixture(scope="session")
def pg_schema_url(pg_server: str) -> Iterator[str]:
    """A migrated, randomly named schema on the test PostgreSQL server, dropped at the end."""
    schema = f"cgdb_test_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database: a copy of the SQLite template, or truncated PostgreSQL tables."""
    if request.param == "sqlite":
        path = tmp_path / "cgd-bridge.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    engine = make_engine(url)
    # every table but the change counter, whose one row the migration made (it is reset instead)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name != "bridge_generation")
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        c.execute(text("UPDATE bridge_generation SET value = 0"))
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The session factory (for tests that need two sessions at once)."""
    return make_sessionmaker(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


@dataclass
class Kenya:
    """The Kenya example run through the real pipeline, as the server would store it."""

    report: Any
    table: Any
    dimensions: list[str]
    attributes: list[str]
    metadata: dict[str, Any]
    mapping_text: str
    files: list[RawFile]
    dataflow: str
    coverage: dict[str, Any]
    sources: dict[str, Path]  # data, metadata, mapping


@pytest.fixture(scope="session")
def kenya() -> Kenya:
    from cgd_bridge.mapping import load_mapping
    from cgd_bridge.metadata import load_metadata
    from cgd_bridge.pipeline import conform, examine
    from cgd_bridge.store.submissions import coverage_of

    for path in (KENYA / "data.csv", KENYA / "quality.yaml", KENYA_MAPPING):
        if not path.is_file():
            pytest.fail(f"The Kenya example is missing {path}; restore examples/ and mappings/ from git.")
    validation = examine(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING)
    report = validation.report
    assert report.valid, [f.code for f in report]
    h = validation.harmonised
    table = conform(h, validation.suppression, load_metadata(KENYA / "quality.yaml").model, forced=False)
    spec, _ = load_mapping(KENYA_MAPPING)
    files = [
        RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv"),
        RawFile("metadata", "quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        RawFile("mapping", "mapping.yaml", KENYA_MAPPING.read_bytes(), "application/yaml"),
    ]
    return Kenya(
        report=report,
        table=table,
        dimensions=list(h.dimensions),
        attributes=[
            c
            for c in table.column_names
            if c not in (*h.dimensions, "TIME_PERIOD", "OBS_VALUE", "SOURCE_ROW")
        ],
        metadata=yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8")),
        mapping_text=KENYA_MAPPING.read_text(encoding="utf-8"),
        files=files,
        dataflow=str(spec.dataflow),
        coverage=coverage_of(h),
        sources={"data": KENYA / "data.csv", "metadata": KENYA / "quality.yaml", "mapping": KENYA_MAPPING},
    )


@dataclass
class Cast:
    """Organisations and principals for access tests."""

    cso: Principal  # submitter of the producing CSO 'sauti'
    other_cso: Principal  # submitter of another CSO
    nso: Principal  # reviewer of 'knbs', with an MoU covering sauti's dataflow
    nso_without: Principal  # reviewer of an NSO with no MoU
    nso_expired: Principal  # reviewer of an NSO whose MoU has expired
    admin: Principal


@pytest.fixture
def cast(session: Session, kenya: Kenya) -> Cast:
    now = dt.datetime.now(UTC)
    for slug, kind in (("sauti", "cso"), ("other-cso", "cso"), ("knbs", "nso"), ("nbs-x", "nso"),
                       ("nbs-old", "nso"), ("platform", "admin")):  # fmt: skip
        orgs.create_organisation(session, slug=slug, name=slug.title(), kind=kind)
    users = {
        "amina": ("sauti", "submitter"),
        "otieno": ("other-cso", "submitter"),
        "wanjiru": ("knbs", "reviewer"),
        "juma": ("nbs-x", "reviewer"),
        "kamau": ("nbs-old", "reviewer"),
        "root": ("platform", "admin"),
    }
    p = {}
    for username, (org, role) in users.items():
        p[username] = Principal.of(orgs.create_user(session, username=username, organisation=org, role=role))
    from cgd_bridge.store.mous import create_mou

    create_mou(
        session, cso="sauti", nso="knbs", dataflows=[kenya.dataflow], valid_until=now + dt.timedelta(days=365)
    )
    create_mou(
        session, cso="sauti", nso="nbs-old", dataflows=["*"],
        valid_from=now - dt.timedelta(days=400), valid_until=now - dt.timedelta(days=35),
    )  # fmt: skip
    return Cast(p["amina"], p["otieno"], p["wanjiru"], p["juma"], p["kamau"], p["root"])


def new_version(session: Session, kenya: Kenya, principal: Principal, **kw: Any) -> Any:
    """Store the Kenya example as a new version (keywords override, of the content too)."""
    from cgd_bridge.store.submissions import VersionContent, create_version

    content: dict[str, Any] = {
        "dataflow": kenya.dataflow, "report": kenya.report, "table": kenya.table, "metadata": kenya.metadata,
        "mapping_text": kenya.mapping_text, "dimensions": kenya.dimensions, "coverage": kenya.coverage,
    }  # fmt: skip
    content.update((k, kw.pop(k)) for k in list(kw) if k in content)
    args: dict[str, Any] = {"principal": principal, "files": kenya.files, **kw}
    return create_version(session, VersionContent(**content), **args)


@pytest.fixture
def make_version(session: Session, kenya: Kenya) -> Any:
    def _make(principal: Principal, **kw: Any) -> Any:
        return new_version(session, kenya, principal, **kw)

    return _make
