"""A stored mapping past the YAML limits is refused where it is read, not served (#14).

A mapping with an alias bomb inside ``schema:`` once validated and published; from then on the
public ``/sdmx/rest/structuremap``, ``structureset`` and ``structure/all`` hung the server, after
every restart. Here the hostile text is written straight into the database (as a store written
by an older release, or by hand, would hold it), behind every check a submission passes: the
structure routes answer at once, leave that mapping's maps out and serve the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from cgd_bridge.store.models import Version
from tests.support.demo import seeded_app

ROOT = Path(__file__).resolve().parents[3]
MAPPING = (ROOT / "mappings" / "kenya-health-scorecard.yaml").read_text(encoding="utf-8")
XML30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
ROUTES = {  # each in its default format
    "/sdmx/rest/structuremap/all/all/latest": XML30,  # StructureMaps exist in SDMX 3.0 only
    "/sdmx/rest/structureset/all/all/latest": "",  # StructureSets in SDMX-ML 2.1
    "/sdmx/rest/structure/all/all/latest": XML30,
}

ALIAS_BOMB = "\n".join(
    [
        "bomb:",
        "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(f"  {c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


HOSTILE = {  # what is added to the Kenya mapping, and the limit the log names
    "alias-bomb": (ALIAS_BOMB, "200,000 values"),
    "one-huge-value": (f"note: '{'x' * 2_000_000}'", "longer than 1,000,000 characters"),
    "too-many-values": ("notes: [" + ", ".join("1" for _ in range(300_000)) + "]", "200,000 values"),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any, dict[str, int]]]:
    with seeded_app(tmp_path_factory.mktemp("stored-mapping")) as (client, bridge, done):
        assert done.published, done.skipped
        yield client, bridge, done.published


def _maintained_by(agency: str, text: str) -> bool:
    return f'agencyID="{agency}"' in text


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_stored_mapping_past_the_limits_is_left_out_not_served(
    seeded: tuple[TestClient, Any, dict[str, int]], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    added, limit = HOSTILE[kind]
    client, bridge, published = seeded
    version_id = published["kenya-health-scorecard"]
    with bridge.sessions() as session:
        good = session.get(Version, version_id).mapping_text
    try:
        for route, accept in ROUTES.items():
            before = client.get(route, headers={"Accept": accept} if accept else {})
            assert before.status_code == 200, before.text
            assert _maintained_by("SAUTI", before.text), route  # the published mapping's maps
        hostile = MAPPING + "\n" + added + "\n"
        with bridge.sessions() as session, session.begin():
            session.execute(update(Version).where(Version.id == version_id).values(mapping_text=hostile))
        _restart(bridge)
        for route, accept in ROUTES.items():
            r = client.get(route, headers={"Accept": accept} if accept else {})
            assert r.status_code == 200, (route, r.text[:500])
            assert "lol" not in r.text
            assert _maintained_by("CGD_BRIDGE", r.text), route  # the bundled mappings' maps are served
            assert not _maintained_by("SAUTI", r.text), route  # the hostile one is left out
        refused = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
        assert any(limit in m for m in refused), refused  # by the YAML limits, before any work
    finally:
        with bridge.sessions() as session, session.begin():
            session.execute(update(Version).where(Version.id == version_id).values(mapping_text=good))
        _restart(bridge)


def _restart(bridge: Any) -> None:
    """Forget the built catalogues and answers, as a restarted server has none (a version's
    mapping never changes in a real store, so the service keeps them by version id)."""
    with bridge.structure_service._lock:
        bridge.structure_service._catalogues.clear()
        bridge.structure_service._cache.clear()
