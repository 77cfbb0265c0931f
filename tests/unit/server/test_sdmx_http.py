"""SDMX REST conformance of data queries and HTTP (#15): measures=, attributes=, SDMX-CSV
options, "no results", error messages per API version, compression, HEAD, conditional
requests and CORS (in-process, demo data)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from cgd_bridge.structures import Structures
from tests.support.demo import seeded_app
from tests.unit.server.conftest import World, publish

V1 = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
V2 = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0"
DATA_FORMATS = [
    "sdmx-ml-2.1-generic",
    "sdmx-ml-2.1-ss",
    "sdmx-ml-3.0-ss",
    "sdmx-json-2.0",
    "sdmx-csv-1.0",
    "sdmx-csv-2.0",
    "sdmx-ml-2.1-generic-ts",
    "sdmx-ml-2.1-ss-ts",
    "sdmx-json-1.0",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with seeded_app(tmp_path_factory.mktemp("http")) as (c, _, _):
        yield c


def unprepared(body: bytes) -> bytes:
    """An answer without its header's preparation time (two requests a second apart differ
    there and nowhere else)."""
    return re.sub(rb"<(\w+):Prepared>[^<]*</\1:Prepared>", b"<Prepared/>", body)


def csv_rows(client: TestClient, path: str) -> list[dict[str, str]]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.text)))


# -- 1. measures= and attributes= ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", DATA_FORMATS)
@pytest.mark.parametrize("base", [V1, V2])
def test_measures_none_in_every_format(client: TestClient, base: str, fmt: str) -> None:
    """measures=none: the observations without their value, never a 500 (issue #15)."""
    r = client.get(f"{base}?measures=none&format={fmt}")
    assert r.status_code == 200, r.text
    # SDMX-JSON 1.0 still relates observation attributes to the primary measure (the DSD's)
    assert b"OBS_VALUE" not in r.content.replace(b'"primaryMeasure": "OBS_VALUE"', b"")
    assert b"ObsValue" not in r.content
    assert b"TIME_PERIOD" in r.content or b"ObsDimension" in r.content or b'"id": "TIME' in r.content


def test_measures_names_a_measure(client: TestClient) -> None:
    rows = csv_rows(client, f"{V2}?measures=OBS_VALUE&format=sdmx-csv-2.0")
    assert "OBS_VALUE" in rows[0]
    r = client.get(f"{V2}?measures=POPULATION&format=sdmx-csv-2.0")
    assert r.status_code == 400
    assert "POPULATION" in r.text


def test_attributes_levels(client: TestClient) -> None:
    """attributes= dsd|all|none|msd|series|obs|dataset|ids (REST v2 data query)."""
    full = csv_rows(client, f"{V2}?format=sdmx-csv-2.0")
    assert {"OBS_STATUS", "UNIT_MEASURE"} <= set(full[0])
    assert set(csv_rows(client, f"{V2}?attributes=all&format=sdmx-csv-2.0")[0]) == set(full[0])
    none = csv_rows(client, f"{V2}?attributes=none&format=sdmx-csv-2.0")[0]
    assert "OBS_STATUS" not in none
    assert "UNIT_MEASURE" not in none
    assert "OBS_VALUE" in none
    msd = csv_rows(client, f"{V2}?attributes=msd&format=sdmx-csv-2.0")[0]
    assert "OBS_STATUS" not in msd
    assert "UNIT_MEASURE" not in msd
    series = csv_rows(client, f"{V2}?attributes=series&format=sdmx-csv-2.0")[0]
    assert "UNIT_MEASURE" in series
    assert "OBS_STATUS" not in series
    obs = csv_rows(client, f"{V2}?attributes=obs&format=sdmx-csv-2.0")[0]
    assert "OBS_STATUS" in obs
    assert "UNIT_MEASURE" not in obs
    both = csv_rows(client, f"{V2}?attributes=series,obs&format=sdmx-csv-2.0")[0]
    assert {"OBS_STATUS", "UNIT_MEASURE"} <= set(both)
    named = csv_rows(client, f"{V2}?attributes=OBS_STATUS&format=sdmx-csv-2.0")[0]
    assert "OBS_STATUS" in named
    assert "UNIT_MEASURE" not in named
    r = client.get(f"{V2}?attributes=NOT_AN_ATTRIBUTE&format=sdmx-csv-2.0")
    assert r.status_code == 400
    assert "NOT_AN_ATTRIBUTE" in r.text


def test_measures_and_attributes_none_together(client: TestClient) -> None:
    rows = csv_rows(client, f"{V2}?attributes=none&measures=none&format=sdmx-csv-2.0")
    assert "OBS_VALUE" not in rows[0]
    assert "OBS_STATUS" not in rows[0]
    assert "TIME_PERIOD" in rows[0]


@pytest.mark.parametrize("query", ["timeFormat=sometimes", "keys=all", "timeFormat=", "keys=SERIES"])
def test_csv_option_values_outside_the_spec_are_a_400(client: TestClient, query: str) -> None:
    r = client.get(f"{V2}?format=sdmx-csv-2.0&{query}")
    assert r.status_code == 400, r.text
    assert query.split("=")[0] in r.text


def test_csv_defaults_accepted(client: TestClient) -> None:
    for query in ("timeFormat=original", "keys=none", "labels=both"):
        assert client.get(f"{V2}?format=sdmx-csv-2.0&{query}").status_code == 200, query


#: DF_CGD_KE's dimensions in DSD order, TIME_PERIOD left out
DIMS = [
    str(d.id)
    for d in Structures().dataflow("CGD_BRIDGE:DF_CGD_KE(1.0)").structure.dimensions.components
    if d.id != "TIME_PERIOD"
]


def dims(row: dict[str, str]) -> list[str]:
    return [d for d in DIMS if d in row]


LEAD_20 = ["STRUCTURE", "STRUCTURE_ID", "ACTION"]


@pytest.mark.parametrize(
    ("base", "fmt", "lead"), [(V1, "sdmx-csv-1.0", ["DATAFLOW"]), (V2, "sdmx-csv-2.0", LEAD_20)]
)
@pytest.mark.parametrize("keys", ["series", "obs", "both"])
def test_csv_keys_columns_after_the_lead_columns(client: TestClient, base: str, fmt: str, lead, keys) -> None:
    """SDMX-CSV field guide: SERIES_KEY (every dimension but TIME_PERIOD) and/or OBS_KEY (every
    dimension), '.'-separated, right after ACTION (2.0) or DATAFLOW (1.0, which has no ACTION)."""
    r = client.get(f"{base}?format={fmt}&keys={keys}")
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    wanted = {"series": ["SERIES_KEY"], "obs": ["OBS_KEY"], "both": ["SERIES_KEY", "OBS_KEY"]}[keys]
    assert list(rows[0])[: len(lead) + len(wanted) + 1] == [*lead, *wanted, "FREQ"]
    for row in rows:
        series = ".".join(row[d] for d in dims(row))
        assert row.get("SERIES_KEY", series) == series
        assert row.get("OBS_KEY", f"{series}.{row['TIME_PERIOD']}") == f"{series}.{row['TIME_PERIOD']}"
    plain = list(csv.DictReader(io.StringIO(client.get(f"{base}?format={fmt}").text)))
    assert [{k: v for k, v in row.items() if k not in wanted} for row in rows] == plain


def test_csv_keys_by_another_observation_dimension_and_series_rows(client: TestClient) -> None:
    by_sex = csv_rows(client, f"{V2}?format=sdmx-csv-2.0&keys=series&dimensionAtObservation=SEX")
    assert all(
        r["SERIES_KEY"] == ".".join([*(r[d] for d in DIMS if d != "SEX"), r["TIME_PERIOD"]]) for r in by_sex
    )
    flat = csv_rows(client, f"{V2}?format=sdmx-csv-2.0&keys=series&dimensionAtObservation=AllDimensions")
    assert {r["SERIES_KEY"] for r in flat} == {""}  # every dimension is at the observation
    series = csv_rows(client, f"{V2}?format=sdmx-csv-2.0&keys=both&detail=serieskeysonly")
    assert all(r["SERIES_KEY"] == ".".join(r[d] for d in dims(r)) for r in series)
    assert {r["OBS_KEY"] for r in series} == {""}  # series rows have no observation


@pytest.mark.parametrize(("base", "fmt"), [(V1, "sdmx-csv-1.0"), (V2, "sdmx-csv-2.0")])
def test_csv_time_format_normalized_gives_the_start_date(client: TestClient, base: str, fmt: str) -> None:
    original = csv_rows(client, f"{base}?format={fmt}")
    normalized = csv_rows(client, f"{base}?format={fmt}&timeFormat=normalized")
    assert len(normalized) == len(original)
    for before, after in zip(original, normalized, strict=True):
        assert after["TIME_PERIOD"] == f"{before['TIME_PERIOD'][:4]}-01-01", before[
            "TIME_PERIOD"
        ]  # annual data
        assert {k: v for k, v in after.items() if k != "TIME_PERIOD"} == {
            k: v for k, v in before.items() if k != "TIME_PERIOD"
        }


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-generic", "sdmx-json-2.0", "sdmx-ml-3.0-ss"])
@pytest.mark.parametrize("query", ["timeFormat=normalized", "keys=both"])
def test_csv_options_with_another_format_are_a_400(client: TestClient, fmt: str, query: str) -> None:
    r = client.get(f"{V2}?format={fmt}&{query}")
    assert r.status_code == 400, r.text
    assert "SDMX-CSV" in r.text
    assert query.split("=")[0] in r.text


# -- 2. no results --------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [V1, V2])
def test_updated_after_every_publication_is_no_results(client: TestClient, base: str) -> None:
    """Anonymous updatedAfter later than every publication of open data: 'no results', not 401."""
    r = client.get(f"{base}?updatedAfter=2099-01-01T00:00:00Z", headers={"Accept": "application/xml"})
    assert r.status_code == 404, r.text
    assert 'code="100"' in r.text


# -- 3. error messages in the version of the API asked ---------------------------------------------


def test_v2_errors_are_sdmx_ml_30(client: TestClient) -> None:
    r = client.get(f"{V2}/ZZZ", headers={"Accept": "application/vnd.sdmx.data+xml;version=3.0.0"})
    assert r.status_code == 404
    root = etree.fromstring(r.content)
    assert root.tag == "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message}Error"
    assert root[0].get("code") == "100"


def test_v1_errors_stay_sdmx_ml_21(client: TestClient) -> None:
    r = client.get(f"{V1.removesuffix('/all')}/ZZZ.ZZZ")
    root = etree.fromstring(r.content)
    assert root.tag == "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message}Error"


def test_v2_json_error_is_sdmx_json_20(client: TestClient) -> None:
    r = client.get(f"{V2}/ZZZ", headers={"Accept": "application/vnd.sdmx.data+json;version=2.0.0"})
    assert r.status_code == 404
    body = r.json()
    assert body["meta"]["schema"].startswith("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/")
    assert body["errors"][0]["code"] == 100
    assert body["errors"][0]["title"]


@pytest.mark.parametrize("base", ["/sdmx/rest/dataflow", "/sdmx/v2/structure/dataflow"])
def test_405_and_406_codes(client: TestClient, base: str) -> None:
    r = client.put(base)
    assert r.status_code == 405
    assert 'code="1005"' not in r.text
    assert 'code="500"' not in r.text
    r406 = client.get(base, headers={"Accept": "text/html"})
    assert r406.status_code == 406
    code = etree.fromstring(r406.content)[0].get("code")
    assert code not in ("140", "500"), r406.text


# -- 4. HTTP: compression, HEAD, conditional requests, CORS ----------------------------------------


@pytest.mark.parametrize(
    "path",
    [f"{V1}?format=sdmx-csv-2.0", f"{V2}?format=sdmx-csv-2.0", "/sdmx/rest/dataflow",
     "/sdmx/v2/structure/codelist", "/sdmx/rest/availableconstraint/DF_CGD_KE"],
)  # fmt: skip
def test_gzip_by_accept_encoding(client: TestClient, path: str) -> None:
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    r = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert "Accept" in r.headers["vary"]
    assert unprepared(r.content) == unprepared(plain.content)  # httpx decodes
    assert int(r.headers["content-length"]) < len(plain.content)


@pytest.mark.parametrize(
    "path",
    [f"{V1}?format=sdmx-csv-2.0", f"{V2}?format=sdmx-csv-2.0", "/sdmx/rest/dataflow",
     "/sdmx/v2/structure/codelist", "/sdmx/rest/data/DF_CGD_KE"],
)  # fmt: skip
def test_brotli_is_preferred_and_decodes_to_the_same_smaller_answer(client: TestClient, path: str) -> None:
    """A client that takes br gets br (even when it names gzip first): the raw bytes are a real
    brotli stream of the identity answer, smaller than gzip's best."""
    import brotli

    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    with client.stream("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"}) as r:
        raw = b"".join(r.iter_raw())
        headers = r.headers
    assert headers["content-encoding"] == "br"
    assert "Accept-Encoding" in headers["vary"]
    assert unprepared(brotli.decompress(raw)) == unprepared(plain.content)
    assert int(headers["content-length"]) == len(raw)
    with client.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as g:
        gzipped = b"".join(g.iter_raw())
        assert g.headers["content-encoding"] == "gzip"
    assert len(raw) < len(gzipped) < len(plain.content)


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("br", "br"), ("gzip, br", "br"), ("br;q=0.5, gzip", "gzip"), ("br;q=0, gzip", "gzip"),
     ("gzip;q=0", "identity"), ("deflate", "identity"), ("*", "br"), ("*;q=0.1, gzip;q=0.9", "gzip"),
     ("BR ; Q=1.0", "br"), ("", "identity"), ("gzip;q=x", "identity"), ("identity", "identity")],
)  # fmt: skip
def test_the_encoding_follows_the_q_values(client: TestClient, accept: str, coding: str) -> None:
    from cgd_bridge.server.http import chosen_encoding

    assert chosen_encoding(accept) == coding
    r = client.get(f"{V2}?format=sdmx-csv-2.0", headers={"Accept-Encoding": accept})
    assert r.status_code == 200
    assert r.headers.get("content-encoding", "identity") == coding


