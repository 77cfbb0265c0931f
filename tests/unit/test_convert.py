"""Conversion: validation first, mapping, CGD provenance, suppression, atomic output."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cgd_bridge.errors import FormatError
from cgd_bridge.pipeline import convert

ROOT = Path(__file__).resolve().parents[2]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
BROKEN = ROOT / "examples" / "broken"


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def run(tmp_path: Path, data: Path = KENYA / "data.csv", metadata: Path = KENYA / "quality.yaml", **kw):
    to = kw.pop("to", "sdmx-csv-2.0")
    out = tmp_path / f"out{'.xml' if 'ml' in to else '.json' if 'json' in to else '.csv'}"
    result = convert(data, metadata=metadata, mapping=KENYA_MAPPING, to=to, output=out, **kw)
    return result, out


def test_kenya_example_converts_with_cgd_provenance(tmp_path):
    result, out = run(tmp_path)
    assert result.refused is None
    assert result.written == 180
    got = rows(out)
    assert len(got) == 180
    assert {r["REPORTING_TYPE"] for r in got} == {"N"}
    assert {r["NATURE"] for r in got} == {"_X"}  # never C: the NSO has not endorsed it
    assert {r["OBS_STATUS"] for r in got} == {"G"}  # experimental
    assert {r["CONF_STATUS"] for r in got} == {"F"}
    assert {r["SOURCE_DETAIL"] for r in got} == {
        "CGD: Sauti ya Walemavu Health Watch, community_scorecard, dataset version 1.1.0"
    }
    first = got[0]
    assert (first["REF_AREA"], first["SEX"], first["AGE"], first["DISABILITY_STATUS"]) == (
        "KE_042",
        "F",
        "Y18T24",
        "PD",
    )
    assert first["OBS_VALUE"] == "57.9"  # 11 of 19 respondents


def test_suppressed_cells_have_no_value_and_q_c(tmp_path):
    import yaml

    from cgd_bridge.pipeline import validate

    data = BROKEN / "small-cell" / "data.csv"
    report = validate(data, metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING)
    in_data = next(f for f in report if f.code == "sample-size-mismatch").details["in_data"]
    md = yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8"))
    md["sampling"]["n_achieved"] = in_data  # the broken case changed one cell's respondents
    meta = tmp_path / "meta" / "quality.yaml"
    meta.parent.mkdir()
    meta.write_text(yaml.safe_dump(md, allow_unicode=True), encoding="utf-8")
    result, out = run(tmp_path, data=data, metadata=meta)
    assert result.refused is None
    suppressed = [r for r in rows(out) if r["OBS_STATUS"] == "Q"]
    assert len(suppressed) >= 2  # the small cell and at least one cell that would reveal it
    assert all(r["OBS_VALUE"] == "" and r["CONF_STATUS"] == "C" for r in suppressed)


def test_invalid_data_is_refused_and_nothing_written(tmp_path):
    result, out = run(tmp_path, data=BROKEN / "total-mismatch" / "data.csv")
    assert result.refused
    assert "error" in result.refused
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_force_converts_and_marks_low_reliability(tmp_path):
    result, out = run(tmp_path, data=BROKEN / "total-mismatch" / "data.csv", force=True)
    assert result.refused is None
    assert {r["OBS_STATUS"] for r in rows(out)} <= {"U", "Q"}


def test_unknown_format_fails_before_any_work(tmp_path):
    with pytest.raises(FormatError):
        run(tmp_path, to="sdmx-xls")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "to", ["sdmx-ml-2.1-ss", "sdmx-ml-2.1-generic", "sdmx-ml-3.0-ss", "sdmx-csv-1.0", "sdmx-json-2.0"]
)
def test_every_format_reads_back_with_sdmx1(tmp_path, to):
    import sdmx
    import sdmx.reader.xml.v30

    result, out = run(tmp_path, to=to)
    assert result.written == 180
    if to.startswith("sdmx-ml"):
        msg = sdmx.read_sdmx(io.BytesIO(out.read_bytes()))
        assert len(list(msg.data[0].obs)) == 180
    if to == "sdmx-json-2.0":
        import json

        series = json.loads(out.read_text(encoding="utf-8"))["data"]["dataSets"][0]["series"]
        assert sum(len(s["observations"]) for s in series.values()) == 180


def test_a_dataflow_with_no_structure_is_never_converted_even_forced(tmp_path):
    """unknown-dataflow: codes that could not be checked are not written, --force or not."""
    mapping = BROKEN / "unknown-dataflow" / "mapping.yaml"
    for force in (False, True):
        out = tmp_path / f"forced-{force}.csv"
        result = convert(
            KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=mapping, to="sdmx-csv-2.0",
            output=out, force=force,
        )  # fmt: skip
        assert result.refused is not None
        assert "unknown-dataflow" in result.refused
        assert "--force does not convert unchecked data" in result.refused
        assert not out.exists()
        assert not list(tmp_path.glob("*.tmp*"))


def test_missing_bundled_structures_refuse_instead_of_skipping_the_code_checks(tmp_path, monkeypatch):
    """A broken install without codelists/ stops with the reinstall, never converts unchecked."""
    from cgd_bridge import resources
    from cgd_bridge.errors import InputError

    monkeypatch.setattr(resources, "_places", lambda name: (tmp_path / "a" / name, tmp_path / "b" / name))
    with pytest.raises(InputError, match="missing from this installation") as caught:
        run(tmp_path)
    assert "Reinstall cgd-bridge" in caught.value.fix
    assert not (tmp_path / "out.csv").exists()


def test_a_codelist_the_structures_lack_is_an_unchecked_error(tmp_path):
    """A DSD whose codelist is nowhere to be found: unknown-dataflow naming it, not a silent skip."""
    from cgd_bridge.mapping.conform import code_findings
    from cgd_bridge.pipeline import examine
    from cgd_bridge.sdmx.refs import parse_ref
    from cgd_bridge.structures import Structures

    structures = Structures.load(None)
    validation = examine(
        KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING, structures=structures
    )
    assert validation.report.valid
    real = structures.valid_codes_mask

    def lacking(codelist_id, values):
        if parse_ref(codelist_id)[1] == "CL_SEX":  # the DSD's full reference, SDMX:CL_SEX(...)
            from cgd_bridge.errors import StructureError

            raise StructureError("no codelist CL_SEX here", fix="import it")
        return real(codelist_id, values)

    structures.valid_codes_mask = lacking  # type: ignore[method-assign]
    found = code_findings(validation.harmonised, "CGD_BRIDGE:DF_CGD_KE(1.0)", structures, file="data.csv")
    (missing,) = [f for f in found if f.code == "unknown-dataflow"]
    assert "CL_SEX" in missing.problem
    assert missing.severity.value == "error"
