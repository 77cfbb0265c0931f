"""Hostile workbooks are measured before calamine allocates anything (#14)."""

from __future__ import annotations

import re
import resource
import zipfile
from collections.abc import Callable
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


# --- #16: the defence is cheaper (no Python step per cell), and must stay as safe -------------


def _patched(src: Path, dst: Path, sheet: Callable[[bytes], bytes] | None = None, **parts: bytes) -> Path:
    """A copy of the workbook ``src`` with its first sheet's XML passed through ``sheet`` and the
    named parts (``xl/sharedStrings.xml`` as ``sharedStrings``) replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "xl/worksheets/sheet1.xml" and sheet is not None:
                data = sheet(data)
            zout.writestr(item.filename, parts.pop(Path(item.filename).stem, data))
        for key, data in parts.items():
            zout.writestr(f"xl/{key}.xml", data)
    return dst


def _sheet_data(rows: bytes) -> Callable[[bytes], bytes]:
    def edit(xml: bytes) -> bytes:
        start, end = xml.index(b"<sheetData"), xml.index(b"</sheetData>") + len(b"</sheetData>")
        return xml[:start] + b"<sheetData>" + rows + b"</sheetData>" + xml[end:]

    return edit


HEADER = b'<row r="1"><c r="A1" t="inlineStr"><is><t>county</t></is></c></row>'


@pytest.mark.parametrize(
    "far_cell",
    [
        b'<c\nr="XFD9"><v>1</v></c>',  # a newline, not a space, after the tag's name
        b'<c r="A9" r="XFD9"><v>1</v></c>',  # two references: calamine takes the last
        b'<c r="A9" x=">" r="XFD9"><v>1</v></c>',  # ">" inside a quoted value
        b"<c r='XFD9'><v>1</v></c>",  # single quotes
        b'<c r = "XFD9"><v>1</v></c>',  # spaces around "="
        b'<c r="xfd9"><v>1</v></c>',  # lower case
        b'<x:c r="XFD9" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:v>1</x:v></x:c>',
    ],
    ids=["newline", "two-refs", "gt-in-value", "single-quotes", "spaced", "lower-case", "prefixed"],
)
def test_a_far_cell_written_any_way_calamine_reads_is_refused(tmp_path: Path, far_cell: bytes) -> None:
    good = _book(tmp_path / "good.xlsx", {"A1": "county", "A2": "Kisumu"})
    rows = HEADER + b'<row r="9">' + far_cell + b"</row>"
    bomb = _patched(good, tmp_path / "bomb.xlsx", _sheet_data(rows))
    with pytest.raises(InputError, match="column 16,384"):
        open_table(bomb)


def test_a_part_claiming_a_small_size_but_inflating_large_is_refused_as_damaged(tmp_path: Path) -> None:
    """The zip's directory says 1,000 bytes; the stream inflates to 20 MB: the reader stops at
    the declared size, the checksum fails, and that is an InputError naming the file."""
    import struct

    good = _book(tmp_path / "good.xlsx", {"A1": "name", "A2": "Sita"})
    big = b"<sst>" + b"<si><t>" + b"a" * 1000 + b"</t></si>" * 1 + b"</sst>" + b" " * (20 << 20)
    path = _patched(good, tmp_path / "liar.xlsx", sharedStrings=big)
    raw = bytearray(path.read_bytes())
    name = b"xl/sharedStrings.xml"
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        pos = 0
        while (pos := raw.find(sig, pos)) >= 0:
            name_len = struct.unpack_from("<H", raw, pos + (26 if sig == b"PK\x03\x04" else 28))[0]
            start = pos + (30 if sig == b"PK\x03\x04" else 46)
            if raw[start : start + name_len] == name:
                struct.pack_into("<I", raw, pos + size_at, 1000)
            pos += 4
    path.write_bytes(bytes(raw))
    before = _peak_mb()
    with pytest.raises(InputError, match="cannot be opened as an Excel workbook") as caught:
        open_table(path)
    assert caught.value.file == "liar.xlsx"
    assert _peak_mb() - before < 100


def test_a_declared_size_past_the_limit_is_refused_before_inflating(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = _book(tmp_path / "big.xlsx", {"A1": "x", **{f"A{i}": "y" * 100 for i in range(2, 2000)}})
    opened: list[str] = []
    real = zipfile.ZipFile.open

    def watch(self, name, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(name if isinstance(name, str) else name.filename)
        return real(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", watch)
    with pytest.raises(InputError, match="the sheet unpacks to more than 0 MB"):
        inspect(path, None, XlsxLimits(sheet_bytes=10_000))
    assert "xl/worksheets/sheet1.xml" not in opened


def test_a_huge_dimension_alone_is_harmless(tmp_path: Path) -> None:
    """``<dimension ref="A1:XFD1048576"/>`` claims 17 billion cells; neither the span check nor
    calamine trusts it: the two real cells are read."""
    good = _book(tmp_path / "good.xlsx", {"A1": "county", "A2": "Kisumu"})

    def claim(xml: bytes) -> bytes:
        xml = re.sub(rb"<dimension [^>]*/>", b"", xml)
        return xml.replace(b"<sheetData", b'<dimension ref="A1:XFD1048576"/><sheetData', 1)

    path = _patched(good, tmp_path / "dim.xlsx", claim)
    before = _peak_mb()
    table = open_table(path)
    assert [b.to_pydict() for b in table.batches()] == [{"c0": ["Kisumu"]}]
    assert _peak_mb() - before < 100


def test_millions_of_empty_cells_are_measured_in_bounded_memory(tmp_path: Path) -> None:
    """Empty cells make no grid in calamine, but every tag counts in the span: a sheet of them
    reaching far is refused, quickly and in bounded memory; within the limits it is read."""
    good = _book(tmp_path / "good.xlsx", {"A1": "county", "A2": "Kisumu"})
    row = b'<row r="%d"><c r="A%d" s="1"/><c r="BZ%d"/></row>'
    empty = b"".join(row % (r, r, r) for r in range(3, 1_000_000))
    rows = HEADER + b'<row r="2"><c r="A2" t="inlineStr"><is><t>Kisumu</t></is></c></row>' + empty
    path = _patched(good, tmp_path / "empty.xlsx", _sheet_data(rows))
    assert path.stat().st_size < 10 << 20
    before = _peak_mb()
    with pytest.raises(InputError, match="rows by 78 columns"):
        open_table(path)
    assert _peak_mb() - before < 200
    inspect(path, None, XlsxLimits(cells=100_000_000))  # within a larger limit: measured, no error


def test_a_tag_longer_than_a_mebibyte_is_refused(tmp_path: Path) -> None:
    good = _book(tmp_path / "good.xlsx", {"A1": "county", "A2": "Kisumu"})
    rows = HEADER + b'<row r="2"><c r="A2" x="' + b"y" * (20 << 20) + b'"><v>1</v></c></row>'
    path = _patched(good, tmp_path / "long.xlsx", _sheet_data(rows))
    with pytest.raises(InputError, match="longer than 1 MiB"):
        open_table(path)
