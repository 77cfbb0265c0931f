"""The spreadsheet and the bundle (#17), written from a small published table and read back.

The spreadsheet is opened with openpyxl (a reader independent of the writer) and compared
cell by cell to the observations; the bundle's ZIP is listed and each data file read back.
The routes that serve them are attacked with the others in ``test_published_view.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pyarrow as pa
import pytest

from cgd_bridge.errors import FormatError
from cgd_bridge.sdmx.formats import FORMATS, METADATA_FORMATS
from cgd_bridge.sdmx.target import Target
from cgd_bridge.server import downloads
from cgd_bridge.server.downloads import QualitySheet, write_bundle, write_xlsx

TARGET = Target(
    "CGD_BRIDGE",
    "DF_CGD_KE",
    "1.0",
    ("SEX", "REF_AREA"),
    ("OBS_STATUS", "COMMENT"),
    names={
        "SEX": {"F": "Female", "M": "Male"},
        "REF_AREA": {"KE_042": "Kisumu"},
        "OBS_STATUS": {"G": "Experimental", "Q": "Missing value; suppressed"},
    },
    concepts={"SEX": "Sex", "REF_AREA": "Reference area", "OBS_STATUS": "Observation status"},
    name="Citizen-generated data, Kenya",
)
TABLE = pa.table(
    {
        "SEX": ["F", "M", "F"],
        "REF_AREA": ["KE_042", "KE_042", "KE_042"],
        "TIME_PERIOD": ["2023", "2024", "2024"],
        "OBS_VALUE": ["12.5", None, "7"],
        "OBS_STATUS": ["G", "Q", "G"],
        "COMMENT": ["ok", None, '=HYPERLINK("http://x")'],
    }
)
QUALITY = [
    QualitySheet(
        "Sauti ya Wananchi",
        "ke-scorecard-2024",
        2,
        {"dataset": {"id": "ke-scorecard-2024", "title": "Kisumu health scorecard"}},
    )
]


@pytest.fixture
def book(tmp_path: Path) -> openpyxl.Workbook:
    path = tmp_path / "data.xlsx"
    assert write_xlsx(path, TABLE, TARGET, QUALITY) == 3
    return openpyxl.load_workbook(path)


def test_the_data_sheet_has_names_beside_codes_and_human_headers(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == ["Data", "Codes", "Quality"]
    rows = list(book["Data"].iter_rows(values_only=True))
    assert rows[0] == (
        "Sex", "Sex (code)", "Reference area", "Reference area (code)", "Period", "Value",
        "Observation status", "Observation status (code)", "COMMENT",
    )  # fmt: skip
    assert rows[1] == ("Female", "F", "Kisumu", "KE_042", "2023", 12.5, "Experimental", "G", "ok")
    # the suppressed cell: no value, its status in words
    assert rows[2] == ("Male", "M", "Kisumu", "KE_042", "2024", None, "Missing value; suppressed", "Q", None)
    assert rows[3][5] == 7.0
    assert len(rows) == 1 + TABLE.num_rows


def test_formula_like_text_is_kept_as_text_never_a_formula(book: openpyxl.Workbook) -> None:
    cell = book["Data"].cell(row=4, column=9)
    assert cell.value == '=HYPERLINK("http://x")'
    assert cell.data_type == "s"  # a string cell, not a formula ("f")
    assert cell.quotePrefix  # and Excel keeps it text when the cell is edited
    assert book["Data"].cell(row=2, column=9).quotePrefix is False


def test_the_codes_sheet_lists_each_columns_codes_and_names(book: openpyxl.Workbook) -> None:
    rows = list(book["Codes"].iter_rows(values_only=True))
    assert rows[0] == ("Column", "Code", "Name")
    assert ("Sex", "F", "Female") in rows
    assert ("Reference area", "KE_042", "Kisumu") in rows
    assert ("Observation status", "Q", "Missing value; suppressed") in rows
    assert len(rows) == 1 + 2 + 1 + 2


def test_the_quality_sheet_is_in_words(book: openpyxl.Workbook) -> None:
    rows = list(book["Quality"].iter_rows(values_only=True))
    assert rows[0][0] == "Sauti ya Wananchi: ke-scorecard-2024, version 2"
    assert rows[1] == ("Section", "Field", "Value", "Code", "What it means")
    by_field = {r[1]: r for r in rows[2:] if r[1]}
    assert by_field["Title"][0] == "The dataset"  # the section as the metadata form labels it
    assert by_field["Title"][2] == "Kisumu health scorecard"
    assert not by_field["Title"][3]  # free text has no code
    assert by_field["Title"][4]  # the help text says what the field means
    assert not any("dataset.title" in str(c) for r in rows for c in r)  # no raw YAML keys


def _quality_sheet(tmp_path: Path, lang: str) -> list[tuple[object, ...]]:
    """The Quality sheet of a whole cgd-quality/1.0 record (the Kenya example), in ``lang``."""
    import yaml

    from cgd_bridge.i18n import translator
    from tests.support.paths import ROOT

    record = yaml.safe_load(
        (ROOT / "examples/kenya-health-scorecard/quality.yaml").read_text(encoding="utf-8")
    )
    path = tmp_path / f"{lang}.xlsx"
    write_xlsx(path, TABLE, TARGET, [QualitySheet("Sauti", "ke", 1, record)], translator(lang))
    return list(openpyxl.load_workbook(path).worksheets[2].iter_rows(values_only=True))  # named in lang


def test_the_quality_sheet_names_coded_values_in_words_with_the_code_beside(tmp_path: Path) -> None:
    """A licence, a sampling design, yes/no answers (the DSAT's too) and ticked conditions are
    named as the metadata form names them, in the chosen language; the code stays beside."""
    from cgd_bridge.i18n import translator

    rows = _quality_sheet(tmp_path, "en")
    cells = {(r[0], r[1]): r for r in rows[2:] if r[1]}
    values = {r[2] for r in rows[2:]}
    licence = next(r for r in rows if r[3] == "CC-BY-4.0")
    assert licence[2] == "Creative Commons Attribution 4.0 (CC-BY-4.0)"
    sampling = next(r for r in rows if r[3] == "purposive")
    assert sampling[2] == "Purposive sample"
    assert sum(1 for r in rows if r[3] == "yes" and r[2] == "Yes") >= 5 + 3  # DSAT ethics, consent...
    conditions = next(r for r in rows if r[3] and r[3].startswith("statistical_purposes_only, "))
    assert conditions[2].startswith("For statistical purposes only; No attempt to identify anyone")
    for code in ("purposive", "yes", "CC-BY-4.0", "sharing_with_nso", "admin1", "community_scorecard"):
        assert code not in values, f"the code {code!r} is shown as the value"
    assert any(r[2] == "1455" and not r[3] for r in rows)  # a number is its own word
    assert cells  # labelled by section and field

    ne = translator("ne")
    nepali = _quality_sheet(tmp_path, "ne")
    assert nepali[1][3] == ne("Code")
    design = next(r for r in nepali if r[3] == "purposive")
    assert design[2] == ne("Purposive sample") != "Purposive sample"
    yes = [r for r in nepali if r[3] == "yes"]
    assert yes
    assert all(r[2] == ne("Yes") != "Yes" for r in yes)


def test_a_bangla_spreadsheet_writes_its_titles_in_bangla_digits_and_the_same_cells(
    tmp_path: Path,
) -> None:
    """The Quality sheet's title ("version {n}") is text a person reads: in Bangla its number is
    in Bangla digits; every cell value (codes, periods, the numbers) is the machine value, the
    same as the English spreadsheet's."""
    from cgd_bridge.i18n import translator

    bn = translator("bn")
    quality = [QualitySheet("Sauti ya Wananchi", "ke-scorecard-2024", 12, QUALITY[0].record)]
    books = {}
    for lang in ("en", "bn"):
        path = tmp_path / f"{lang}.xlsx"
        write_xlsx(path, TABLE, TARGET, quality, translator(lang))
        books[lang] = openpyxl.load_workbook(path)
    en_title = books["en"].worksheets[2].cell(row=1, column=1).value
    bn_title = books["bn"].worksheets[2].cell(row=1, column=1).value
    assert en_title == "Sauti ya Wananchi: ke-scorecard-2024, version 12"
    assert bn_title == "Sauti ya Wananchi: ke-scorecard-2024, " + bn("version {n}", n=12)
    assert "১২" in bn_title
    assert "12" not in bn_title
    en_data = list(books["en"].worksheets[0].iter_rows(values_only=True))
    bn_data = list(books["bn"].worksheets[0].iter_rows(values_only=True))
    assert bn_data[0] != en_data[0]  # the headers are Bangla
    assert bn_data[1:] == en_data[1:]  # the cells are the same machine values
    assert bn_data[1][5] == 12.5
    assert bn_data[1][4] == "2023"
    en_codes = list(books["en"].worksheets[1].iter_rows(values_only=True))
    bn_codes = list(books["bn"].worksheets[1].iter_rows(values_only=True))
    assert [r[1:] for r in bn_codes[1:]] == [r[1:] for r in en_codes[1:]]


def test_more_rows_than_a_sheet_holds_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(downloads, "MAX_SHEET_ROWS", 3)
    with pytest.raises(FormatError) as err:
        write_xlsx(tmp_path / "x.xlsx", TABLE, TARGET, QUALITY)
    assert "SDMX-CSV" in (err.value.fix or "")
    assert not (tmp_path / "x.xlsx").exists()


class _Unseekable(io.RawIOBase):
    """A response body: write-only, no seek, no tell (as the streamed ZIP's consumer)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def,override]
        self.buffer.extend(b)
        return len(b)


def test_the_bundle_streams_every_format_the_spreadsheet_and_the_metadata() -> None:
    out = _Unseekable()
    when = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    assert write_bundle(out, TABLE, TARGET, QUALITY, when=when) == 3  # type: ignore[arg-type]
    z = zipfile.ZipFile(io.BytesIO(bytes(out.buffer)))
    names = z.namelist()
    assert names[0] == "README.txt"
    data = [f for f in FORMATS.values() if f.writer]
    meta = [f for f in METADATA_FORMATS.values() if f.writer]
    assert len(names) == 1 + 1 + 1 + len(data) + len(meta)
    for f in data:
        assert f"data/DF_CGD_KE-{f.name}{f.suffix}" in names
    readme = z.read("README.txt").decode()
    assert "Citizen-generated data, Kenya" in readme
    assert "Sauti ya Wananchi" in readme
    for name in names[1:]:
        assert name in readme  # every file is described
    labelled = list(csv.DictReader(io.StringIO(z.read("data/DF_CGD_KE-labels.csv").decode())))
    assert labelled[0]["REF_AREA: Reference area"] == "KE_042: Kisumu"
    assert [r["OBS_VALUE"] for r in labelled] == ["12.5", "", "7"]
    plain = list(csv.DictReader(io.StringIO(z.read("data/DF_CGD_KE-sdmx-csv-1.0.csv").decode())))
    assert [r["OBS_VALUE"] for r in plain] == ["12.5", "", "7"]
    sheet = openpyxl.load_workbook(io.BytesIO(z.read("DF_CGD_KE.xlsx")))["Data"]
    assert sheet.max_row == 1 + TABLE.num_rows
    assert all(z.read(n) for n in names if n.startswith("metadata/"))
    assert z.testzip() is None


def test_a_bundle_too_big_for_a_sheet_leaves_the_spreadsheet_out_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(downloads, "MAX_SHEET_ROWS", 3)
    out = _Unseekable()
    write_bundle(out, TABLE, TARGET, QUALITY, when=dt.datetime(2026, 12, 7, tzinfo=dt.UTC))  # type: ignore[arg-type]
    z = zipfile.ZipFile(io.BytesIO(bytes(out.buffer)))
    assert "DF_CGD_KE.xlsx" not in z.namelist()
    assert "No spreadsheet: 3 observations" in z.read("README.txt").decode()
    assert "data/DF_CGD_KE-labels.csv" in z.namelist()


def test_calamine_reads_the_same_data_sheet(tmp_path: Path) -> None:
    """The project's own XLSX reader (calamine) reads the spreadsheet back as written."""
    from python_calamine import CalamineWorkbook

    path = tmp_path / "data.xlsx"
    write_xlsx(path, TABLE, TARGET, QUALITY)
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Data").to_python()
    assert len(rows) == 1 + TABLE.num_rows
    assert rows[1][:6] == ["Female", "F", "Kisumu", "KE_042", "2023", 12.5]
    assert rows[2][5] == ""  # the suppressed cell is empty
    assert rows[3][8] == '=HYPERLINK("http://x")'
