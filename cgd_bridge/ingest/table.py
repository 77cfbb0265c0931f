"""The columnar view of a CSO file that every later stage reads.

A :class:`SourceTable` knows the file's columns (as the user wrote them, and as resolved for
Kobo/ODK group paths) and streams its rows as Arrow record batches of *text* columns, named
``c0 … cN`` so that blank or duplicate headers never collide. Typing happens later, column by
column, against the Table Schema (:mod:`cgd_bridge.ingest.schema`).

Row numbers follow the spreadsheet: the header is row 1, the first data row is row 2. Rows the
CSV parser had to skip (too many or too few cells) are recorded in :attr:`SourceTable.skipped`
and :meth:`SourceTable.row_mapper` turns the provisional numbers that checks use (position in
the stream + 2) into the real ones.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cgd_bridge.findings import InputInfo

if TYPE_CHECKING:
    from cgd_bridge.ingest.form import XLSForm

DEFAULT_BATCH_ROWS = 200_000


@dataclass(slots=True)
class SourceColumn:
    """One column of the input file.

    Attributes:
        index: 0-based position in the file.
        header: the header exactly as in the file, e.g. ``"group_access/respondents"``.
        name: the resolved name checks and mappings use, e.g. ``"respondents"``.
        kind: ``"data"``, ``"meta"`` (Kobo/ODK system column), ``"choice"`` (a
            select_multiple 0/1 column) or ``"gps"``.
        question: for Kobo columns, the XLSForm question it comes from, if known.
    """

    index: int
    header: str
    name: str
    kind: str = "data"
    question: str | None = None

    @property
    def key(self) -> str:
        """The internal Arrow column name (``c0``, ``c1``, ...)."""
        return f"c{self.index}"


@dataclass(slots=True)
class SkippedRow:
    """A row the reader could not split into the header's number of cells."""

    row: int
    expected: int
    actual: int
    text: str


@dataclass
class SourceTable:
    """An opened CSO data file: its columns, how it was read, and a stream of its rows."""

    path: Path
    info: InputInfo
    columns: list[SourceColumn]
    _batches: Callable[[int, tuple[str, ...]], Iterator[pa.RecordBatch]]
    skipped: list[SkippedRow] = field(default_factory=list)
    notes: list[Any] = field(default_factory=list)
    form: XLSForm | None = None

    @property
    def file(self) -> str:
        """The file name shown in messages."""
        return self.path.name

    def column(self, name: str) -> SourceColumn | None:
        """Find a column by resolved name, then by header (first match)."""
        for col in self.columns:
            if col.name == name:
                return col
        for col in self.columns:
            if col.header == name:
                return col
        return None

    def batches(
        self, batch_rows: int = DEFAULT_BATCH_ROWS, missing_values: tuple[str, ...] = ("",)
    ) -> Iterator[pa.RecordBatch]:
        """Stream the rows as record batches of nullable text columns ``c0 … cN``.

        Each call starts from the beginning of the file again. Cells equal to one of
        ``missing_values`` (the Table Schema's ``missingValues``; by default only the empty
        cell) are null. Cells are stripped of surrounding white space.
        """
        self.skipped.clear()
        yield from self._batches(batch_rows, missing_values)

    def row_mapper(self) -> Callable[[int], int]:
        """Map provisional row numbers (stream position + 2) to the file's row numbers."""
        skipped = sorted(s.row for s in self.skipped)
        if not skipped:
            return lambda r: r

        def mapper(provisional: int) -> int:
            # the n-th emitted row is the n-th row number >= 2 that was not skipped
            k = bisect.bisect_right(skipped, provisional)
            while k < len(skipped) and skipped[k] <= provisional + k:
                k += 1
            return provisional + k

        return mapper


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size
