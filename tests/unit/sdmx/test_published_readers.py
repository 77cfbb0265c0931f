"""The audit's readers of published SDMX data (#12): every format, real files, hostile input.

``read_published`` reads SDMX-CSV 1.0/2.0, SDMX-ML 2.1 (structure-specific and generic), SDMX-ML
3.0 structure-specific and SDMX-JSON 1.0/2.0 into the same table. The real files are the
third-party specimens (ECB, OECD and the SDMX TWG samples; skipped with the named reason where
they are absent); the bridge's own writers are tested in tests/unit/checks/test_disclosure_audit.py.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pytest

from cgd_bridge.errors import CgdBridgeError, FormatError, InputError
from cgd_bridge.sdmx.read import published
from cgd_bridge.sdmx.read.published import read_published
from cgd_bridge.structures import Structures, StructureStore
from tests.support.specimens import SPECIMENS, need

FORMATS = SPECIMENS / "formats"
#: the ECB EXR sample in every SDMX-JSON packaging: 4 observations of 2 currencies x 2 days
ECB_JSON = {
    "ECB_EXR_ts.json": "sdmx-json-1.0",
    "ECB_EXR_xs.json": "sdmx-json-1.0",
    "ECB_EXR_flat.json": "sdmx-json-1.0",
    "sdmxjson2_data_exr-time-series.json": "sdmx-json-2.0",
    "sdmxjson2_data_exr-cross-section.json": "sdmx-json-2.0",
    "sdmxjson2_data_exr-flat.json": "sdmx-json-2.0",
}


def observations(table: pa.Table) -> set[tuple[str, str, float]]:
    return {(r["CURRENCY"], r["TIME_PERIOD"], r["OBS_VALUE"]) for r in table.to_pylist()}


@pytest.mark.parametrize("name", sorted(ECB_JSON))
def test_sdmx_json_packagings_give_the_same_observations(name: str) -> None:
    need(FORMATS / name, FORMATS / "ECB_EXR_ts.json")
    data = read_published(FORMATS / name)
    assert data.format == ECB_JSON[name]
    assert data.dataflow == "ECB:EXR(1.0)"
    # keyPosition order, the data-set level dimensions included, TIME_PERIOD apart
    assert data.dimensions == ["FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX"]
    assert data.table["OBS_VALUE"].type == pa.float64()
    assert observations(data.table) == observations(read_published(FORMATS / "ECB_EXR_ts.json").table)
    assert len(data.table) == 4
    assert set(data.table["FREQ"].to_pylist()) == {"D"}
    assert set(data.table["OBS_STATUS"].to_pylist()) == {"A"}


def test_oecd_sdmx_json_10_with_data_before_its_structure() -> None:
    path = SPECIMENS / "agencies" / "OECD_data-PART2_sdmxjson1.json"
    need(path)
    data = read_published(path)
    assert data.format == "sdmx-json-1.0"
    assert data.dimensions == ["LOCATION", "IND", "PER", "GRD", "FLD", "MSR"]
    assert len(data.table) == 7
    first = data.table.slice(0, 1).to_pylist()[0]
    assert (first["LOCATION"], first["MSR"], round(first["OBS_VALUE"], 4)) == ("AUS", "MN", 11.9636)


@pytest.fixture(scope="module")
def ecb_structures(tmp_path_factory: pytest.TempPathFactory) -> Structures:
    """The bundled structures plus the ECB EXR DSD of the SDMX-ML 3.0 samples, imported."""
    need(FORMATS / "sdmxml30_structure_ECB_EXR_DSD.xml")
    store = StructureStore(tmp_path_factory.mktemp("ecb-store"))
    store.import_file(FORMATS / "sdmxml30_structure_ECB_EXR_DSD.xml")
    return Structures(store)


@pytest.mark.parametrize("name", ["sdmxml30_data_ECB_EXR.xml", "sdmxml31_data_ECB_EXR.xml"])
def test_sdmx_ml_30_structure_specific_with_its_dsd(name: str, ecb_structures, tmp_path: Path) -> None:
    """The samples name the dataflow ECB:EXR, whose DSD (ECB:ECB_EXR) the TWG ships without its
    dataflow: unknown, the file is refused with the fix; named by the header, it is read."""
    need(FORMATS / name)
    with pytest.raises(FormatError) as refused:
        read_published(FORMATS / name, structures=ecb_structures)
    assert "DSD of ECB:EXR(1.0)" in refused.value.problem
    assert "cgd-bridge structures import" in refused.value.fix
    text = (FORMATS / name).read_text(encoding="utf-8")
    urn = "urn:sdmx:org.sdmx.infomodel.datastructure."
    usage = f"<common:StructureUsage>{urn}Dataflow=ECB:EXR(1.0)</common:StructureUsage>"
    assert usage in text
    dsd = f"<common:Structure>{urn}DataStructure=ECB:ECB_EXR(1.0)</common:Structure>"
    path = tmp_path / name
    path.write_text(text.replace(usage, dsd), encoding="utf-8")
    data = read_published(path, structures=ecb_structures)
    assert data.format.startswith("sdmx-ml-3.")
    assert data.format.endswith("-ss")
    assert data.dimensions == ["FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_SUFFIX"]
    assert "TITLE" not in data.dimensions  # a series attribute, told apart by the DSD
    assert data.table.num_rows == text.count("<Obs ")
    assert data.table["OBS_VALUE"].null_count == 0


@pytest.mark.parametrize(
    ("name", "dims"),
    [
        ("ECB_EXR_ng-flat.xml", ["FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_VAR"]),
        ("ECB_EXR_ng-ts.xml", ["FREQ", "CURRENCY", "CURRENCY_DENOM", "EXR_TYPE", "EXR_VAR"]),
        ("ECB_EXR_ng-xs.xml", ["FREQ", "CURRENCY_DENOM", "EXR_TYPE", "EXR_VAR", "CURRENCY"]),
    ],
)
def test_sdmx_ml_21_generic_names_its_own_dimensions(name: str, dims: list[str]) -> None:
    need(FORMATS / name)
    data = read_published(FORMATS / name)
    assert data.format == "sdmx-ml-2.1-generic"
    assert data.dimensions == dims
    assert data.table.num_rows == 12
    assert "OBS_STATUS" in data.table.column_names


# -- bad input: each refused with the file named and the fix -------------------------------------
def test_a_structure_message_is_not_data(tmp_path: Path) -> None:
    need(FORMATS / "sdmxml30_structure_ECB_EXR_DSD.xml", FORMATS / "sdmxjson2_structure_BIS_DER.json")
    for name in ("sdmxml30_structure_ECB_EXR_DSD.xml", "sdmxjson2_structure_BIS_DER.json"):
        with pytest.raises(FormatError) as refused:
            read_published(FORMATS / name)
        assert refused.value.file == name
        assert "structure message" in refused.value.problem
        assert "data message" in refused.value.fix


def test_a_message_that_deletes_data_publishes_none() -> None:
    need(FORMATS / "ECB_EXR_action-delete.json")
    with pytest.raises(FormatError, match="deletes observations"):
        read_published(FORMATS / "ECB_EXR_action-delete.json")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"meta": {"id": "X"}, "data": {"structures": [{"dimensions": {', "cut off"),
        ('{"errors": [{"code": 404, "title": "No results"}]}', "SDMX-JSON error message"),
        ('{"meta": {}, "data": {"metadataSets": []}}', "metadata message"),
        ("[1, 2, 3]", "not an SDMX-JSON data message"),
        ('<?xml version="1.0"?><message:GenericData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"><message:Header>',
         "cut off"),
        ('<?xml version="1.0"?><mes:Error xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"/>',
         "SDMX-ML 2.1 error message"),
        ("<html><body>Not found</body></html>", "not SDMX-ML"),
    ],
)  # fmt: skip
def test_hostile_or_wrong_files_are_refused_plainly(content: str, problem: str, tmp_path: Path) -> None:
    path = tmp_path / "pulled.data"
    path.write_text(content, encoding="utf-8")
    with pytest.raises((InputError, FormatError)) as refused:
        read_published(path)
    assert problem in refused.value.problem
    assert refused.value.file == "pulled.data"  # named once, where the message says where
    assert refused.value.fix


def test_a_json_key_that_points_at_no_code_is_refused(tmp_path: Path) -> None:
    sex = {"id": "SEX", "keyPosition": 0, "values": [{"id": "F"}]}
    time = {"id": "TIME_PERIOD", "values": [{"value": "2024"}]}
    message = {
        "meta": {},
        "data": {
            "structures": [{"dimensions": {"series": [sex], "observation": [time]}}],
            "dataSets": [{"structure": 0, "series": {"3": {"observations": {"0": [5]}}}}],
        },
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(message), encoding="utf-8")
    with pytest.raises(FormatError, match="position '3' of SEX"):
        read_published(path)


def test_xml_entities_are_never_resolved(tmp_path: Path) -> None:
    """An external entity (XXE) must not read a file of the machine into the table."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<message:GenericData xmlns:message="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
        'xmlns:generic="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic">'
        "<message:Header/><message:DataSet><generic:Series><generic:SeriesKey>"
        '<generic:Value id="SEX" value="F"/></generic:SeriesKey>'
        '<generic:Obs><generic:ObsDimension value="2024"/><generic:ObsValue value="1"/>'
        '<generic:Attributes><generic:Value id="COMMENT_OBS" value="x"/></generic:Attributes>'
        "<generic:Comment>&xxe;</generic:Comment></generic:Obs>"
        "</generic:Series></message:DataSet></message:GenericData>",
        encoding="utf-8",
    )
    try:
        seen = str(read_published(path).table.to_pylist())
    except CgdBridgeError as refused:
        seen = refused.problem
    assert "TOPSECRET" not in seen


