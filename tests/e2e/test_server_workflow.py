"""The submission workflow over real HTTP: submit, review, publish, supersede, withdraw, audit, lineage.

A CSO uploads a new version of its dataset (multipart); the NSO with the MoU accepts and
publishes it; the previous version is superseded; pulls are logged and the CSO sees who pulled
its data; every observation traces back to the source rows and the files' SHA-256; withdrawal
hides the data; broken uploads store nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.paths import ROOT
from tests.support.server import LiveServer

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
DATA_URL = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0"


def files(data: Path = KENYA / "data.csv") -> dict[str, Any]:
    return {
        "data": (data.name, data.read_bytes(), "text/csv"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
        "mapping": ("mapping.yaml", MAPPING.read_bytes(), "application/yaml"),
    }


def versions_of(live: LiveServer, user: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{live.url}/api/submissions", headers=live.headers(user), timeout=30)
    r.raise_for_status()
    return [v for s in r.json() if s["dataset"] == "ke-health-scorecard-2024" for v in s["versions"]]


@pytest.fixture(scope="module")
def client(live: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=live.url, timeout=120) as c:
        yield c


def test_a_new_version_goes_through_review_to_publication(live: LiveServer, client: httpx.Client) -> None:
    amina, kamau, bikash = (live.headers(u) for u in ("amina", "kamau", "bikash"))
    # a second version needs a revision note
    r = client.post("/api/submissions", files=files(), headers=amina, data={"submit": "true"})
    assert r.status_code == 400, r.text
    assert "revision" in r.json()["error"]["message"]
    r = client.post(
        "/api/submissions",
        files=files(),
        headers=amina,
        data={"submit": "true", "revision_note": "Kilifi tallies reconciled."},
    )
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert (v2["number"], v2["state"], v2["producer"]) == (2, "submitted", "sauti")
    assert v2["dsat_score"] is not None
    assert v2["coverage"]["complete"] is True
    uploaded = {f["role"]: f["sha256"] for f in v2["files"]}
    assert uploaded["data"] == hashlib.sha256((KENYA / "data.csv").read_bytes()).hexdigest()

    # the CSO cannot accept its own data; an NSO without an MoU cannot see it at all
    assert client.post(f"/api/versions/{v2['id']}/accept", headers=amina).status_code == 403
    assert client.post(f"/api/versions/{v2['id']}/accept", headers=bikash).status_code == 404
    assert client.get(f"/api/versions/{v2['id']}").status_code == 404  # the public does not see it yet
    # publishing before acceptance is an illegal transition, named as such
    r = client.post(f"/api/versions/{v2['id']}/publish", headers=kamau)
    assert r.status_code == 409
    assert "accepted" in r.json()["error"]["message"]

    r = client.post(
        f"/api/versions/{v2['id']}/accept", headers=kamau, json={"comment": "Consistent with v1."}
    )
    assert r.json()["state"] == "accepted"
    r = client.post(f"/api/versions/{v2['id']}/publish", headers=kamau)
    assert r.json()["state"] == "published"
    assert r.json()["published_at"]
    states = {v["number"]: v["state"] for v in versions_of(live, "amina")}
    assert states == {1: "superseded", 2: "published"}

    # the public pulls v2; kamau too; sauti sees both pulls with their counts
    assert client.get(DATA_URL, headers={"Accept": "text/csv"}).status_code == 200
    r = client.get(DATA_URL + "/A.N.SP_PSR_SATIS.KE_042", headers={**kamau, "Accept": "text/csv"})
    assert r.status_code == 400  # a v1 key must name every dimension
    r = client.get(DATA_URL + "/A.N.SP_PSR_SATIS.KE_042...........", headers={**kamau, "Accept": "text/csv"})
    assert r.status_code == 200
    sent = int(r.headers["X-Observations"])
    pulls = client.get("/api/organisations/sauti/pulls", headers=amina).json()
    mine = [p for p in pulls if p["organisation"] == "knbs"]
    assert mine
    assert mine[0]["observations"] == sent
    assert mine[0]["version"] == 2
    assert "KE_042" in mine[0]["query"]
    assert client.get("/api/organisations/sauti/pulls", headers=kamau).status_code == 403

    # lineage: an observation back to its source rows and the uploaded files; the source rows
    # are the producing CSO's (and admins'), the NSO gets the published view (#12)
    key = {"REF_AREA": "KE_042", "SEX": "F", "AGE": "_T", "DISABILITY_STATUS": "PD", "TIME_PERIOD": "2024"}
    r = client.get(f"/api/versions/{v2['id']}/lineage", params=key, headers=kamau)
    assert r.status_code == 200, r.text
    assert r.json()["source_rows"] == []
    assert r.json()["redacted"]
    r = client.get(f"/api/versions/{v2['id']}/lineage", params=key, headers=amina)
    assert r.status_code == 200, r.text
    lineage = r.json()
    assert lineage["version"]["number"] == 2
    assert lineage["source_rows"]
    assert {f["role"]: f["sha256"] for f in lineage["files"]} == uploaded
    lines = (KENYA / "data.csv").read_text().splitlines()
    row = lines[lineage["source_rows"][0] - 1]
    assert "Kisumu" in row
    assert "Female" in row

    # the audit trail of the version
    history = client.get(f"/api/versions/{v2['id']}/history", headers=amina).json()
    actions = [h["action"] for h in history]
    assert (
        actions.index("version.submitted")
        < actions.index("version.accepted")
        < actions.index("version.published")
    )
    assert all(h["user"] for h in history if h["action"] != "data.pulled")

    # withdrawal hides the data from every pull (v1 is superseded and does not come back)
    r = client.post(
        f"/api/versions/{v2['id']}/withdraw", headers=amina, json={"reason": "a wrong county code"}
    )
    assert r.json()["state"] == "withdrawn"
    assert client.get(DATA_URL).status_code == 404
    assert client.get(DATA_URL, headers=kamau).status_code == 404
    assert client.get(f"/api/versions/{v2['id']}", headers=kamau).status_code == 404
    assert client.get(f"/api/versions/{v2['id']}", headers=amina).json()["state"] == "withdrawn"


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("data.csv", b"", 400, "empty"),
        ("data.xlsx", b"PK\x03\x04 not really a workbook", 400, "data.xlsx"),
        ("data.csv", (ROOT / "examples/broken/type-error/data.csv").read_bytes(), 422, "error"),
    ],
)
def test_broken_uploads_store_nothing(
    live: LiveServer, client: httpx.Client, name: str, content: bytes, status: int, words: str
) -> None:
    before = len(versions_of(live, "amina"))
    upload = files()
    upload["data"] = (name, content, "application/octet-stream")
    r = client.post(
        "/api/submissions", files=upload, headers=live.headers("amina"), data={"revision_note": "retry"}
    )
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["error"]["message"]
    assert "Traceback" not in r.text
    if status == 422:
        assert body["report"]["valid"] is False
        assert body["report"]["tasks"]
    assert len(versions_of(live, "amina")) == before


def test_a_dataflow_the_server_does_not_know_stores_nothing(live: LiveServer, client: httpx.Client) -> None:
    """Codes that cannot be checked against a structure are never stored (unknown-dataflow)."""
    before = len(versions_of(live, "amina"))
    upload = files()
    mapping = (ROOT / "examples/broken/unknown-dataflow/mapping.yaml").read_bytes()
    upload["mapping"] = ("mapping.yaml", mapping, "application/yaml")
    r = client.post(
        "/api/submissions", files=upload, headers=live.headers("amina"), data={"revision_note": "retry"}
    )
    assert r.status_code == 422, r.text
    codes = {e["type"] for task in r.json()["report"]["tasks"] for e in task["errors"]}
    assert "unknown-dataflow" in codes
    assert len(versions_of(live, "amina")) == before


def test_submitting_needs_a_submitter_key(live: LiveServer, client: httpx.Client) -> None:
    assert client.post("/api/submissions", files=files()).status_code == 401
    r = client.post(
        "/api/submissions", files=files(), headers={"Authorization": "Bearer cgdb_000000000000_nope"}
    )
    assert r.status_code == 401
    r = client.post(
        "/api/submissions", files=files(), headers=live.headers("kamau"), data={"revision_note": "x"}
    )
    assert r.status_code == 403
