"""The limits of an XLSX workbook, measured before a reader allocates anything (#14, #16).

calamine (behind both fastexcel and python-calamine) holds a whole sheet as a dense grid, from
the first to the last cell that has anything in it. A 10 KB file with one cell at XFD1048576 is
a grid of 17 billion cells (400 GiB), and a 1 MB file of shared strings can stand for gigabytes
of text. So before a reader sees a workbook, :func:`inspect` measures what it really holds:

- the zip directory first, for free: a part whose declared size passes its limit is refused
  without inflating a byte;
- then the shared strings and the sheet as streams, in bounded memory, each refused as soon as
  more than its limit came out (Python's zip reader also stops at the declared size and checks
  the CRC, so a part claiming small sizes but inflating large is refused as damaged);
- while the sheet streams by, the grid its cells span. Nothing in the file is trusted (not the
  sheet's ``dimension``, not the directory's sizes): every ``<c>`` and ``<row>`` tag counts,
  empty or not, so the measure is never below the grid a reader builds.

The span is measured without a Python step per cell. A sheet as Excel, LibreOffice, openpyxl,
xlsxwriter and Kobo write it gives each tag its reference first (``<c r="B7" t="s">``); for each
block of the sheet the bounds are guessed from its last row, and one regular expression finds
every tag that is past them or not in that plain form. Only those are looked at (past the
bounds: the bounds grow; another form: the block is measured tag by tag, with references in
any quoting, prefixes, missing references counted from the tag before, as calamine does).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cgd_bridge.errors import InputError, TooLarge
from cgd_bridge.i18n import N_, msg, nmsg, num


@dataclass(frozen=True)
class XlsxLimits:
    """What one sheet may hold (a 1,000,000-row export of 50 columns is well inside)."""

    cells: int = 60_000_000  # the grid from the first to the last used cell, rows x columns
    columns: int = 5_000
    sheet_bytes: int = 4 << 30  # the sheet's XML, uncompressed
    shared_strings_bytes: int = 512 << 20  # all the workbook's text, uncompressed


LIMITS = XlsxLimits()


@dataclass(frozen=True)
class SheetFacts:
    """What :func:`inspect` learnt of a sheet on its way.

    ``member`` is the sheet's part in the zip (None: not an OOXML workbook, which calamine reads
    or refuses itself); ``rows`` and ``columns`` the span of its tags (1-based, an upper bound of
    the grid a reader builds); ``date1904`` the workbook's date system.
    """

    member: str | None
    rows: int = 0
    columns: int = 0
    date1904: bool = False


#: bytes of the sheet read at a time
CHUNK = 8 << 20
#: the longest tag the span scan waits for across blocks; a longer one is a damaged file
MAX_TAG = 1 << 20

#: a tag of a prefixed name (<x:c ...>; or text that reads so): the block is measured tag by tag
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
#: any row or cell tag, with its attributes (quote-aware: ``>`` may stand in a quoted value)
_TAG = re.compile(rb"<(?:[^\s<>/!?\"'=]+:)?(row|c)(?=[\s/>])((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
#: every ``r`` attribute of a tag, in either quoting, spaces around ``=`` allowed
_REF = re.compile(rb"(?:^|\s)r\s*=\s*(?:\"([A-Za-z]*)(\d*)\"|'([A-Za-z]*)(\d*)')")
_PLAIN_ROW = re.compile(rb'<row r="(\d+)"')
_PLAIN_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"')
#: the rest of a cell tag in the plain form: quoted values, no ``r`` outside them (calamine takes
#: a cell's last ``r`` attribute, so a second one must not pass unseen)
_ATTRS = rb"""(?:[^>"'r]++|"[^"]*+"|'[^']*+')*+>"""


def column_number(letters: bytes) -> int:
    """``b"A"`` -> 1, ``b"AB"`` -> 28 (lower case as calamine reads it)."""
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 96 if ch >= 97 else ch - 64)
    return n


def column_letters(number: int) -> str:
    """1 -> ``"A"``, 28 -> ``"AB"``."""
    out = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        out = chr(65 + rest) + out
    return out


def _at_most(bound: str, first: str, rest: str) -> str:
    """A pattern of the strings of ``[first][rest]*`` that are at most ``bound`` in column or
    number order (shorter first, then character by character). The strings as long as the
    bound come first: in a block of ascending rows most references are."""
    k = len(bound)
    alts = []
    for i, ch in enumerate(bound):  # the widest same-length branch first
        low = (first if i == 0 else rest)[0]
        if ch > low:
            tail = f"[{rest}]{{{k - i - 1}}}" if k - i - 1 else ""
            alts.append(f"{re.escape(bound[:i])}[{low}-{chr(ord(ch) - 1)}]{tail}")
    alts.append(re.escape(bound))
    if k > 1:
        alts.append(f"[{first}][{rest}]{{0,{k - 2}}}")
    return "(?:" + "|".join(alts) + ")"


@lru_cache(maxsize=64)
def _suspects(rows: int, columns: int) -> re.Pattern[bytes]:
    """Every cell tag that is not in the plain form within ``rows`` x ``columns``."""
    row = _at_most(str(max(rows, 0)), "0-9" if rows == 0 else "1-9", "0-9").encode()
    col = _at_most(column_letters(max(columns, 1)), "A-Z", "A-Z").encode()
    return re.compile(rb'<c(?=[\s/>])(?! r="' + col + row + rb'"' + _ATTRS + rb")")


#: every row tag not in the plain form
#: (calamine takes a row's first ``r`` attribute)
_ODD_ROW = re.compile(rb'<row(?=[\s/>])(?! r="[1-9]\d{0,6}")')


#: any ``r`` attribute anywhere, however written: the bound of the tag-by-tag measure
_ANY_REF = re.compile(rb"(?:^|[\s\"'])r\s*=\s*[\"']?([A-Za-z]*)(\d*)")


@dataclass
class _Span:
    """The bounds so far (1-based) and where the last tag left off, for tags without a reference."""

    rows: int = 0
    columns: int = 0
    row: int = 0
    column: int = 0

    def block(self, data: bytes) -> None:
        """Take in one block of sheet XML (whole tags only)."""
        if not _PREFIXED.search(data) and not _ODD_ROW.search(data) and self._plain(data):
            return
        self._tag_by_tag(data)

    def _plain(self, data: bytes) -> bool:
        """The fast measure; False when a tag is in another form (then nothing was changed)."""
        rows, columns = self.rows, self.columns
        first_row, last_row = data.find(b'<row r="'), data.rfind(b'<row r="')
        for start in {first_row, last_row} - {-1}:  # the bounds guessed from the block's ends
            end = data.find(b"</row>", start)
            for letters, digits in _PLAIN_CELL.findall(data, start, end if end >= 0 else len(data)):
                rows, columns = max(rows, int(digits)), max(columns, column_number(letters))
        last_cell = data.rfind(b'<c r="')
        if last_cell >= 0 and (cell := _PLAIN_CELL.match(data, last_cell)):
            rows, columns = max(rows, int(cell.group(2))), max(columns, column_number(cell.group(1)))
        while found := list(_suspects(rows, columns).finditer(data)):
            grown = False
            for m in found:
                cell = _PLAIN_CELL.match(data, m.start())
                tag = _TAG.match(data, m.start())
                if cell is None or tag is None or len(_REF.findall(tag.group(2))) != 1:
                    return False  # another form: measured tag by tag
                r, c = int(cell.group(2)), column_number(cell.group(1))
                if r > rows or c > columns:
                    rows, columns, grown = max(rows, r), max(columns, c), True
            if not grown:
                return False  # within the bounds, yet not the plain grammar
        self.rows, self.columns = rows, columns
        if last_cell > last_row and (cell := _PLAIN_CELL.match(data, last_cell)):
            self.row, self.column = int(cell.group(2)), column_number(cell.group(1))
        elif last_row >= 0 and (row := _PLAIN_ROW.match(data, last_row)):
            self.row, self.column = int(row.group(1)), 0
        return True

    def _tag_by_tag(self, data: bytes) -> None:
        """Every tag in turn: a row or cell without a reference is the one after the tag before
        (as calamine reads them); and never less than the largest reference written anywhere in
        the block, whatever tag or quoting holds it."""
        row, column, rows, columns = self.row, self.column, self.rows, self.columns
        for tag, attrs in _TAG.findall(data):
            refs = [(a or c, b or d) for a, b, c, d in _REF.findall(attrs)]
            letters = max((column_number(x) for x, _ in refs if x), default=0)
            digits = max((int(y) for _, y in refs if y), default=0)
            if tag == b"row":
                row = digits or row + 1
                column = 0
            else:
                column = letters or column + 1
                row = digits or row
                rows, columns = max(rows, row), max(columns, column)
        for letters_, digits_ in _ANY_REF.findall(data):
            if letters_:
                columns = max(columns, column_number(letters_))
            if digits_:
                rows = max(rows, int(digits_))
        self.row, self.column, self.rows, self.columns = row, column, rows, columns


def _too_big(what: dict[str, Any], limit: dict[str, Any], file: str) -> TooLarge:
    return TooLarge(
        N_("the workbook is refused: {what}, more than the limit of {limit}"),
        fix=N_(
            "Delete the empty rows and columns after the data (select them, right-click, Delete) and save "
            "again, or export the sheet as CSV."
        ),
        file=file,
        params={"what": what, "limit": limit},
    )


def _unpacks_too_much(what: dict[str, Any], limit: int, file: str) -> TooLarge:
    size = msg(N_("{n} MB"), n=num(limit >> 20))
    return _too_big(msg(N_("{what} unpacks to more than {size}"), what=what, size=size), size, file)


def damaged(file: str, reason: str) -> InputError:
    """The zip cannot be read: cut, forged sizes, a bad checksum, an unknown compression."""
    return InputError(
        N_("the file cannot be opened as an Excel workbook ({reason})"),
        fix=N_("Save it again from Excel or LibreOffice as .xlsx, or export it as CSV."),
        file=file,
        params={"reason": reason},
    )


def read_limited(
    zf: zipfile.ZipFile, member: str, limit: int, what: dict[str, Any], file: str
) -> Iterator[bytes]:
    """The member's bytes, a block at a time, refused once more than ``limit`` came out.

    The directory's declared size is checked first (nothing is inflated when it passes the
    limit); while inflating, the bytes are counted again, since the directory may lie (and
    Python's reader stops at the declared size and checks the CRC, so a lie is an error).
    """
    if zf.getinfo(member).file_size > limit:
        raise _unpacks_too_much(what, limit, file)
    seen = 0
    try:
        with zf.open(member) as fh:
            while chunk := fh.read(CHUNK):
                seen += len(chunk)
                if seen > limit:
                    raise _unpacks_too_much(what, limit, file)
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise damaged(file, str(exc)) from exc


def _workbook(zf: zipfile.ZipFile, sheet: str | None) -> tuple[str | None, bool]:
    """The zip member of ``sheet`` (or of the first sheet) and whether dates count from 1904."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        if max(zf.getinfo(n).file_size for n in ("xl/workbook.xml", "xl/_rels/workbook.xml.rels")) > 64 << 20:
            return None, False  # a workbook index this size is no workbook: calamine refuses it
        book = etree.fromstring(zf.read("xl/workbook.xml"), parser)
        rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), parser)
    except (KeyError, etree.XMLSyntaxError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError):
        return None, False  # not a workbook calamine can open either: it says so
    date1904 = any(p.get("date1904") in ("1", "true") for p in book.iter("{*}workbookPr"))
    targets = {r.get("Id"): r.get("Target") or "" for r in rels}
    for s in book.iter("{*}sheet"):
        if sheet is None or s.get("name") == sheet:
            rid = next((v for k, v in s.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid, "")
            member = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            return member, date1904
    return None, date1904


def inspect(path: Path, sheet: str | None, limits: XlsxLimits = LIMITS) -> SheetFacts:
    """Refuse a workbook whose ``sheet`` (default: the first) passes ``limits``; bounded memory.

    Returns what was learnt on the way (:class:`SheetFacts`); a file that is not a zip, or not
    an OOXML workbook, is left to the reader, which refuses it with its own message.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return SheetFacts(None)  # calamine gives the plain "cannot be opened" error
    with zf:
        names = set(zf.namelist())
        if "xl/sharedStrings.xml" in names:
            for _ in read_limited(
                zf, "xl/sharedStrings.xml", limits.shared_strings_bytes, msg(N_("its text")), path.name
            ):
                pass
        member, date1904 = _workbook(zf, sheet)
        if member is None or member not in names:
            return SheetFacts(None, date1904=date1904)
        span = _Span()
        tail = b""
        for chunk in read_limited(zf, member, limits.sheet_bytes, msg(N_("the sheet")), path.name):
            data = tail + chunk
            cut = data.rfind(b"<")  # a tag cut by the block's end waits for the next block
            data, tail = (data[:cut], data[cut:]) if cut >= 0 and b">" not in data[cut:] else (data, b"")
            if len(tail) > MAX_TAG:
                raise damaged(path.name, f"a tag in {member} is longer than {MAX_TAG >> 20} MiB")
            span.block(data)
            _check(span, limits, path.name)
        if tail:
            span.block(tail)
            _check(span, limits, path.name)
        return SheetFacts(member, span.rows, span.columns, date1904)


def iso_dates(path: Path, member: str) -> bool:
    """Whether a cell of the sheet ``member`` holds an ISO 8601 date (``t="d"``), which readers
    turn into dates with different precision; read after :func:`inspect` passed the sheet."""
    with zipfile.ZipFile(path) as zf:
        tail = b""
        for chunk in read_limited(zf, member, LIMITS.sheet_bytes, msg(N_("the sheet")), path.name):
            data = tail + chunk
            if re.search(rb"""\st\s*=\s*["']d["']""", data):
                return True
            tail = data[-64:]
    return False


def _check(span: _Span, limits: XlsxLimits, file: str) -> None:
    rows, columns = span.rows, span.columns
    if columns > limits.columns:
        raise _too_big(
            msg(N_("its cells reach column {column}"), column=num(columns)),
            nmsg("{n} column", "{n} columns", limits.columns),
            file,
        )
    if rows * columns > limits.cells:
        raise _too_big(
            msg(
                N_("its cells span {rows} rows by {columns} columns ({cells} cells)"),
                rows=num(rows),
                columns=num(columns),
                cells=num(rows * columns),
            ),
            nmsg("{n} cell", "{n} cells", limits.cells),
            file,
        )
