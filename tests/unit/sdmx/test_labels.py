"""SDMX-CSV ``labels=id|name|both`` against the SDMX-CSV 2.0 field guide's own examples, read back
with pysdmx and sdmx1; names filled from the structures by :func:`named_target` (issue #3)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pyarrow as pa
import pytest
import sdmx
import sdmx.reader.xml.v30

from cgd_bridge.errors import FormatError
from cgd_bridge.sdmx.names import named_target
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import write
from cgd_bridge.structures import Structures

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
# the example's mapping (moving from examples/ to mappings/ while this was written)
MAPPING = next(
    (p for p in (ROOT / "mappings" / "kenya-health-scorecard.yaml", KENYA / "mapping.yaml") if p.is_file()),
    KENYA / "mapping.yaml",
)


def parse(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(text)))
    return header, rows


def specimen(shared: Path, name: str) -> tuple[list[str], list[list[str]]]:
    return parse((shared / "specimens" / "formats" / name).read_text(encoding="utf-8"))


def spec_table(ids: dict[str, list[str]]) -> tuple[pa.Table, tuple[str, ...], tuple[str, ...]]:
    """The specimen's observations as a harmonised table: DIM_3 is its time dimension."""
    table = pa.table(
        {
            "DIM_1": ids["DIM_1"],
            "DIM_2": ids["DIM_2"],
            "TIME_PERIOD": ids["DIM_3"],
            "OBS_VALUE": [float(v) for v in ids["OBS_VALUE"]],
            **{a: ids[a] for a in ids if a.startswith("ATTR_")},
        }
    )
    return table, ("DIM_1", "DIM_2"), tuple(a for a in ids if a.startswith("ATTR_"))


def as_ours(header: list[str]) -> list[str]:
    """The specimen's header as we write it: no sub-field delimiter (nothing is multi-valued),
    and the time dimension, DIM_3 in the examples, is TIME_PERIOD."""
    return [re.sub(r"\[.\]$", "", h).replace("DIM_3", "TIME_PERIOD") for h in header]


def test_labels_both_writes_the_field_guides_example(shared):
    """Example 05 (labels=both): ``ID: Name`` headers, ``CODE: Name`` coded values, free text and
    observation values as they are, ``AGENCY:ID(VERSION): Name`` as STRUCTURE_ID."""
    header, rows = specimen(shared, "sdmxcsv2_example-05.csv")
    lead = 3  # STRUCTURE, STRUCTURE_ID, ACTION
    ids: dict[str, list[str]] = {}
    names: dict[str, dict[str, str]] = {}
    concepts: dict[str, str] = {}
    for i, h in enumerate(header[lead:], start=lead):
        cid, _, concept = h.partition(": ")
        concepts[cid] = concept
        ids[cid] = []
        for row in rows:
            code, sep, name = row[i].partition(": ")
            ids[cid].append(code)
            if sep:
                names.setdefault(cid, {})[code] = name
    ref, _, flow_name = rows[0][1].partition(": ")
    assert ref == "ESTAT:NA_MAIN(1.6.0)"
    assert flow_name
    table, dims, attrs = spec_table(ids)
    concepts["TIME_PERIOD"] = concepts.pop("DIM_3")
    target = Target.parse(ref, dims, attrs)
    target = Target(target.agency, target.id, target.version, dims, attrs, names=names,
                    concepts=concepts, name=flow_name)  # fmt: skip
    buf = io.BytesIO()
    assert write("sdmx-csv-2.0", table, target, buf, labels="both") == 2
    ours_header, ours_rows = parse(buf.getvalue().decode())
    assert ours_header == as_ours(header)
    assert ours_rows == rows


def test_labels_name_writes_the_field_guides_example(shared):
    """Example 06 (labels=name): STRUCTURE_NAME, and after each ID column a column headed by the
    concept's name holding the code's name, empty for values that have none.

    One deliberate difference: the example repeats the period in the time dimension's name
    column; the guide's text says the column is empty when a value has no localised name,
    and a period is not coded, so ours is empty there.
    """
    header, rows = specimen(shared, "sdmxcsv2_example-06.csv")
    assert header[:4] == ["STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION"]
    ids: dict[str, list[str]] = {}
    names: dict[str, dict[str, str]] = {}
    concepts: dict[str, str] = {}
    for i in range(4, len(header), 2):
        cid, concept = header[i], header[i + 1]
        concepts[cid] = concept
        ids[cid] = [row[i] for row in rows]
        if cid not in ("DIM_3", "OBS_VALUE"):
            for row in rows:
                if row[i + 1]:
                    names.setdefault(cid, {})[row[i]] = row[i + 1]
    table, dims, attrs = spec_table(ids)
    concepts["TIME_PERIOD"] = concepts.pop("DIM_3")
    target = Target("ESTAT", "NA_MAIN", "1.6.0", dims, attrs, names=names, concepts=concepts,
                    name=rows[0][2])  # fmt: skip
    buf = io.BytesIO()
    write("sdmx-csv-2.0", table, target, buf, labels="name")
    ours_header, ours_rows = parse(buf.getvalue().decode())
    assert ours_header == as_ours(header)
    time_name = header.index("DIM_3") + 1
    assert [r[time_name] for r in rows] == ids["DIM_3"]  # the example's repeated period
    assert [r[time_name] for r in ours_rows] == ["", ""]
    expected = [[v if i != time_name else "" for i, v in enumerate(r)] for r in rows]
    assert ours_rows == expected