def test_json_is_read_a_series_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory holds a batch of rows, not the document: reading 20,000 observations allocates a
    fraction of what parsing the whole message into Python objects does."""
    monkeypatch.setattr(published, "BATCH_ROWS", 1_000)
    areas = [f"A{i:04d}" for i in range(2_000)]
    hidden = {(i, y) for i in range(2_000) for y in range(10) if (i + y) % 7 == 0}
    structure = {
        "links": [{"urn": "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=X:DF(1.0)", "rel": "dataflow"}],
        "dimensions": {
            "series": [{"id": "REF_AREA", "keyPosition": 0, "values": [{"id": a} for a in areas]}],
            "observation": [{"id": "TIME_PERIOD", "values": [{"value": str(y)} for y in range(2010, 2020)]}],
        },
        "attributes": {"observation": [{"id": "OBS_STATUS", "values": [{"id": "A"}, {"id": "Q"}]}]},
    }
    series = {
        str(i): {
            "observations": {str(y): [None, 1] if (i, y) in hidden else [i * 10 + y, 0] for y in range(10)}
        }
        for i in range(len(areas))
    }
    message = {
        "meta": {},
        "data": {"structures": [structure], "dataSets": [{"structure": 0, "series": series}]},
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(message), encoding="utf-8")
    small = tmp_path / "small.json"
    small.write_text(
        json.dumps(
            {
                **message,
                "data": {**message["data"], "dataSets": [{"series": {"0": {"observations": {"0": [1, 0]}}}}]},
            }
        )
    )
    read_published(small)  # the readers' modules imported before measuring
    tracemalloc.start()
    try:
        json.loads(path.read_text(encoding="utf-8"))
        whole = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        data = read_published(path)
        streamed = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.table.num_rows == 20_000
    assert data.table["OBS_VALUE"].null_count == sum(
        1 for i in range(2_000) for y in range(10) if (i + y) % 7 == 0
    )
    assert streamed < whole / 3, (streamed, whole)
