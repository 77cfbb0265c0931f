"""Hostile workbooks are measured before calamine allocates anything (#14)."""

from __future__ import annotations

import resource
import zipfile
from pathlib import Path

import openpyxl
import pytest

from cgd_bridge.errors import InputError
from cgd_bridge.ingest import open_table
from cgd_bridge.ingest.xlsx import XlsxLimits, inspect, sheet_rows
from cgd_bridge.pipeline import validate
from tests.support.paths import ROOT

NEPAL = ROOT / "examples" / "nepal-youth-survey"


def _book(path: Path, cells: dict[str, object], title: str = "data") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for ref, value in cells.items():
        ws[ref] = value
    wb.save(path)
    return path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_one_cell_at_the_last_column_and_row_is_refused_before_allocating(tmp_path: Path) -> None:
    path = _book(tmp_path / "bomb.xlsx", {"A1": "county", "A2": "Kisumu", "XFD1048576": 1})
    assert path.stat().st_size < 20_000
    before = _peak_mb()
    with pytest.raises(InputError) as caught:
        open_table(path)
    assert _peak_mb() - before < 200  # calamine would have asked for 512 GiB
    assert caught.value.file == "bomb.xlsx"
    assert "16,384 columns" not in caught.value.problem
    assert "column 16,384" in caught.value.problem
    assert "Delete the empty rows and columns" in caught.value.fix


def test_a_sheet_spanning_too_many_cells_is_refused(tmp_path: Path) -> None:
    path = _book(tmp_path / "tall.xlsx", {"A1": "a", "B1": "b", "ZZ200000": 1})
    with pytest.raises(InputError, match=r"200,000 rows by 702 columns"):
        inspect(path, None, XlsxLimits(cells=1_000_000))
    inspect(path, None, XlsxLimits(cells=200_000_000))  # inside the limit: no error


def test_the_named_sheet_is_the_one_measured(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "small"
    wb.active["A1"] = "x"
    wb.create_sheet("big")["CV30000"] = 1
    wb.save(tmp_path / "two.xlsx")
    inspect(tmp_path / "two.xlsx", "small", XlsxLimits(cells=10_000))
    with pytest.raises(InputError, match="30,000 rows by 100 columns"):
        inspect(tmp_path / "two.xlsx", "big", XlsxLimits(cells=10_000))


def test_a_shared_strings_bomb_is_refused_while_unpacking(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", {"A1": "name", "A2": "Sita"})
    bomb = tmp_path / "strings.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/sharedStrings.xml":
                dst.writestr(item, src.read(item))
        text = b"<si><t>" + b"a" * 1000 + b"</t></si>"
        dst.writestr("xl/sharedStrings.xml", b"<sst>" + text * 5_000 + b"</sst>")
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match="its text unpacks to more than 1 MB"):
        inspect(bomb, None, XlsxLimits(shared_strings_bytes=1 << 20))


def test_an_xlsform_bomb_is_refused_too(tmp_path: Path) -> None:
    form = _book(tmp_path / "form.xlsx", {"A1": "type", "B1": "name", "XFD1048576": "x"}, title="survey")
    with pytest.raises(InputError, match="column 16,384"):
        validate(NEPAL / "data.xlsx", metadata=NEPAL / "quality.yaml", form=form)


def test_real_workbooks_pass(tmp_path: Path) -> None:
    for path in (NEPAL / "data.xlsx", NEPAL / "form.xlsx"):
        inspect(path, None)
    _name, rows = sheet_rows(NEPAL / "data.xlsx", None)
    assert next(rows)
