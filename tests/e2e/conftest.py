"""End-to-end fixtures: a real server (uvicorn in a subprocess) on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import fresh_schema
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo served over HTTP: both examples published, keys for every demo user."""
    data_dir = tmp_path_factory.mktemp(f"live-{request.param}")
    if request.param == "sqlite":
        with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
            yield server
        return
    with fresh_schema("cgdb_e2e") as url, live_server(url, data_dir) as server:
        yield server


@pytest.fixture(scope="session")
def kenya_expected() -> dict[str, object]:
    """The Kenya example harmonised by the pipeline, as {series key + period: (value, attributes)}."""
    from cgd_bridge.pipeline import harmonise
    from tests.support.paths import ROOT

    result = harmonise(
        ROOT / "examples/kenya-health-scorecard/data.csv",
        metadata=ROOT / "examples/kenya-health-scorecard/quality.yaml",
        mapping=ROOT / "mappings/kenya-health-scorecard.yaml",
    )
    assert result.harmonised is not None
    assert result.target is not None
    return {
        "table": result.harmonised.table,
        "dimensions": list(result.target.dimensions),
        "attributes": list(result.target.attributes),
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "e2e":
            item.add_marker(pytest.mark.e2e)
