"""Server test fixtures: a TestClient app on SQLite and PostgreSQL with a CSO, an NSO and an MoU.

``world`` is a fresh database per test (the store's contents change in these tests), served
with a :class:`~tests.support.clock.ManualClock` the test may move (``world.clock``);
``publish`` stores the Kenya example as a published version; ``one_series`` is a one-series
data query of it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cgd_bridge import pipeline
from cgd_bridge.server.app import create_app
from cgd_bridge.settings import Settings
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile
from tests.support.clock import ManualClock
from tests.support.paths import ROOT
from tests.support.postgres import fresh_schema
from tests.unit.server.test_web import Demo, _demo, demo_on

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
CSV = {"Accept": "application/vnd.sdmx.data+csv;version=2.0.0"}


@dataclass
class World:
    app: object
    client: TestClient
    keys: dict[str, str]
    reviewer: Principal
    producer: Principal
    mou_id: int
    series: str  # a one-series data query (full key) of the Kenya example
    clock: ManualClock  # the server's clock

    def get(self, path: str, who: str | None = None, provider: str = "") -> int:
        headers = {**CSV, **({"Authorization": f"Bearer {self.keys[who]}"} if who else {})}
        return self.client.get(path + provider, headers=headers).status_code

    @property
    def bridge(self):
        return self.app.state.bridge  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def kenya():
    result = pipeline.harmonise(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=MAPPING)
    assert result.harmonised is not None
    assert result.target is not None
    return result


def one_series(kenya) -> str:
    row = kenya.harmonised.table.slice(0, 1).to_pylist()[0]
    return "/sdmx/rest/data/DF_CGD_KE/" + ".".join(row[d] for d in kenya.target.dimensions)


def publish(session, kenya, producer: Principal, reviewer: Principal, dataset: str, **kw) -> int:
    v = submissions.create_version(
        session,
        kenya,
        principal=producer,
        files=[RawFile("data", "data.csv", (KENYA / "data.csv").read_bytes(), "text/csv")],
        dataset=dataset,
        submit=True,
        **kw,
    )
    # tests publish the example under several datasets: each takes its keys over by the reviewer's
    # explicit choice (one owner per observation, #13; tests/unit/server/test_ownership.py)
    submissions.accept(session, principal=reviewer, version_id=v.id, replace=True)
    submissions.publish(session, principal=reviewer, version_id=v.id)
    return v.id


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path, kenya) -> Iterator[World]:
    """A fresh server database; settings from the test's ``world_settings`` marker if any."""
    extra = request.node.get_closest_marker("world_settings")
    with fresh_schema("cgdb_cache") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{tmp_path / 'cache.sqlite'}"
        settings = Settings(data_dir=tmp_path, rate_limit_per_minute=0, **(extra.kwargs if extra else {}))
        clock = ManualClock()
        app = create_app(settings, database_url=url, clock=clock)
        with TestClient(app) as client:
            bridge = app.state.bridge
            keys = {}
            with bridge.sessions() as session:
                orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
                orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
                for user, org, role in (("amina", "sauti", "submitter"), ("kamau", "knbs", "reviewer")):
                    orgs.create_user(session, username=user, organisation=org, role=role)
                    keys[user] = orgs.create_key(session, username=user).key
                producer = Principal.of(orgs.get_user(session, username="amina"))
                reviewer = Principal.of(orgs.get_user(session, username="kamau"))
                until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
                mou = mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=until)
                mou_id = mou.id
            yield World(app, client, keys, reviewer, producer, mou_id, one_series(kenya), clock)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo (tests/unit/server/test_web.py's ``_demo``) on SQLite; a test module may define
    its own ``demo`` (a fixture of the same name in the module wins)."""
    with _demo(tmp_path) as d:
        yield d


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    """The demo on SQLite and on PostgreSQL (for the tests of the workflow and the access rules)."""
    with demo_on(request.param, tmp_path) as d:
        yield d
