"""Downloads keep any file name a CSO gave, in a header every client reads (#14)."""

from __future__ import annotations

from urllib.parse import unquote

from cgd_bridge.server.downloads import attachment
from tests.support.paths import ROOT
from tests.unit.server.conftest import World

KENYA = ROOT / "examples" / "kenya-health-scorecard"


def test_a_plain_name_is_plain() -> None:
    assert attachment("data.csv") == 'attachment; filename="data.csv"'


def test_any_name_gets_an_ascii_fallback_and_the_real_name() -> None:
    header = attachment('सर्वेक्षण "final".csv')
    header.encode("latin-1")  # what a header must be
    fallback, real = header.split("; filename*=UTF-8''")
    assert fallback == 'attachment; filename="___________final_.csv"'
    assert unquote(real) == 'सर्वेक्षण "final".csv'
    assert attachment("../../etc/passwd") == 'attachment; filename="passwd"'


def test_a_raw_file_with_a_devanagari_name_downloads(world: World) -> None:
    """Non-Latin-1 file names made /api/files/{id} a 500."""
    amina = {"Authorization": f"Bearer {world.keys['amina']}"}
    name = "स्कोरकार्ड.csv"
    r = world.client.post(
        "/api/submissions",
        headers=amina,
        data={"revision_note": "first"},
        files={
            "data": (name, (KENYA / "data.csv").read_bytes(), "text/csv"),
            "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
            "mapping": ("m.yaml", (ROOT / "mappings/kenya-health-scorecard.yaml").read_bytes(), "text/yaml"),
        },
    )
    assert r.status_code == 201, r.text[:500]
    (data,) = [f for f in r.json()["files"] if f["role"] == "data"]
    got = world.client.get(f"/api/files/{data['id']}", headers=amina)
    assert got.status_code == 200
    assert got.content == (KENYA / "data.csv").read_bytes()
    assert unquote(got.headers["content-disposition"].split("UTF-8''")[1]) == name
