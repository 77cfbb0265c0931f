"""The cause first (#17): the report opens with the most likely root cause of its findings, on
realistic inputs: a Kobo export checked against another dataset's mapping, files saved in the
wrong encoding (Nepali, Bangla, Swahili), a workbook with the data on its second sheet, and a
mapping aimed at another country's dataflow. Files that are right get no diagnosis."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from cgd_bridge.diagnosis import CAUSES, diagnose
from cgd_bridge.i18n import translator
from cgd_bridge.pipeline import validate
from cgd_bridge.render import render_html, render_json, render_text
from tests.support.paths import ROOT

NEPAL = ROOT / "examples" / "nepal-youth-survey"
KENYA = ROOT / "examples" / "kenya-health-scorecard"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
NEPAL_MAPPING = ROOT / "mappings" / "nepal-youth-survey.yaml"


def test_a_kobo_export_checked_against_another_datasets_mapping_is_a_wrong_mapping() -> None:
    report = validate(NEPAL / "data.xlsx", mapping=KENYA_MAPPING)
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-mapping"
    assert cause.evidence["expected"] == 7
    assert cause.evidence["missing"] == 5
    problem, fix = cause.texts()
    assert problem.startswith("5 of the 7 columns this mapping expects are missing ('county'")
    assert "did you pick the right mapping?" in problem
    assert "kenya-health-scorecard.yaml" in fix
    assert {"missing-column", "constraint-error"} <= set(cause.explains)
    # the text report says it before any row-level finding, which follows under it
    text = render_text(report)
    assert text.index("MOST LIKELY CAUSE (wrong-mapping)") < text.index("ERROR constraint-error")
    assert text.index("Findings that follow from it:") < text.index("ERROR constraint-error")
    data = json.loads(render_json(report))
    assert data["diagnosis"]["code"] == "wrong-mapping"
    assert data["diagnosis"]["evidence"]["missing"] == 5
    page = render_html(report)
    assert 'data-cause="wrong-mapping"' in page
    assert page.index('data-cause="wrong-mapping"') < page.index("constraint-error")


def test_the_right_files_get_no_diagnosis() -> None:
    assert diagnose(validate(KENYA / "data.csv", mapping=KENYA_MAPPING)) is None
    assert diagnose(validate(NEPAL / "data.xlsx", mapping=NEPAL_MAPPING, form=NEPAL / "form.xlsx")) is None
    assert json.loads(render_json(validate(KENYA / "data.csv")))["diagnosis"] is None


def _kenya_rows() -> list[list[str]]:
    with (KENYA / "data.csv").open(encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _workbook(path: Path, data_sheet: int) -> Path:
    wb = Workbook()
    notes = wb.active
    notes.title = "Read me"
    notes.append(["Community scorecard on health services, Kisumu and Nairobi, 2024"])
    notes.append(["Collected by the Kisumu Youth Network; contact the M&E officer for questions."])
    data = wb.create_sheet("scorecard")
    for row in _kenya_rows():
        data.append([int(v) if v.isdigit() else v for v in row])
    if data_sheet == 1:
        wb.move_sheet("scorecard", offset=-1)
    wb.save(path)
    return path


def test_a_workbook_with_the_data_on_its_second_sheet_is_a_wrong_sheet(tmp_path: Path) -> None:
    book = _workbook(tmp_path / "scorecard.xlsx", data_sheet=2)
    report = validate(book, mapping=KENYA_MAPPING)
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-sheet"
    assert cause.evidence == {"sheet": "Read me", "better_sheet": "scorecard"}
    problem, fix = cause.texts()
    assert "the sheet 'Read me' has 0 of the 7 columns this mapping expects" in problem
    assert "--sheet 'scorecard'" in fix
    # on the right sheet there is nothing to diagnose
    assert diagnose(validate(book, mapping=KENYA_MAPPING, sheet="scorecard")) is None
    assert diagnose(validate(_workbook(tmp_path / "first.xlsx", data_sheet=1), mapping=KENYA_MAPPING)) is None


NEPALI = [
    ["जिल्ला", "लिङ्ग", "उमेर", "सेवा_प्रयोग", "सन्तुष्ट"],
    *[
        [d, s, str(18 + i % 12), "छ", "छ" if i % 3 else "छैन"]
        for i, (d, s) in enumerate(
            [("काठमाडौं", "महिला"), ("ललितपुर", "पुरुष"), ("भक्तपुर", "महिला"), ("काठमाडौं", "पुरुष")] * 10
        )
    ],
]
BANGLA = [
    ["জেলা", "লিঙ্গ", "বয়স", "সন্তুষ্ট"],
    *[
        [d, s, str(20 + i % 9), "হ্যাঁ" if i % 2 else "না"]
        for i, (d, s) in enumerate([("ঢাকা", "নারী"), ("খুলনা", "পুরুষ")] * 15)
    ],
]
SWAHILI = [
    ["kaunti", "jinsia", "umri", "huduma", "ameridhika"],
    *[
        [c, s, str(20 + i % 30), "Kliniki ya Mama na Mtoto – Murang’a", "Ndiyo" if i % 2 else "Hapana"]
        for i, (c, s) in enumerate(
            [("Murang’a", "Mwanamke"), ("Kirinyaga", "Mwanamume"), ("Nyeri", "Mwanamke")] * 10
        )
    ],
]


def _csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize("rows", [NEPALI, BANGLA], ids=["nepali", "bangla"])
def test_a_file_saved_as_latin_1_has_lost_its_letters(tmp_path: Path, rows: list[list[str]]) -> None:
    """Saved as Latin-1 (Excel's 'CSV' on a Western Windows), every Nepali or Bangla letter is '?'."""
    path = tmp_path / "survey.csv"
    path.write_bytes(_csv_text(rows).encode("latin-1", errors="replace"))
    report = validate(path)
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-encoding"
    assert cause.evidence["lost"] >= len(rows)
    problem, fix = cause.texts()
    assert "replaced by '?'" in problem
    assert "'CSV UTF-8'" in fix
    path.write_text(_csv_text(rows), encoding="utf-8")  # the same file in UTF-8: no cause
    assert diagnose(validate(path)) is None


@pytest.mark.parametrize("rows", [NEPALI, BANGLA, SWAHILI], ids=["nepali", "bangla", "swahili"])
def test_utf_8_opened_as_latin_1_and_saved_again_is_garbled(tmp_path: Path, rows: list[list[str]]) -> None:
    """A UTF-8 export opened as Latin-1/Windows-1252 and saved again as UTF-8: "à¤•", "â€™"."""
    path = tmp_path / "survey.csv"
    # Swahili's "’" has a Windows-1252 form; Devanagari and Bengali bytes only a Latin-1 one
    as_read = "cp1252" if rows is SWAHILI else "latin-1"
    path.write_text(_csv_text(rows).encode("utf-8").decode(as_read), encoding="utf-8")
    report = validate(path)
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-encoding"
    assert cause.evidence["mojibake"] >= 10
    assert "garbled by a wrong encoding" in cause.texts()[0]
    path.write_text(_csv_text(rows), encoding="utf-8")
    assert diagnose(validate(path)) is None


def test_nepal_data_aimed_at_the_kenya_dataflow_is_a_wrong_dataflow(tmp_path: Path) -> None:
    text = NEPAL_MAPPING.read_text(encoding="utf-8")
    mapping = tmp_path / "nepal-to-kenya.yaml"
    mapping.write_text(
        text.replace("dataflow: IAEG-SDGs:DF_SDG_GLH(1.5)", "dataflow: CGD_BRIDGE:DF_CGD_KE(1.0)"),
        encoding="utf-8",
    )
    report = validate(NEPAL / "data.xlsx", mapping=mapping, form=NEPAL / "form.xlsx")
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-dataflow"
    assert cause.evidence["components"] == ["REF_AREA"]
    assert "CGD_BRIDGE:DF_CGD_KE(1.0)" in cause.texts()[0]
    assert cause.explains == ("unknown-code",)


def test_the_diagnosis_is_translated_and_keeps_its_code() -> None:
    report = validate(NEPAL / "data.xlsx", mapping=KENYA_MAPPING)
    sw = translator("sw")
    data = json.loads(render_json(report, sw))
    cause = diagnose(report)
    assert cause is not None
    assert data["diagnosis"]["code"] == "wrong-mapping"
    assert data["diagnosis"]["title"] == sw(CAUSES["wrong-mapping"]) != CAUSES["wrong-mapping"]
    assert data["diagnosis"]["problem"] == cause.texts(sw)[0] != cause.texts()[0]
    assert "'county'" in data["diagnosis"]["problem"]  # the data is not translated


def test_the_encoding_signs_of_a_large_file_are_counted_on_its_first_cells(tmp_path: Path) -> None:
    """A wrong encoding marks a whole file: a large file pays for SIGN_CELLS cells, no more."""
    from cgd_bridge.checks.table import SIGN_CELLS

    rows = [["county", "sex", "age", "answer", "note"]]
    rows += [["Murang’a", "Female", str(20 + i % 40), "Ndiyo", "sawa"] for i in range(80_000)]
    path = tmp_path / "big.csv"
    path.write_text(_csv_text(rows).encode("utf-8").decode("cp1252"), encoding="utf-8")
    report = validate(path)
    signs = report.stats["text_signs"]
    assert SIGN_CELLS <= signs["cells"] < 5 * 80_000
    cause = diagnose(report)
    assert cause is not None
    assert cause.code == "wrong-encoding"
