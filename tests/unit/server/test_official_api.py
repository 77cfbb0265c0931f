"""Official series over the JSON API (#5): the role matrix (a CSO cannot load, another NSO cannot
see a private one), errors naming row and column, listing, public flag, file, delete; OpenAPI."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.official import DATAFLOW, LABEL, broken_csv, official_csv
from tests.support.postgres import fresh_schema
from tests.unit.server.test_web import Demo, _demo


@pytest.fixture(params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Demo]:
    if request.param == "sqlite":
        with _demo(tmp_path) as d:
            yield d
        return
    with fresh_schema("cgdb_official") as url, _demo(tmp_path, url) as d:
        yield d


def _auth(demo: Demo, who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {demo.keys[who]}"} if who else {}


def _load(demo: Demo, who: str | None, content: bytes | None = None, **form: str):
    data = {"dataflow": DATAFLOW, "label": LABEL, **form}
    return demo.client.post(
        "/api/official",
        headers=_auth(demo, who),
        data=data,
        files={"file": ("kdhs.csv", official_csv() if content is None else content, "text/csv")},
    )


def _ids(demo: Demo, who: str | None) -> list[int]:
    r = demo.client.get("/api/official", headers=_auth(demo, who), params={"dataflow": DATAFLOW})
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()]


def test_role_matrix_of_loading_and_seeing(demo: Demo) -> None:
    assert _load(demo, None).status_code == 401
    r = _load(demo, "amina")  # a CSO submitter
    assert r.status_code == 403, r.text
    assert "reviewer" in r.json()["error"]["message"]
    r = _load(demo, "bikash", nso="knbs")  # a reviewer of another NSO, for KNBS
    assert r.status_code == 403, r.text
    r = _load(demo, "admin")  # an admin must say for which NSO
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "nso"
    r = _load(demo, "kamau")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["nso"] == "knbs"
    assert body["dataflow"] == DATAFLOW
    assert body["public"] is False
    assert body["observations"] == 60
    assert body["loaded_by"] == "kamau"
    assert body["file"]["sha256"] == hashlib.sha256(official_csv()).hexdigest()
    sid = body["id"]
    # private: its NSO and admins see it; the CSO, another NSO and the public do not
    assert _ids(demo, "kamau") == [sid]
    assert _ids(demo, "admin") == [sid]
    for who in ("amina", "bikash", None):
        assert _ids(demo, who) == []
        assert demo.client.get(f"/api/official/{sid}", headers=_auth(demo, who)).status_code == 404
        assert demo.client.get(f"/api/official/{sid}/file", headers=_auth(demo, who)).status_code == 404
    # another NSO cannot change or delete it either
    assert demo.client.put(f"/api/official/{sid}/public", headers=_auth(demo, "bikash"),
                           json={"public": True}).status_code == 404  # fmt: skip
    assert demo.client.delete(f"/api/official/{sid}", headers=_auth(demo, "bikash")).status_code == 404
    # public: everyone sees it and its file
    r = demo.client.put(f"/api/official/{sid}/public", headers=_auth(demo, "kamau"), json={"public": True})
    assert r.status_code == 200, r.text
    assert r.json()["public"] is True
    for who in ("amina", "bikash", None):
        assert _ids(demo, who) == [sid]
    assert demo.client.get(f"/api/official/{sid}/file").content == official_csv()
    # but only its NSO (or an admin) deletes it
    assert demo.client.delete(f"/api/official/{sid}", headers=_auth(demo, "bikash")).status_code == 403
    assert demo.client.delete(f"/api/official/{sid}", headers=_auth(demo, "amina")).status_code == 403
    assert demo.client.delete(f"/api/official/{sid}", headers=_auth(demo, "admin")).status_code == 204
    assert _ids(demo, "kamau") == []


def test_a_bad_file_is_a_400_naming_rows_and_columns(demo: Demo) -> None:
    r = _load(demo, "kamau", broken_csv())
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["file"] == "kdhs.csv"
    assert "row 2, column 'SEX': 'Femme' is not a code of IAEG-SDGs:CL_SEX(1.1)" in error["message"]
    assert "row 4, column 'OBS_VALUE': 'n/a' is not a number" in error["message"]
    assert error["fix"]
    r = _load(demo, "kamau", b"this is not SDMX\n")
    assert r.status_code == 400
    assert "SDMX" in r.json()["error"]["message"]
    r = _load(demo, "kamau", dataflow="NOPE:DF_NOTHING(1.0)")
    assert r.status_code == 400
    assert "DF_NOTHING" in r.json()["error"]["message"]
    assert _ids(demo, "kamau") == []


def test_the_endpoints_are_in_the_openapi_document(demo: Demo) -> None:
    spec = demo.client.get("/openapi.json").json()
    assert "post" in spec["paths"]["/api/official"]
    assert "get" in spec["paths"]["/api/official"]
    assert "delete" in spec["paths"]["/api/official/{series_id}"]
    assert "put" in spec["paths"]["/api/official/{series_id}/public"]
    body = spec["paths"]["/api/official"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body
