"""What the server says about itself in errors: no database URL, no host, no path (#14)."""

from __future__ import annotations

from sqlalchemy import text

from tests.unit.server.conftest import World


def test_a_database_outage_is_a_503_that_does_not_name_the_database(world: World) -> None:
    url = world.bridge.engine.url
    with world.bridge.engine.begin() as c:
        c.execute(text("ALTER TABLE bridge_generation RENAME TO bridge_generation_away"))
    try:
        world.bridge.access._drop_raw()
        for path in ("/api/submissions", "/api/me"):
            r = world.client.get(path, headers={"Authorization": f"Bearer {world.keys['amina']}"})
            assert r.status_code == 503, (path, r.status_code, r.text[:300])
            named = (url.render_as_string(hide_password=True), url.host, "sqlite:", "postgresql+")
            for secret in [*filter(None, named), *[d for d in [url.database or ""] if len(d) > 8]]:
                assert secret not in r.text, (path, secret, r.text[:400])
            assert "database" in r.text
    finally:
        with world.bridge.engine.begin() as c:
            c.execute(text("ALTER TABLE bridge_generation_away RENAME TO bridge_generation"))
    assert world.client.get("/api/submissions").status_code == 200
