"""Workbooks built by hand so that the part the guard measures is not the part calamine reads.

Each workbook holds one far cell (column 6,110, past the 5,000-column limit, yet small enough
for calamine to read here): the premise of each test is checked by reading it with
python-calamine, and the guard must refuse it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from cgd_bridge.errors import InputError
from cgd_bridge.ingest import open_table, xlsx_guard
from cgd_bridge.ingest.xlsx import inspect

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>'
)
ROOT_RELS = (
    f'<?xml version="1.0"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships"><sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets>'
    "</workbook>"
)


def _rels(target: str) -> str:
    return (
        f'<?xml version="1.0"?><Relationships xmlns="{RELS}">'
        f'<Relationship Id="rId1" Type="{WORKSHEET}" Target="{target}"/></Relationships>'
    )


def _sheet(cells: str) -> bytes:
    return (
        f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>{cells}</sheetData></worksheet>'.encode()
    )


HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>county</t></is></c>'
SMALL = _sheet(HEADER + '</row><row r="2"><c r="A2" t="inlineStr"><is><t>Kisumu</t></is></c></row>')
FAR = _sheet(
    HEADER
    + '<c r="HZZ1"><v>1</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>Kisumu</t></is></c></row>'
)


def _zip(path: Path, parts: list[tuple[str, str | bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            z.writestr(name, data)  # a repeated name is written twice (zipfile warns)
    return path


def _book(
    path: Path, target: str, sheets: list[tuple[str, bytes]], workbook: str = "xl/workbook.xml"
) -> Path:
    head: list[tuple[str, str | bytes]] = [
        ("[Content_Types].xml", TYPES),
        ("_rels/.rels", ROOT_RELS),
        (workbook, WORKBOOK),
        ("xl/_rels/workbook.xml.rels", _rels(target)),
    ]
    return _zip(path, head + list(sheets))


def _calamine_width(path: Path) -> int:
    wb = CalamineWorkbook.from_path(str(path))
    try:
        return max(len(row) for row in wb.get_sheet_by_index(0).to_python())
    finally:
        wb.close()


HOSTILE = {
    # calamine finds a part in any case; Python's zip reader only as written
    "sheet-name-case": ("worksheets/sheet1.xml", [("xl/worksheets/Sheet1.xml", FAR)], "xl/workbook.xml"),
    "workbook-name-case": ("worksheets/sheet1.xml", [("xl/worksheets/sheet1.xml", FAR)], "XL/Workbook.xml"),
    # calamine joins the target to xl/ as written; a resolved path names another member
    "double-slash": ("worksheets//sheet1.xml", [("xl/worksheets//sheet1.xml", FAR)], "xl/workbook.xml"),
    "dot-segment": ("./worksheets/sheet1.xml", [("xl/./worksheets/sheet1.xml", FAR)], "xl/workbook.xml"),
    # one name twice: calamine reads the first member, Python's zip reader the last
    "duplicate-name": (
        "worksheets/sheet1.xml",
        [("xl/worksheets/sheet1.xml", FAR), ("xl/worksheets/sheet1.xml", SMALL)],
        "xl/workbook.xml",
    ),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_the_part_calamine_reads_is_the_part_measured(tmp_path: Path, case: str) -> None:
    target, sheets, workbook = HOSTILE[case]
    path = _book(tmp_path / "hostile.xlsx", target, sheets, workbook)
    if case != "duplicate-name":  # the premise: calamine reads the far cell (a duplicate is refused)
        assert _calamine_width(path) == 6110
    with pytest.raises(InputError) as caught:
        open_table(path)
    assert caught.value.file == "hostile.xlsx"
    assert "column 6,110" in caught.value.problem or "twice" in caught.value.problem


def test_a_listed_sheet_whose_part_is_missing_is_refused_naming_it(tmp_path: Path) -> None:
    path = _book(tmp_path / "missing.xlsx", "worksheets/sheet9.xml", [("xl/worksheets/sheet1.xml", SMALL)])
    with pytest.raises(InputError, match=r"the sheet 'data' is listed, but its part worksheets/sheet9.xml"):
        inspect(path, None)


def test_shared_strings_are_measured_in_any_case_of_their_name(tmp_path: Path) -> None:
    text = b"<si><t>" + b"a" * 1000 + b"</t></si>"
    strings = f'<?xml version="1.0"?><sst xmlns="{MAIN}">'.encode() + text * 5_000 + b"</sst>"
    sheet = _sheet('<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    path = _book(
        tmp_path / "strings.xlsx",
        "worksheets/sheet1.xml",
        [("xl/worksheets/sheet1.xml", sheet), ("xl/SharedStrings.xml", strings)],
    )
    assert len(str(CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()[0][0])) == 1000
    with pytest.raises(InputError, match="its text unpacks to more than 1 MB"):
        inspect(path, None, xlsx_guard.XlsxLimits(shared_strings_bytes=1 << 20))


@pytest.mark.parametrize("quoted", ['">"', '"<"'], ids=["gt-in-value", "lt-in-value"])
def test_a_far_reference_after_a_quoted_bracket_at_a_block_end_is_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quoted: str
) -> None:
    """The sheet is read in blocks; a cell tag cut just after a quoted ``>`` (or ``<``), which
    ends nothing for calamine, must not leave its far reference to a block with no tag."""
    monkeypatch.setattr(xlsx_guard, "CHUNK", 4096)
    body = _sheet(
        HEADER + "</row>" + "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(2, 200))
    )
    head = body[: body.index(b"</sheetData>")]
    fragment = f'<row r="200"><c r="A200" x={quoted}'.encode()
    cells = head[: 4096 * 3 - len(fragment)]
    cells = cells[: cells.rindex(b"</row>") + len(b"</row>")]
    start, end = b'<row r="199"><c r="B199" t="inlineStr"><is><t>', b"</t></is></c></row>"
    filler = start + b"x" * (4096 * 3 - len(cells) - len(fragment) - len(start) - len(end)) + end
    xml = cells + filler + fragment
    assert len(xml) == 4096 * 3  # the tag is cut right after its quoted bracket
    xml += b' r="XFD200"><v>1</v></c></row></sheetData></worksheet>'
    path = _book(tmp_path / "cut.xlsx", "worksheets/sheet1.xml", [("xl/worksheets/sheet1.xml", xml)])
    with pytest.raises(InputError, match="column 16,384"):
        inspect(path, None)


ODD_CELLS = [
    "<v>0.30000000000000004</v>",
    "<v>1e16</v>",
    "<v>123456789012345678</v>",
    "<v>-0</v>",
    "<v>1e-7</v>",
    "<v>5e-324</v>",
    "<v>999999999999999.9</v>",
    "<v>4503599627370497</v>",
    "<v>NaN</v>",
    "<v></v>",
    '<v>2024-01-02T03:04:05.123456</v>" t="d',
    "<is><t><![CDATA[<x>&]]></t></is>",
    "<is><t>&#65;&amp;&lt;</t></is>",
    "<is><r><t>a</t></r><r><t>b</t></r></is>",
    "<is><t>a</t><rPh><t>ZZ</t></rPh></is>",
    '<is><t xml:space="preserve">  a  </t></is>',
]


@pytest.mark.parametrize("inner", ODD_CELLS)
def test_the_columnar_reading_of_odd_cells_is_each_cells_text(tmp_path: Path, inner: str) -> None:
    """Numbers at the edges of float text, ISO dates, CDATA, entities, rich and phonetic runs:
    when the columnar reader takes the sheet, each cell's text is :func:`cell_text` of what
    python-calamine reads (else it leaves the sheet to the reading by rows)."""
    from cgd_bridge.ingest.xlsx import _columnar, cell_text

    kind, _, value = inner.partition('" t="')
    attrs = ' t="inlineStr"' if inner.startswith("<is>") else (f' t="{value}"' if value else "")
    cells = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>'
        f'<row r="2"><c r="A2"{attrs}>{kind}</c></row><row r="3"><c r="A3"><v>1</v></c></row>'
    )
    path = _book(
        tmp_path / "odd.xlsx", "worksheets/sheet1.xml", [("xl/worksheets/sheet1.xml", _sheet(cells))]
    )
    wb = CalamineWorkbook.from_path(str(path))
    want = [cell_text(row[0]) for row in wb.get_sheet_by_index(0).to_python()[1:]]
    wb.close()
    got = _columnar(path, None, inspect(path, None))
    if got is not None:
        assert got[2].column(0).to_pylist() == want
