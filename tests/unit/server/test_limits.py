"""Rate limits (429 with Retry-After, per key) and the upload limit (413, nothing stored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.demo import seed
from cgd_bridge.server.ratelimit import RateLimiter
from cgd_bridge.settings import Settings
from tests.support.paths import ROOT
from tests.unit.server.conftest import World


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=3, max_upload_mb=1))
    with TestClient(app) as client:
        bridge = app.state.bridge
        with bridge.sessions() as session:
            keys = seed(session, bridge.structures, examples=()).keys
        yield client, keys


def test_the_fourth_request_in_a_minute_waits(limited: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = limited
    amina = {"Authorization": f"Bearer {keys['amina']}"}
    assert [client.get("/api/me", headers=amina).status_code for _ in range(3)] == [200, 200, 200]
    r = client.get("/api/me", headers=amina)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert "requests a minute" in r.json()["error"]["message"]
    # another key has its own budget; SDMX paths answer with an SDMX error message
    kamau = {"Authorization": f"Bearer {keys['kamau']}"}
    assert client.get("/api/me", headers=kamau).status_code == 200
    for _ in range(2):
        client.get("/sdmx/rest/dataflow", headers=kamau)
    r = client.get("/sdmx/rest/dataflow", headers=kamau)
    assert r.status_code == 429
    assert "mes:Error" in r.text


def test_uploads_above_the_limit_are_refused(limited: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = limited
    kenya = ROOT / "examples" / "kenya-health-scorecard"
    big = (kenya / "data.csv").read_bytes() * 200  # > 1 MB
    files = {
        "data": ("data.csv", big, "text/csv"),
        "metadata": ("quality.yaml", (kenya / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": (
            "mapping.yaml",
            (ROOT / "mappings" / "kenya-health-scorecard.yaml").read_bytes(),
            "text/yaml",
        ),
    }
    amina = {"Authorization": f"Bearer {keys['amina']}"}
    r = client.post("/api/submissions", files=files, headers=amina)
    assert r.status_code == 413
    assert "larger than 1 MB" in r.json()["error"]["message"]
    assert client.get("/api/submissions", headers=amina).json() == []


def test_token_bucket_refills() -> None:
    r = RateLimiter(60)
    assert all(r.allow("k", now=0.0)[0] for _ in range(60))
    allowed, wait = r.allow("k", now=0.0)
    assert not allowed
    assert wait == pytest.approx(1.0)
    assert r.allow("k", now=1.0)[0]
    assert RateLimiter(0).allow("k")[0]  # 0 turns the limit off


def test_an_xlsx_grid_bomb_is_a_413_and_the_server_lives_on(world: World, tmp_path: Path) -> None:
    """A 10 KB workbook with one cell at XFD1048576 made calamine ask for 512 GiB and abort the
    whole server process (#14); now it is measured first and refused with the limit."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "county"
    wb.active["XFD1048576"] = 1
    wb.save(tmp_path / "bomb.xlsx")
    kenya = ROOT / "examples" / "kenya-health-scorecard"
    files = {
        "data": ("bomb.xlsx", (tmp_path / "bomb.xlsx").read_bytes(), "application/octet-stream"),
        "metadata": ("quality.yaml", (kenya / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": (
            "mapping.yaml",
            (ROOT / "mappings" / "kenya-health-scorecard.yaml").read_bytes(),
            "text/yaml",
        ),
    }
    headers = {"Authorization": f"Bearer {world.keys['amina']}"}
    r = world.client.post("/api/validate", files=files, headers=headers)
    assert r.status_code == 413, r.text
    assert "bomb.xlsx" in r.text
    assert "16,384" in r.text
    assert world.client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/versions/{id}",
        "/api/submissions/{id}",
        "/api/files/{id}",
        "/api/versions/{id}/lineage",
        "/api/official/{id}",
        "/versions/{id}",
        "/official/{id}/file",
    ],
)
def test_an_id_past_the_database_integers_is_refused_not_a_500(world: World, path: str) -> None:
    """Ids above 2**31 - 1 overflowed PostgreSQL's INTEGER parameter: an anonymous 500 (#14)."""
    from cgd_bridge.store.models import MAX_ID

    for ident in (MAX_ID + 1, 2**63):
        r = world.client.get(
            path.format(id=ident), headers={"Authorization": f"Bearer {world.keys['amina']}"}
        )
        assert 400 <= r.status_code < 500, (path, ident, r.status_code, r.text[:200])
    r = world.client.get(path.format(id=MAX_ID), headers={"Authorization": f"Bearer {world.keys['amina']}"})
    assert r.status_code in (403, 404), (path, r.status_code)  # the largest id is a real query


def test_invented_keys_share_their_address_budget(limited: tuple[TestClient, dict[str, str]]) -> None:
    """Was: each invented key prefix got its own budget and its own database row (1,500 requests
    in 5.6 s, #14). A key that is not known to be good is counted against the client's address."""
    from sqlalchemy import func, select

    from cgd_bridge.store.models import RateUsage

    client, keys = limited
    amina = {"Authorization": f"Bearer {keys['amina']}"}
    assert client.get("/api/me", headers=amina).status_code == 200
    answers = [
        client.get("/api/me", headers={"Authorization": f"Bearer cgdb_fake{i:04d}x_{'s' * 32}"}).status_code
        for i in range(12)
    ]
    assert answers[:3] == [401, 401, 401]
    assert set(answers[3:]) == {429}
    # a good key keeps its own budget (the address's refusals do not count against it)
    assert client.get("/api/me", headers=amina).status_code == 200
    bridge = client.app.state.bridge  # type: ignore[attr-defined]
    bridge.limiter.sync_now()
    with bridge.sessions() as session:
        identities = session.scalars(select(RateUsage.identity)).all()
        assert session.scalar(select(func.count()).select_from(RateUsage)) <= 2, identities
    assert not any("fake" in i for i in identities)


def test_uploads_with_invented_keys_are_rate_limited_before_any_lookup(
    limited: tuple[TestClient, dict[str, str]],
) -> None:
    """The body guard authenticates before the body; the address's budget comes first there too,
    and a request is counted once."""
    client, keys = limited
    amina = {"Authorization": f"Bearer {keys['amina']}"}
    assert client.get("/api/me", headers=amina).status_code == 200  # known before the flood
    files = {"data": ("d.csv", b"district,n\nDhaka,1\n", "text/csv")}
    answers = [
        client.post(
            "/api/validate", files=files, headers={"Authorization": f"Bearer cgdb_fake{i:04d}y_{'t' * 32}"}
        ).status_code
        for i in range(6)
    ]
    assert answers == [401, 401, 401, 429, 429, 429]
    assert [client.get("/api/me", headers=amina).status_code for _ in range(3)] == [200, 200, 429]


def test_data_queries_count_against_the_limit(limited: tuple[TestClient, dict[str, str]]) -> None:
    """The data routes are plain Starlette routes (routes/sdmx_v1.fast_routes), without the
    routers' FastAPI dependencies: they still count every request and check the key."""
    client, keys = limited
    kamau = {"Authorization": f"Bearer {keys['kamau']}"}
    answers = [client.get("/sdmx/rest/data/DF_CGD_KE/all", headers=kamau).status_code for _ in range(4)]
    assert 429 not in answers[:3]
    assert answers[3] == 429
    bad = {"Authorization": "Bearer cgdb_nothere_wrong"}
    assert client.get("/sdmx/v2/data/dataflow/*/DF_CGD_KE/+/*", headers=bad).status_code == 401