def test_head_on_get_resources(client: TestClient) -> None:
    for path in (f"{V2}?format=sdmx-csv-2.0", "/sdmx/rest/dataflow", "/sdmx/v2/structure/dataflow"):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]


def test_structure_etag_and_304(client: TestClient) -> None:
    r = client.get("/sdmx/rest/dataflow")
    etag = r.headers["etag"]
    assert r.headers["last-modified"]
    again = client.get("/sdmx/rest/dataflow", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    since = client.get("/sdmx/rest/dataflow", headers={"If-Modified-Since": r.headers["last-modified"]})
    assert since.status_code == 304


def test_data_last_modified_and_if_modified_since(client: TestClient) -> None:
    r = client.get(f"{V2}?format=sdmx-csv-2.0")
    assert r.headers["etag"]
    assert r.headers["last-modified"]
    since = client.get(f"{V2}?format=sdmx-csv-2.0", headers={"If-Modified-Since": r.headers["last-modified"]})
    assert since.status_code == 304
    old = client.get(
        f"{V2}?format=sdmx-csv-2.0", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
    )
    assert old.status_code == 200


def test_cors_is_off_by_default(client: TestClient) -> None:
    r = client.get("/sdmx/rest/dataflow", headers={"Origin": "https://data.example.org"})
    assert "access-control-allow-origin" not in r.headers


# -- 5. availability ---------------------------------------------------------------------------------

AV2 = "/sdmx/v2/availability/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0"
AV1 = "/sdmx/rest/availableconstraint/CGD_BRIDGE,DF_CGD_KE,1.0"
JSON2 = {"Accept": "application/vnd.sdmx.structure+json;version=2.0.0"}
STR30 = "{http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure}"
STR21 = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"


def test_availability_json_is_read_by_pysdmx(client: TestClient) -> None:
    from pysdmx.io import read_sdmx

    r = client.get(AV2, headers=JSON2)
    assert r.status_code == 200, r.text
    assert "sdmx-json-structure-schema.json" in r.json()["meta"]["schema"]
    message = read_sdmx(r.text, validate=False)
    (constraint,) = message.get_availability_constraints()  # role Actual
    assert constraint.constraint_attachment.dataflows[0].endswith("CGD_BRIDGE:DF_CGD_KE(1.0)")
    regions = {kv.id: [v.value for v in kv.values] for kv in constraint.cube_region.key_values}
    assert "KE_003" in regions["REF_AREA"]


def test_availability_references_none_by_default(client: TestClient) -> None:
    data = client.get(AV2, headers=JSON2).json()["data"]
    assert set(data) == {"dataConstraints"}


@pytest.mark.parametrize(
    ("references", "members"),
    [
        ("datastructure", {"dataConstraints", "dataStructures"}),
        ("codelist", {"dataConstraints", "codelists"}),
        ("conceptscheme", {"dataConstraints", "conceptSchemes"}),
        ("dataflow", {"dataConstraints", "dataflows"}),
        ("dataproviderscheme", {"dataConstraints"}),  # none exist: what exists is returned
        ("all", {"dataConstraints", "dataStructures", "codelists", "conceptSchemes", "dataflows"}),
    ],
)
def test_availability_references_json(client: TestClient, references: str, members: set[str]) -> None:
    r = client.get(f"{AV2}?references={references}", headers=JSON2)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == members
    if "dataStructures" in members:
        assert [d["id"] for d in data["dataStructures"]]


def test_availability_references_xml(client: TestClient) -> None:
    v2 = etree.fromstring(client.get(f"{AV2}?references=codelist").content)
    assert v2.find(f".//{STR30}Codelists") is not None
    assert v2.find(f".//{STR30}DataConstraints") is not None
    assert v2.find(f".//{STR30}DataStructures") is None
    v1 = etree.fromstring(client.get(f"{AV1}?references=datastructure").content)
    assert v1.find(f".//{STR21}DataStructures") is not None
    assert v1.find(f".//{STR21}Constraints") is not None


def test_availability_references_refuses_others(client: TestClient) -> None:
    assert client.get(f"{AV2}?references=categoryscheme").status_code == 400


def test_cors_for_configured_origins(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cgd_bridge.server.app import create_app
    from cgd_bridge.settings import Settings

    origin = "https://data.example.org"
    settings = Settings(
        data_dir=tmp_path, rate_limit_per_minute=0, cors_origins=f"{origin}, https://nso.go.ke"
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/sdmx/rest/dataflow", headers={"Origin": origin})
        assert r.headers["access-control-allow-origin"] == origin
        assert "ETag" in r.headers["access-control-expose-headers"]
        assert "X-Request-ID" in r.headers["access-control-expose-headers"]  # a browser client may quote it
        other = c.get("/sdmx/rest/dataflow", headers={"Origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in other.headers
        preflight = c.options(
            "/sdmx/v2/structure/dataflow",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization, If-None-Match",
            },
        )
        assert preflight.status_code == 200
        assert "GET" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        api = c.get("/healthz", headers={"Origin": origin})  # the SDMX paths only
        assert "access-control-allow-origin" not in api.headers


def test_csv_options_in_the_accept_header(client: TestClient) -> None:
    accept = "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=series"
    r = client.get(V2, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert (
        r.headers["content-type"]
        == "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=series"
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert "SERIES_KEY" in rows[0]
    assert rows[0]["TIME_PERIOD"].endswith("-01-01")
    # the query parameter wins over the Accept header's
    r = client.get(f"{V2}?keys=none", headers={"Accept": accept})
    assert "SERIES_KEY" not in r.text.splitlines()[0]
    ok = client.get(V2, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;keys=none"})
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/vnd.sdmx.data+csv;version=2.0.0"
    bad = client.get(V2, headers={"Accept": "application/vnd.sdmx.data+csv;version=2.0.0;keys=maybe"})
    assert bad.status_code == 400


def test_streamed_answers_stay_streamed_when_gzipped(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large (streamed) answer is compressed chunk by chunk: no Content-Length, same bytes;
    it has Last-Modified (no ETag), and If-Modified-Since answers 304; HEAD sends no body."""
    from cgd_bridge.server.sdmx import service

    monkeypatch.setattr(service, "SMALL_RESPONSE_ROWS", 10)
    monkeypatch.setattr(service, "IN_LOOP_ROWS", 0)
    path = f"{V2}?format=sdmx-csv-2.0&startPeriod=2000"  # not a kept answer
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-length" not in plain.headers  # streamed
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-length" not in zipped.headers
    assert zipped.content == plain.content
    assert "etag" not in zipped.headers
    import brotli

    with client.stream("GET", path, headers={"Accept-Encoding": "br"}) as r:
        chunks = [c for c in r.iter_raw() if c]
        assert r.headers["content-encoding"] == "br"
        assert "content-length" not in r.headers
    assert len(chunks) > 1  # still streamed, chunk by chunk
    assert brotli.decompress(b"".join(chunks)) == plain.content
    since = client.get(path, headers={"If-Modified-Since": zipped.headers["last-modified"]})
    assert since.status_code == 304
    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""


def _gzip_level_flag(client: TestClient, path: str, **headers: str) -> tuple[int, bytes]:
    """The XFL byte of the gzip header of ``path``'s answer (2: zlib's best level, 9; 4: its
    fastest, 1; 0: any level between) and the decoded body."""
    import gzip

    with client.stream("GET", path, headers={"Accept-Encoding": "gzip", **headers}) as r:
        assert r.headers["content-encoding"] == "gzip"
        raw = b"".join(r.iter_raw())
    assert raw[:2] == b"\x1f\x8b"
    return raw[8], gzip.decompress(raw)


def test_streamed_answers_are_gzipped_at_a_cheaper_level_than_small_ones(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gzip's best level costs about 9x the SDMX-CSV writer on a full pull (0.67 s of CPU for
    38 MB against 0.08 s; level 6: 0.21 s for 3% more bytes), and sdmx1 (requests) and pysdmx
    (httpx) send ``Accept-Encoding: gzip`` unasked. As brotli's: the best level for a whole
    answer of up to 16 KiB, level 6 for a stream (and a larger whole answer); the bytes decode
    to the identity answer either way."""
    from cgd_bridge.server.sdmx import service

    small = f"{V2}?format=sdmx-csv-2.0&c[SEX]=F&c[AGE]=_T"
    flag, body = _gzip_level_flag(client, small)
    assert 1024 <= len(body) <= 16 * 1024
    assert flag == 2, "a small whole answer: gzip level 9"
    assert body == client.get(small, headers={"Accept-Encoding": "identity"}).content
    monkeypatch.setattr(service, "SMALL_RESPONSE_ROWS", 10)
    monkeypatch.setattr(service, "IN_LOOP_ROWS", 0)
    streamed = f"{V2}?format=sdmx-csv-2.0&startPeriod=2001"  # not a kept answer
    plain = client.get(streamed, headers={"Accept-Encoding": "identity"})
    assert "content-length" not in plain.headers  # streamed
    flag, body = _gzip_level_flag(client, streamed)
    assert flag == 0, "a stream: gzip level 6, not 9 (2) nor 1 (4)"
    assert body == plain.content


def _unstamped(body: bytes) -> bytes:
    """``body`` without what differs between two requests: the message's ID and prepared time."""
    import re

    body = re.sub(rb"<([\w:]*)(ID|Prepared)>[^<]*</\1\2>", rb"<\1\2/>", body)
    return re.sub(rb'"(id|prepared)":\s*"[^"]*"', rb'"\1": ""', body)


@pytest.mark.parametrize(
    "fmt",
    [
        "sdmx-csv-1.0",
        "sdmx-csv-2.0",
        "sdmx-ml-2.1-ss",
        "sdmx-ml-2.1-generic",
        "sdmx-ml-3.0-ss",
        "sdmx-json-2.0",
    ],
)
def test_a_streamed_answer_is_the_writers_bytes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The same query answered whole (the writer into memory, sent with a Content-Length) and
    streamed (the writer in its thread, chunk by chunk through the event loop, in chunks far
    smaller than the answer): the same bytes in every data format, but for the message's ID and
    prepared time."""
    from cgd_bridge.server import streaming
    from cgd_bridge.server.sdmx import service

    path = f"{V2}?format={fmt}&startPeriod=1998"  # no other test asks it: not a kept answer yet
    monkeypatch.setattr(service, "SMALL_RESPONSE_ROWS", 10)
    monkeypatch.setattr(service, "IN_LOOP_ROWS", 0)
    monkeypatch.setattr(streaming.astream, "__kwdefaults__", {"chunk": 4096})  # many chunks
    with client.stream("GET", path, headers={"Accept-Encoding": "identity"}) as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers  # streamed
        chunks = [c for c in r.iter_raw() if c]
    monkeypatch.undo()
    whole = client.get(path, headers={"Accept-Encoding": "identity"})
    assert whole.status_code == 200
    assert "content-length" in whole.headers  # written whole
    assert _unstamped(b"".join(chunks)) == _unstamped(whole.content)


def test_tiny_answers_are_not_compressed(client: TestClient) -> None:
    for accept in ("gzip", "br", "gzip, br"):
        r = client.get(f"{V2}/ZZZ", headers={"Accept-Encoding": accept})
        assert r.status_code == 404
        assert len(r.content) < 1024
        assert "content-encoding" not in r.headers


def test_updated_after_on_both_databases(world: World, kenya) -> None:  # type: ignore[no-untyped-def]
    """Nothing newer in data one may read is 'no results' (404/100), signed in or not (SQLite
    and PostgreSQL)."""
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    later = "?updatedAfter=2099-01-01T00:00:00Z"
    earlier = "?updatedAfter=2001-01-01T00:00:00Z"
    assert world.get(world.series + earlier) == 200
    assert world.get(world.series + later) == 404  # anonymous, open data: nothing new
    assert world.get(world.series + later, "kamau") == 404
    r = world.client.get(world.series + later, headers={"Accept": "application/xml"})
    assert 'code="100"' in r.text


def test_updated_after_on_restricted_data(world: World, kenya) -> None:  # type: ignore[no-untyped-def]
    """Data one may not read stays a 401 whatever updatedAfter says; with the MoU, 404/100."""
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "closed", is_open=False)
    later = "?updatedAfter=2099-01-01T00:00:00Z"
    assert world.get(world.series + later) == 401
    assert world.get(world.series, "kamau") == 200
    assert world.get(world.series + later, "kamau") == 404


def test_gzipped_answers_have_a_weak_etag_that_still_matches(client: TestClient) -> None:
    path = f"{V2}?format=sdmx-csv-2.0"
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    zipped = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["etag"] == "W/" + plain.headers["etag"]
    again = client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})
    assert again.status_code == 304
    br = client.get(path, headers={"Accept-Encoding": "br"})
    assert br.headers["content-encoding"] == "br"
    assert br.headers["etag"] == "W/" + plain.headers["etag"]
    again = client.get(path, headers={"Accept-Encoding": "br", "If-None-Match": br.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "query",
    [
        "offset=10",
        "limit=5",
        "sort=TIME_PERIOD",
        "asOf=2024-01-01T00:00:00Z",
        "reportingYearStartDay=--07-01",
    ],
)
def test_unapplied_data_parameters_are_501(client: TestClient, query: str) -> None:
    r = client.get(f"{V2}?{query}")
    assert r.status_code == 501
    assert query.split("=")[0] in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/sdmx/rest/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0",
        "/sdmx/v2/structure/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0",
        "/sdmx/rest/availableconstraint/CGD_BRIDGE,DF_CGD_KE,1.0/all",
        "/sdmx/v2/availability/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*",
    ],
)
@pytest.mark.parametrize("query", ["keys=both", "timeFormat=normalized"])
def test_csv_options_elsewhere_are_refused_not_ignored(client: TestClient, path: str, query: str) -> None:
    """Structure and availability answers are not SDMX-CSV data: a non-default option is a 400."""
    r = client.get(f"{path}?{query}")
    assert r.status_code == 400, r.text
    assert query.split("=")[0] in r.text
    default = "keys=none" if query.startswith("keys") else "timeFormat=original"
    assert client.get(f"{path}?{default}").status_code == 200


def test_data_queries_are_answered_by_the_plain_routes_and_still_documented(tmp_path) -> None:
    """The data routes come first in the route table as plain Starlette routes (no FastAPI
    dependency solving per request), while /docs still describes the FastAPI ones."""
    from fastapi.testclient import TestClient
    from starlette.routing import Route

    from cgd_bridge.server.app import create_app
    from cgd_bridge.settings import Settings

    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0))
    first = app.router.routes[:5]
    assert all(type(r) is Route and "/data/" in r.path for r in first)
    assert {r.path for r in first} == {
        "/sdmx/rest/data/{flow}",
        "/sdmx/rest/data/{flow}/{key}",
        "/sdmx/rest/data/{flow}/{key}/{provider}",
        "/sdmx/v2/data/{context}/{agency}/{resource_id}/{version}",
        "/sdmx/v2/data/{context}/{agency}/{resource_id}/{version}/{key}",
    }
    with TestClient(app) as client:
        paths = client.get(app.openapi_url).json()["paths"]
        assert "/sdmx/rest/data/{flow}/{key}" in paths
        assert "/sdmx/v2/data/{context}/{agency}/{resource_id}/{version}/{key}" in paths
        # a wrong key is a 401, not the anonymous answer; a bad context a 400 (SDMX error)
        bad = {"Authorization": "Bearer cgdb_nothere_wrong"}
        assert client.get("/sdmx/rest/data/DF_CGD_KE/all", headers=bad).status_code == 401
        r = client.get("/sdmx/v2/data/nonsense/*/DF_CGD_KE/+/*")
        assert r.status_code == 400
        assert "nonsense" in r.text
