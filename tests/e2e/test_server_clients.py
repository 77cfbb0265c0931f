"""Real SDMX clients against a real server: sdmx1's Client (v1, v2) and pysdmx (RestService, RegistryClient).

A CSO's published dataset must reach an NSO's tools unchanged: every observation the clients
get equals the harmonised dataset the pipeline made from the example, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
import sdmx

from tests.support.server import LiveServer

FLOW = "DF_CGD_KE"
AGENCY = "CGD_BRIDGE"


def expected_values(expected: dict[str, Any]) -> dict[tuple[str, ...], float | None]:
    table: pa.Table = expected["table"]
    dims = [*expected["dimensions"], "TIME_PERIOD"]
    rows = table.select([*dims, "OBS_VALUE"]).to_pylist()
    return {tuple(r[d] for d in dims): r["OBS_VALUE"] for r in rows}


def same(a: float | None, b: float | None) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return b is not None and abs(a - b) < 1e-9


def from_pandas(series: Any, dims: list[str]) -> dict[tuple[str, ...], float | None]:
    out = {}
    names = list(series.index.names)
    for idx, value in series.items():
        labels = dict(zip(names, idx if isinstance(idx, tuple) else (idx,), strict=True))
        out[tuple(str(labels[d]) for d in [*dims, "TIME_PERIOD"])] = float(value)
    return out


def check_against(got: dict[tuple[str, ...], float | None], expected: dict[str, Any]) -> None:
    want = expected_values(expected)
    with_values = {k: v for k, v in want.items() if v is not None}
    assert set(got) >= set(with_values), sorted(set(with_values) - set(got))[:5]
    assert set(got) <= set(want), sorted(set(got) - set(want))[:5]
    bad = [k for k, v in got.items() if not same(want[k], v)]
    assert not bad, bad[:5]


# -- sdmx1 ---------------------------------------------------------------------------------------


@pytest.fixture
def sdmx1_v1(live: LiveServer) -> Any:
    sdmx.add_source({"id": AGENCY, "url": f"{live.url}/sdmx/rest", "name": "cgd-bridge test"}, override=True)
    return sdmx.Client(AGENCY)


@pytest.fixture
def sdmx1_v2(live: LiveServer) -> Any:
    sdmx.add_source(
        {"id": AGENCY, "url": f"{live.url}/sdmx/v2", "name": "cgd-bridge test v2", "versions": ["3.0.0"]},
        override=True,
    )
    return sdmx.Client(AGENCY)


def test_sdmx1_lists_and_reads_structures(sdmx1_v1: Any) -> None:
    flows = sdmx1_v1.dataflow()
    assert FLOW in flows.dataflow
    msg = sdmx1_v1.dataflow(FLOW)  # sdmx1 adds references=all
    dsd = msg.structure["CGD_KE"]
    assert [d.id for d in dsd.dimensions.components][:4] == ["FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA"]
    cl = sdmx1_v1.codelist("CL_DISABILITY", agency_id="IAEG-SDGs").codelist["CL_DISABILITY"]
    assert str(cl["PD"].name) == "Persons with disability"
    assert str(cl["PWD"].name) == "Persons without disability"


def test_sdmx1_v1_data_equals_the_harmonised_dataset(sdmx1_v1: Any, kenya_expected: dict[str, Any]) -> None:
    msg = sdmx1_v1.data(FLOW)  # Accept: */* -> SDMX-ML 2.1 generic
    series = sdmx.to_pandas(msg.data[0])
    check_against(from_pandas(series, kenya_expected["dimensions"]), kenya_expected)


def test_sdmx1_v1_key_and_params(sdmx1_v1: Any, kenya_expected: dict[str, Any]) -> None:
    key = {"REF_AREA": ["KE_042", "KE_003"], "SEX": "F"}  # sdmx1 builds the 15-part key from the DSD
    msg = sdmx1_v1.data(FLOW, key=key, params={"startPeriod": "2024", "lastNObservations": 1})
    got = from_pandas(sdmx.to_pandas(msg.data[0]), kenya_expected["dimensions"])
    assert got
    assert {k[3] for k in got} <= {"KE_042", "KE_003"}
    assert {k[4] for k in got} == {"F"}
    check_against(got, {**kenya_expected, "table": _subset(kenya_expected, got)})


def _subset(expected: dict[str, Any], got: dict[tuple[str, ...], Any]) -> pa.Table:
    dims = [*expected["dimensions"], "TIME_PERIOD"]
    table: pa.Table = expected["table"]
    keep = [tuple(r[d] for d in dims) in got for r in table.select(dims).to_pylist()]
    return table.filter(pa.array(keep))


def test_sdmx1_v1_structure_specific_with_dsd(sdmx1_v1: Any, kenya_expected: dict[str, Any]) -> None:
    dsd = sdmx1_v1.dataflow(FLOW).structure["CGD_KE"]
    msg = sdmx1_v1.data(FLOW, dsd=dsd)  # sdmx1 asks for structure-specific data when given the DSD
    check_against(from_pandas(sdmx.to_pandas(msg.data[0]), kenya_expected["dimensions"]), kenya_expected)


def test_sdmx1_v2_data_and_structures(sdmx1_v2: Any, kenya_expected: dict[str, Any]) -> None:
    flows = sdmx1_v2.dataflow()
    assert FLOW in flows.dataflow
    msg = sdmx1_v2.data(FLOW)  # /sdmx/v2/data/*/CGD_BRIDGE/DF_CGD_KE/+ -> SDMX-ML 3.0
    check_against(from_pandas(sdmx.to_pandas(msg.data[0]), kenya_expected["dimensions"]), kenya_expected)


def test_sdmx1_no_results_is_an_http_error(sdmx1_v1: Any) -> None:
    import requests

    with pytest.raises(requests.HTTPError) as err:
        sdmx1_v1.data(FLOW, key="A.N.SP_PSR_SATIS.KE_001.F.Y18T24._T._T._T._T._T._T.PD._T._T")
    assert err.value.response.status_code == 404


# -- pysdmx --------------------------------------------------------------------------------------


def _pysdmx_values(message: Any, dims: list[str]) -> dict[tuple[str, ...], float | None]:
    frame = message.data[0].data
    out = {}
    for rec in frame.to_dict("records"):
        value = rec.get("OBS_VALUE")
        value = (
            None if value in (None, "") or (isinstance(value, float) and math.isnan(value)) else float(value)
        )
        out[tuple(str(rec[d]) for d in [*dims, "TIME_PERIOD"])] = value
    return out


@pytest.mark.parametrize(
    ("api", "fmt"),
    [
        ("V1_5_0", "SDMX_CSV_1_0_0"),
        ("V1_5_0", "SDMX_ML_2_1_STR"),
        ("V1_5_0", "SDMX_ML_2_1_GEN"),
        ("V1_5_0", "SDMX_ML_2_1_GENTS"),  # the time-series messages (#15)
        ("V1_5_0", "SDMX_ML_2_1_STRTS"),
        ("V2_0_0", "SDMX_CSV_2_0_0"),
        ("V2_0_0", "SDMX_ML_3_0"),
        ("V2_1_0", "SDMX_CSV_2_0_0"),
    ],
)
def test_pysdmx_rest_service(live: LiveServer, kenya_expected: dict[str, Any], api: str, fmt: str) -> None:
    from pysdmx.api.qb import ApiVersion, DataContext, DataFormat, DataQuery, RestService
    from pysdmx.io import read_sdmx

    endpoint = f"{live.url}/sdmx/rest" if api.startswith("V1") else f"{live.url}/sdmx/v2"
    service = RestService(
        endpoint, getattr(ApiVersion, api), data_format=getattr(DataFormat, fmt), timeout=60
    )
    query = DataQuery(context=DataContext.DATAFLOW, agency_id=AGENCY, resource_id=FLOW, version="1.0")
    raw = service.data(query)
    message = read_sdmx(raw.decode() if isinstance(raw, bytes) else raw, validate=True)
    got = _pysdmx_values(message, kenya_expected["dimensions"])
    want = expected_values(kenya_expected)
    assert set(got) == set(want)
    assert all(same(want[k], got[k]) or (want[k] is None and got[k] is None) for k in want)


def test_pysdmx_registry_client_reads_structures(live: LiveServer) -> None:
    from pysdmx.api.fmr import RegistryClient

    client = RegistryClient(f"{live.url}/sdmx/v2", timeout=60)
    codes = client.get_codes("IAEG-SDGs", "CL_DISABILITY", "1.0")
    names = {c.id: c.name for c in codes}
    assert names["PD"] == "Persons with disability"
    flow = client.get_dataflow_details(AGENCY, FLOW, "1.0")
    assert [c.id for c in flow.components.dimensions][:3] == ["FREQ", "REPORTING_TYPE", "SERIES"]
    sex = flow.components["SEX"]
    assert sex.enumeration is not None
    assert "F" in [c.id for c in sex.enumeration]


def test_pysdmx_registry_client_finds_agencies_and_providers(live: LiveServer) -> None:
    """The SDMX way to discover who provides data: the CSOs of the demo's published (open)
    submissions, with the dataflows they provide data for."""
    from pysdmx.api.fmr import RegistryClient

    client = RegistryClient(f"{live.url}/sdmx/v2", timeout=60)
    assert {"CGD_BRIDGE", "IAEG-SDGs", "SAUTI", "YUWA"} <= {a.id for a in client.get_agencies("SDMX")}
    providers = {p.id: p for p in client.get_providers("CGD_BRIDGE", with_flows=True)}
    assert set(providers) == {"sauti", "yuwa"}
    assert {f.id for f in providers["sauti"].dataflows or ()} == {FLOW}


# -- plain HTTP: content negotiation and errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "accept", "status", "content_type"),
    [
        ("/sdmx/rest/data/DF_CGD_KE", "*/*", 200, "application/vnd.sdmx.genericdata+xml;version=2.1"),
        (
            "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE",
            "text/csv",
            200,
            "application/vnd.sdmx.data+csv;version=1.0.0",
        ),
        (
            "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/",
            "application/vnd.sdmx.data+json;version=2.0.0",
            200,
            "application/vnd.sdmx.data+json;version=2.0.0",
        ),
        (
            "/sdmx/rest/data/DF_CGD_KE",
            "application/vnd.sdmx.data+json;version=1.0.0",
            200,
            "application/vnd.sdmx.data+json;version=1.0.0",
        ),
        (
            "/sdmx/rest/data/DF_CGD_KE",
            "application/vnd.sdmx.data+json;version=3.0.0",
            406,
            "application/json",
        ),
        ("/sdmx/rest/data/DF_CGD_KE", "image/png", 406, "application/xml"),
        (
            "/sdmx/rest/schema/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0",
            "*/*",
            200,
            "application/vnd.sdmx.schema+xml;version=2.1",
        ),
        ("/sdmx/rest/metadata/DF_CGD_KE", "*/*", 200, "application/vnd.sdmx.genericmetadata+xml;version=2.1"),
        (
            "/sdmx/v2/metadata/structure/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0",
            "*/*",
            200,
            "application/vnd.sdmx.metadata+xml;version=3.0.0",
        ),
        ("/sdmx/rest/data/DF_NOPE", "*/*", 404, "application/xml"),
        ("/sdmx/rest/data/DF_CGD_KE/A.B", "*/*", 400, "application/xml"),
        (
            "/sdmx/rest/data/DF_CGD_KE?detail=serieskeysonly",
            "text/csv",
            200,
            "application/vnd.sdmx.data+csv;version=1.0.0",
        ),
        ("/sdmx/v2/data/datastructure/CGD_BRIDGE/CGD_KE/1.0", "*/*", 501, "application/xml"),
        (
            "/sdmx/v2/structure/codelist/IAEG-SDGs/CL_SEX/%2A/",
            "application/vnd.sdmx.structure+json;version=2.0.0",
            200,
            "application/vnd.sdmx.structure+json;version=2.0.0",
        ),
    ],
)
def test_http_status_and_media_types(
    live: LiveServer, path: str, accept: str, status: int, content_type: str | None
) -> None:
    r = httpx.get(live.url + path, headers={"Accept": accept}, timeout=60)
    if status == 200 and content_type is None:
        assert r.status_code in (200, 501)
        return
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].replace(" ", "") == content_type
    if status >= 400:
        assert "ErrorMessage" in r.text or "errors" in r.text


@pytest.mark.parametrize(
    "path",
    ["/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all",
     "/sdmx/rest/dataflow/CGD_BRIDGE/all/latest?references=all",
     "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0"],
)  # fmt: skip
def test_curl_compressed_gets_brotli_that_decodes_to_the_answer(
    live: LiveServer, path: str, tmp_path: Path
) -> None:
    """curl --compressed (which offers deflate, gzip, br) gets brotli over a real socket, decodes
    it with its own libbrotli to the identity answer, and downloads fewer bytes than gzip."""
    import re
    import subprocess

    def curl(*options: str) -> tuple[dict[str, str], bytes, int]:
        head, body = tmp_path / "head", tmp_path / "body"
        done = subprocess.run(
            ["curl", "-sS", "--fail", *options, "-D", str(head), "-o", str(body), "-w", "%{size_download}",
             f"{live.url}{path}"],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        lines = head.read_text(encoding="latin-1").splitlines()[1:]
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ":" in ln)
        }
        return headers, body.read_bytes(), int(done.stdout)

    plain_headers, plain, _ = curl("-H", "Accept-Encoding: identity")
    assert "content-encoding" not in plain_headers
    headers, body, br_bytes = curl("--compressed")
    assert headers["content-encoding"] == "br"
    assert "Accept-Encoding" in headers["vary"]
    _, _, gzip_bytes = curl("--compressed", "-H", "Accept-Encoding: gzip")
    # a page carries its own request id; an SDMX answer is the same bytes
    strip = re.compile(rb"[0-9a-f]{32}|[0-9a-f]{16}")
    assert strip.sub(b"", body) == strip.sub(b"", plain)
    assert br_bytes < gzip_bytes < len(plain)