# -- our own structures: names filled from the codelists, output read back by pysdmx and sdmx1 --

DIMS = ("FREQ", "SERIES", "REF_AREA", "SEX")
ATTRS = ("UNIT_MEASURE", "OBS_STATUS", "COMMENT_OBS")


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


@pytest.fixture
def table() -> pa.Table:
    return pa.table(
        {
            "FREQ": ["A"] * 4,
            "SERIES": ["SP_PSR_SATIS"] * 4,
            "REF_AREA": ["404", "404", "524", "524"],
            "SEX": ["F", "M", "_T", "_T"],
            "TIME_PERIOD": ["2023", "2023", "2023", "2024"],
            "OBS_VALUE": [57.89, 61.0, None, 40.5],
            "UNIT_MEASURE": ["PT"] * 4,
            "OBS_STATUS": ["G", "G", "Q", "NOT_A_CODE"],
            "COMMENT_OBS": ["Scorecard: rating 4 or 5", None, None, None],
        }
    )


@pytest.fixture
def target(table, structures) -> Target:
    return named_target(Target("IAEG-SDGs", "DF_SDG_GLH", "1.5", DIMS, ATTRS), table, structures)


def test_named_target_names_only_the_codes_present(target):
    assert target.name  # the dataflow's name from the structure
    assert target.concepts["SEX"] == "Sex"
    assert target.concepts["TIME_PERIOD"] == "Time period"
    assert target.concepts["OBS_VALUE"] == "Observation value"
    assert target.names["SEX"] == {"F": "Female", "M": "Male", "_T": "Both sexes or no breakdown by sex"}
    assert set(target.names["REF_AREA"]) == {"404", "524"}  # not the 600 other areas of CL_AREA
    assert target.names["REF_AREA"]["404"] == "Kenya"
    assert "NOT_A_CODE" not in target.names["OBS_STATUS"]
    assert "COMMENT_OBS" not in target.names  # free text has no codelist


def test_named_target_without_the_dataflow_keeps_ids(table, structures):
    bare = Target("NOBODY", "DF_NONE", "1.0", DIMS, ATTRS)
    assert named_target(bare, table, structures) is bare


def written(table: pa.Table, target: Target, fmt: str = "sdmx-csv-2.0", labels: str = "id") -> str:
    buf = io.BytesIO()
    assert write(fmt, table, target, buf, labels=labels) == table.num_rows
    return buf.getvalue().decode()


