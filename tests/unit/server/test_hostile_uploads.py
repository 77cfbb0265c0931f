"""Hostile uploads through the API's upload routes (#14): a clear 400 naming the file, never a 500.

The findings: a 342-byte YAML alias bomb took a worker to gigabytes and a 500 "through
``/api/validate``, ``/api/submissions``"; entities in an XLSX and random binary data gave 500s
or "failed unexpectedly" with no location. The readers' limits are tested on their own
(``tests/unit/test_safeyaml.py``, ``tests/unit/ingest/``); here the same inputs go through the
server's routes, which read them in a worker process (``server/jobs.py``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.demo import seed
from cgd_bridge.settings import Settings
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
ALIAS_BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
ENTITIES = (
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("hostile"), rate_limit_per_minute=0))
    with TestClient(app) as client:
        bridge = app.state.bridge  # type: ignore[attr-defined]
        with bridge.sessions() as session:
            keys = seed(session, bridge.structures, examples=()).keys
        yield client, {"Authorization": f"Bearer {keys['amina']}"}


def _entity_xlsx() -> bytes:
    """The Kenya example as an XLSX whose sheet declares nested entities and uses one."""
    openpyxl = pytest.importorskip("openpyxl", reason="openpyxl (a test dependency) writes the XLSX")
    book = openpyxl.Workbook()
    sheet = book.active
    for line in (KENYA / "data.csv").read_text(encoding="utf-8").splitlines():
        sheet.append(line.split(","))
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                cut = text.index("?>") + 2 if "?>" in text else 0
                data = (text[:cut] + ENTITIES + text[cut:]).replace("Kisumu", "&c;", 1).encode()
            zout.writestr(item, data)
    return out.getvalue()


def _files(**override: tuple[str, bytes]) -> dict[str, tuple[str, bytes, str]]:
    files = {
        "data": ("data.csv", (KENYA / "data.csv").read_bytes()),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes()),
        "mapping": ("mapping.yaml", MAPPING.read_bytes()),
        **override,
    }
    return {role: (name, content, "application/octet-stream") for role, (name, content) in files.items()}


CASES = {
    "alias-bomb-metadata": ({"metadata": ("quality.yaml", ALIAS_BOMB.encode())}, "quality.yaml", "aliases"),
    "alias-bomb-mapping": (
        {
            "mapping": (
                "mapping.yaml",
                ("profile: cgd-mapping/1.0\nschema:\n  " + ALIAS_BOMB.replace("\n", "\n  ")).encode(),
            )
        },
        "mapping.yaml",
        "aliases",
    ),
    "random-binary-data": ({"data": ("data.csv", bytes(range(256)) * 64)}, "data.csv", "not a text"),
}


@pytest.mark.parametrize("route", ["/api/validate", "/api/submissions"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_upload_is_a_400_naming_its_file(
    api: tuple[TestClient, dict[str, str]], route: str, case: str
) -> None:
    client, amina = api
    override, name, words = CASES[case]
    r = client.post(route, files=_files(**override), headers=amina)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith(name), message
    assert words in message, message
    assert client.get("/api/submissions", headers=amina).json() == []  # nothing stored


def test_entities_in_an_xlsx_are_a_400_naming_the_file(api: tuple[TestClient, dict[str, str]]) -> None:
    client, amina = api
    r = client.post("/api/validate", files=_files(data=("scores.xlsx", _entity_xlsx())), headers=amina)
    assert r.status_code == 400, r.text
    message = r.json()["error"]["message"]
    assert message.startswith("scores.xlsx"), message
    assert "entity" in message, message


def test_the_same_upload_without_the_hostile_part_passes(api: tuple[TestClient, dict[str, str]]) -> None:
    client, amina = api
    r = client.post("/api/validate", files=_files(), headers=amina)
    assert r.status_code == 200, r.text
    assert r.json()["valid"] is True
