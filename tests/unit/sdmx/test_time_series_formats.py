"""SDMX-ML 2.1 time-series messages (GenericTimeSeriesData, StructureSpecificTimeSeriesData, #15):
valid against the official 2.1 schemas (and, structure-specific, the DSD's time-series schema),
read back by sdmx1 and pysdmx with the observations written, TIME_PERIOD at the observation only."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pytest
import sdmx

from cgd_bridge.errors import FormatError
from cgd_bridge.sdmx.write import check_options, write
from cgd_bridge.sdmx.write.xsd import dsd_schema, validate_structure_specific
from tests.support.schemas import official
from tests.unit.sdmx.test_dimension_at_observation import (
    FLOW,
    STRUCTURES,
    TARGET,
    expected,
    from_sdmx1,
    harmonised_kenya,
    make_table,
    written,
)


@pytest.fixture
def table() -> pa.Table:
    return make_table()


@pytest.fixture(scope="module")
def kenya() -> tuple[pa.Table, Any]:
    return harmonised_kenya()


TS = {
    "sdmx-ml-2.1-generic-ts": "GenericTimeSeriesData",
    "sdmx-ml-2.1-ss-ts": "StructureSpecificTimeSeriesData",
}


@pytest.mark.parametrize("fmt", TS)
def test_time_series_root_and_observations_read_back_by_sdmx1(table, fmt):
    data = written(fmt, table, "TIME_PERIOD")
    assert data.decode().split("\n")[1].startswith(f"<message:{TS[fmt]} ")
    assert data.rstrip().endswith(f"</message:{TS[fmt]}>".encode())
    got, n_series = from_sdmx1(data)
    assert got == expected(table)
    assert n_series == len({tuple(r[d] for d in TARGET.dimensions) for r in table.to_pylist()})


@pytest.mark.parametrize("fmt", TS)
def test_time_series_read_back_by_pysdmx(table, fmt):
    from pysdmx.io import read_sdmx

    frame = read_sdmx(written(fmt, table, "TIME_PERIOD").decode(), validate=True).data[0].data
    got = {
        (r["REF_AREA"], r["SEX"], str(r["TIME_PERIOD"])): None
        if r["OBS_VALUE"] in ("", None)
        else float(r["OBS_VALUE"])
        for r in frame.fillna("").to_dict("records")
    }
    assert got == {(k[2], k[3], k[4]): v["OBS_VALUE"] for k, v in expected(table).items()}


@pytest.mark.parametrize("detail", ["full", "dataonly", "serieskeysonly", "nodata"])
def test_generic_time_series_is_valid_against_the_sdmx_21_xsd(table, detail, tmp_path):
    out = tmp_path / "ts.xml"
    buf = io.BytesIO()
    write("sdmx-ml-2.1-generic-ts", table, TARGET, buf, detail=detail)
    out.write_bytes(buf.getvalue())
    assert sdmx.validate_xml(out, schema_dir=official("2.1"), version="2.1")
    # the schema checks what makes it a time-series message: TIME_PERIOD at the observation
    out.write_bytes(
        buf.getvalue().replace(b'dimensionAtObservation="TIME_PERIOD"', b'dimensionAtObservation="SEX"')
    )
    assert not sdmx.validate_xml(out, schema_dir=official("2.1"), version="2.1")


@pytest.mark.parametrize("detail", ["full", "nodata"])
def test_structure_specific_time_series_is_valid_against_its_dsd_schema(kenya, detail):
    data_table, target = kenya
    buf = io.BytesIO()
    write("sdmx-ml-2.1-ss-ts", data_table, target, buf, detail=detail)
    data = buf.getvalue()
    dsd = STRUCTURES.dataflow(FLOW).structure
    ts = dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES, time_series=True)
    assert validate_structure_specific(data, ts, "2.1", official("2.1")) == []
    # the schema of StructureSpecificData does not derive from dsd:TimeSeriesDataSetType
    plain = dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES)
    assert validate_structure_specific(data, plain, "2.1", official("2.1")) != []
    if detail == "full":
        msg = sdmx.read_sdmx(io.BytesIO(data), structure=dsd)
        assert len(msg.data[0].obs) == data_table.num_rows


@pytest.mark.parametrize("fmt", TS)
@pytest.mark.parametrize("at", ["SEX", "AllDimensions"])
def test_time_series_formats_refuse_another_observation_dimension(table, fmt, at):
    with pytest.raises(FormatError, match="TIME_PERIOD at the observation") as caught:
        write(fmt, table, TARGET, io.BytesIO(), dimension_at_observation=at)
    assert "genericdata or structurespecificdata" in caught.value.fix
    with pytest.raises(FormatError, match=at):  # before anything streams, as the server asks
        check_options(fmt, TARGET.dimensions, detail="full", dimension_at_observation=at)


def test_time_series_schema_is_for_time_period_in_21_only():
    dsd = STRUCTURES.dataflow(FLOW).structure
    with pytest.raises(FormatError, match=r"2\.1"):
        dsd_schema(dsd, "3.0", dataflow=FLOW, structures=STRUCTURES, time_series=True)
    with pytest.raises(FormatError, match="TIME_PERIOD"):
        dsd_schema(
            dsd, "2.1", dataflow=FLOW, structures=STRUCTURES, time_series=True, dimension_at_observation="SEX"
        )


def test_empty_table_is_a_valid_time_series_message(tmp_path):
    empty = pa.table({d: pa.array([], pa.string()) for d in (*TARGET.dimensions, "TIME_PERIOD")})
    out = tmp_path / "empty.xml"
    buf = io.BytesIO()
    write("sdmx-ml-2.1-generic-ts", empty, TARGET, buf)
    out.write_bytes(buf.getvalue())
    assert sdmx.validate_xml(out, schema_dir=official("2.1"), version="2.1")


@pytest.mark.parametrize("fmt", TS)
def test_time_series_batches_split_series_the_same_way(table, fmt, monkeypatch):
    import cgd_bridge.sdmx.write._text as text

    def body(data: bytes) -> bytes:
        return data.split(b"</message:Header>")[1]

    whole = body(written(fmt, table, "TIME_PERIOD"))
    monkeypatch.setattr(text, "BATCH", 2)
    assert body(written(fmt, table, "TIME_PERIOD")) == whole
    assert from_sdmx1(written(fmt, table, "TIME_PERIOD"))[0] == expected(table)