def test_labels_both_codes_and_names(table, target):
    header, rows = parse(written(table, target, labels="both"))
    assert header[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    assert header[3 + DIMS.index("SEX")] == "SEX: Sex"
    assert rows[0][1] == f"IAEG-SDGs:DF_SDG_GLH(1.5): {target.name}"
    col = {h.partition(": ")[0]: i for i, h in enumerate(header)}
    total = "_T: Both sexes or no breakdown by sex"
    assert [r[col["SEX"]] for r in rows] == ["F: Female", "M: Male", total, total]
    assert [r[col["TIME_PERIOD"]] for r in rows] == ["2023", "2023", "2023", "2024"]  # not coded
    assert [r[col["OBS_VALUE"]] for r in rows] == ["57.89", "61", "", "40.5"]
    assert rows[3][col["OBS_STATUS"]] == "NOT_A_CODE"  # no name: the code alone
    assert rows[0][col["COMMENT_OBS"]] == "Scorecard: rating 4 or 5"  # free text as it is


def test_labels_both_in_sdmx_csv_10_keeps_the_dataflow_reference(table, target):
    header, rows = parse(written(table, target, "sdmx-csv-1.0", labels="both"))
    assert header[:2] == ["DATAFLOW", f"FREQ: {target.concepts['FREQ']}"]
    assert {r[0] for r in rows} == {"IAEG-SDGs:DF_SDG_GLH(1.5)"}
    assert rows[0][1].startswith("A: ")


def test_labels_name_is_not_sdmx_csv_10(table, target):
    with pytest.raises(FormatError) as exc:
        written(table, target, "sdmx-csv-1.0", labels="name")
    assert "sdmx-csv-2.0" in exc.value.message


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-ss", "sdmx-json-2.0"])
def test_labels_are_only_for_sdmx_csv(table, target, fmt):
    with pytest.raises(FormatError, match="labels"):
        written(table, target, fmt, labels="both")


@pytest.mark.parametrize("labels", ["name", "both"])
def test_labelled_sdmx_csv_reads_back_in_pysdmx(table, target, labels):
    """pysdmx drops the labels (``CODE: Name`` -> CODE; name columns) and gets the IDs back."""
    from pysdmx.io import read_sdmx

    frame = read_sdmx(written(table, target, labels=labels), validate=False).data[0].data
    assert frame["SEX"].tolist() == table["SEX"].to_pylist()
    assert frame["REF_AREA"].tolist() == table["REF_AREA"].to_pylist()
    assert frame["OBS_STATUS"].tolist() == table["OBS_STATUS"].to_pylist()
    assert frame["TIME_PERIOD"].tolist() == table["TIME_PERIOD"].to_pylist()


@pytest.mark.parametrize("labels", ["name", "both"])
def test_labelled_sdmx_csv_reads_back_in_sdmx1(table, target, structures, labels):
    """sdmx1 reads both forms against the dataflow; it keeps ``CODE: Name`` as the value."""
    flow = structures.dataflow("DF_SDG_GLH", "IAEG-SDGs", "1.5")
    msg = sdmx.read_sdmx(io.BytesIO(written(table, target, labels=labels).encode()), format="csv",
                         structure=flow)  # fmt: skip
    got = sorted(
        (str(o.dimension.values["SEX"].value), str(o.dimension.values["TIME_PERIOD"].value), o.value)
        for o in msg.data[0].obs
    )
    sex = table["SEX"].to_pylist()
    if labels == "both":
        sex = [f"{s}: {target.names['SEX'][s]}" for s in sex]
    values = ["57.89", "61", "", "40.5"]
    assert got == sorted(zip(sex, table["TIME_PERIOD"].to_pylist(), values, strict=True))


def test_sdmx_json_names_components_and_codes(table, target):
    import json

    msg = json.loads(written(table, target, "sdmx-json-2.0"))
    st = msg["data"]["structures"][0]
    assert st["name"] == target.name
    sex = next(d for d in st["dimensions"]["series"] if d["id"] == "SEX")
    assert sex["name"] == "Sex"
    assert {v["id"]: v["name"] for v in sex["values"]}["F"] == "Female"
    area = next(d for d in st["dimensions"]["series"] if d["id"] == "REF_AREA")
    assert {v["id"]: v["name"] for v in area["values"]} == {"404": "Kenya", "524": "Nepal"}


# -- through the pipeline and the command --------------------------------------------------


def test_convert_fills_names_and_reads_the_metadata_once(tmp_path, monkeypatch):
    import cgd_bridge.pipeline as pipeline

    calls = []
    original = pipeline.load_metadata
    monkeypatch.setattr(pipeline, "load_metadata", lambda p: calls.append(p) or original(p))
    out = tmp_path / "ke.csv"
    result = pipeline.convert(KENYA / "data.csv", metadata=KENYA / "quality.yaml",
                              mapping=MAPPING, to="sdmx-csv-2.0", output=out,
                              labels="both")  # fmt: skip
    assert result.written == 180
    assert len(calls) == 1
    header, rows = parse(out.read_text(encoding="utf-8"))
    col = {h.partition(": ")[0]: i for i, h in enumerate(header)}
    assert header[col["DISABILITY_STATUS"]] == "DISABILITY_STATUS: Disability status"
    disability = {r[col["DISABILITY_STATUS"]] for r in rows}
    assert disability == {
        "PD: Persons with disability",
        "PWD: Persons without disability",
        "_T: No breakdown",
    }
    assert {r[col["REF_AREA"]] for r in rows} == {
        "KE_003: Kilifi", "KE_016: Machakos", "KE_032: Nakuru", "KE_042: Kisumu",
    }  # fmt: skip


def test_convert_refuses_labels_for_other_formats_before_any_work(tmp_path):
    import cgd_bridge.pipeline as pipeline

    with pytest.raises(FormatError, match="labels"):
        pipeline.convert(tmp_path / "missing.csv", metadata=tmp_path / "missing.yaml",
                         mapping=tmp_path / "missing.yaml", to="sdmx-ml-2.1-ss", output=tmp_path / "x.xml",
                         labels="name")  # fmt: skip


def test_cli_labels_only_with_sdmx_csv(tmp_path, capsys):
    from cgd_bridge.cli import main

    args = ["convert", str(KENYA / "data.csv"), "-m", str(KENYA / "quality.yaml"), "--mapping",
            str(MAPPING), "-o", str(tmp_path / "out")]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main([*args, "--to", "sdmx-ml-2.1-ss", "--labels", "both"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--labels both is not an option of SDMX-ML 2.1 StructureSpecific data" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exc:
        main([*args, "--to", "sdmx-csv-1.0", "--labels", "name"])
    assert exc.value.code == 2
    assert "convert to one of: sdmx-csv-2.0" in capsys.readouterr().err
    main([*args, "--to", "sdmx-csv-2.0", "--labels", "name"])
    assert (
        (tmp_path / "out")
        .read_text(encoding="utf-8")
        .startswith('"STRUCTURE","STRUCTURE_ID","STRUCTURE_NAME","ACTION","FREQ","Frequency of observation"')
    )
