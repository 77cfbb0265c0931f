"""A version's audit trail shows who pulled it only to the producing CSO's people and admins.

Who pulled a CSO's data is the CSO's to know (`/api/organisations/{cso}/pulls`); the version
history must not tell it to the public or to NSO reviewers, who may see the version itself.
"""

from __future__ import annotations

from cgd_bridge.store import orgs
from tests.unit.server.conftest import World, publish


def _history(world: World, version: int, who: str | None) -> list[dict]:
    headers = {"Authorization": f"Bearer {world.keys[who]}"} if who else {}
    r = world.client.get(f"/api/versions/{version}/history", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_pulls_in_the_history_are_for_the_producer_and_admins(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        v = publish(session, kenya, world.producer, world.reviewer, "open")
        orgs.create_organisation(session, slug="platform", name="Platform", kind="admin")
        orgs.create_user(session, username="root", organisation="platform", role="admin")
        world.keys["root"] = orgs.create_key(session, username="root").key
    assert world.get(world.series, "kamau") == 200  # the NSO pulls (no flush in between)
    for who in ("amina", "root"):
        actions = [h["action"] for h in _history(world, v, who)]
        assert "data.pulled" in actions, who
        assert "version.published" in actions
    for who in (None, "kamau"):
        actions = [h["action"] for h in _history(world, v, who)]
        assert "version.published" in actions
        assert not {"data.pulled", "metadata.pulled"} & set(actions), who
