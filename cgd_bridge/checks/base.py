"""What every check shares: the run context, typed batches, and the Check protocol.

The data is read once, in record batches. :func:`type_batch` casts each batch's text columns to
the Table Schema types *vectorised* (one pass of Arrow compute kernels per column, no per-row
Python) and keeps, per column, the mask of cells that failed. Checks then see each batch in
turn (:meth:`Check.batch`) and finish with whatever they accumulated (:meth:`Check.finish`).
Findings are built only for the first few rows of each problem; the counts stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.findings import Finding, Report, Severity

if TYPE_CHECKING:
    from cgd_bridge.ingest.schema import SchemaField, TableSchema
    from cgd_bridge.ingest.table import SourceColumn, SourceTable
    from cgd_bridge.metadata.load import LoadedMetadata

EXAMPLES_PER_COLUMN = 20  # findings materialised per (code, column) and batch

_INT = r"^[+-]?[0-9]{1,18}$"  # int64-safe; longer digit strings are codes, not counts
_NUM = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_YEAR = r"^[0-9]{4}$"
_YEARMONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_TIME = r"^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$"


THRESHOLD_FLOOR = 3  # the smallest small-cell threshold ever applied
USUAL_THRESHOLD = 5  # the default; below it a warning


@dataclass(frozen=True)
class Suppression:
    """The source rows of aggregate data whose cells are suppressed, primary and secondary.

    Attributes:
        rows: their row numbers as the spreadsheet shows them (header = row 1), e.g. ``[14, 15]``.
        deviations: the deviations the completion found for these rows (each the rows it
            changes and their signed changes, a feasible change of the suppressed cells): the
            audit of the observations checks them against its own relations and reuses the ones
            that hold as certificates (:func:`cgd_bridge.checks.audit.certified_spans`).
    """

    rows: np.ndarray
    deviations: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    def remap(self, mapper: Callable[[int], int]) -> Suppression:
        """The same rows, with provisional row numbers mapped to the file's (see ingest)."""

        def mapped(rows: np.ndarray) -> np.ndarray:
            return np.array([mapper(int(r)) for r in rows], dtype=np.int64)

        return Suppression(mapped(self.rows), tuple((mapped(r), c) for r, c in self.deviations))


@dataclass
class Options:
    """Settings of a validation run that are not in the metadata.

    Attributes:
        stage: ``submission`` or ``release``: which required fields are errors.
        threshold: the small-cell threshold k when the metadata does not declare one (below 3 is
            the error ``threshold-too-low`` and 3 is applied).
        tolerance: relative tolerance for parts adding up to totals (e.g. 0.01 = 1 %).
        batch_rows: rows per record batch (bounds memory).
        mapped: a mapping with SDMX sections turns the data into observations, so the cells of
            microdata are the observations it produces (after its drops, derivations and
            aggregation): their disclosure control runs on those
            (:func:`cgd_bridge.checks.disclosure.suppress_observations`), and the cell table
            of the source columns feeds only the sample-size check. Set by
            :func:`cgd_bridge.pipeline.examine`.
    """

    stage: str = "submission"
    threshold: int = 5
    tolerance: float | None = None
    batch_rows: int = 200_000
    mapped: bool = False


@dataclass
class Context:
    """Everything a check may look at."""

    table: SourceTable
    schema: TableSchema
    metadata: LoadedMetadata | None
    report: Report
    options: Options
    bound: dict[str, SourceColumn] = field(default_factory=dict)  # schema field -> column
    rows_read: int = 0
    suppression: Suppression | None = None  # aggregate data's suppressed rows (checks.disclosure)
    #: the rows the mapping keeps, per record batch and its first provisional row (not dropped by
    #: a drop rule or a derivation, every label with a code): the cells of aggregate data that
    #: disclosure control decides on (pipeline.examine sets it; None: every row)
    kept: Callable[[pa.RecordBatch, int], np.ndarray] | None = None

    @property
    def file(self) -> str:
        """The data file's name."""
        return self.table.file

    @property
    def declared_threshold(self) -> tuple[int, str]:
        """The small-cell threshold as given, and where: ``privacy.disclosure_control.threshold``
        (the metadata's), ``--threshold`` (the run's) or ``default``."""
        md = self.metadata.model if self.metadata else None
        dc = md.privacy.disclosure_control if md and md.privacy else None
        if dc is not None and dc.threshold:
            return int(dc.threshold), "privacy.disclosure_control.threshold"
        k = int(self.options.threshold)
        return k, "--threshold" if k != USUAL_THRESHOLD else "default"

    @property
    def threshold(self) -> int:
        """The small-cell threshold in force: the metadata's, else the run's, never below
        :data:`THRESHOLD_FLOOR` (:mod:`cgd_bridge.checks.primary` reports one below it)."""
        return max(self.declared_threshold[0], THRESHOLD_FLOOR)

    @property
    def group_size(self) -> int:
        """The smallest group whose 0 % or 100 % may be published: the metadata's
        ``privacy.disclosure_control.group_size``, default twice the threshold, at least the threshold."""
        md = self.metadata.model if self.metadata else None
        dc = md.privacy.disclosure_control if md and md.privacy else None
        declared = dc.group_size if dc is not None and dc.group_size else 2 * self.threshold
        return max(declared, self.threshold)

    def finding(
        self,
        code: str,
        problem: str | dict[str, Any],
        fix: str | dict[str, Any],
        params: dict[str, Any] | None = None,
        translate: tuple[str, ...] = (),
        **kw: Any,
    ) -> Finding:
        """A data finding with the code's registered severity and this file's name.

        With ``params``, ``problem`` and ``fix`` are message templates (marked with ``N_``) that
        are formatted with them, and translated first where the report is shown in another
        language; without, they are fixed texts (marked with ``N_`` too)."""
        from cgd_bridge.findings import CHECKS

        severity = kw.pop("severity", None) or CHECKS[code].severity
        if params is not None or not isinstance(problem, str) or not isinstance(fix, str):
            return Finding.of(code, severity, problem, fix, params or {}, translate, file=self.file, **kw)
        return Finding(code=code, severity=severity, problem=problem, fix=fix, file=self.file, **kw)


@dataclass
class TypedBatch:
    """One record batch: raw text, typed values and type-failure masks per schema field.

    Attributes:
        raw: the text columns ``c0 … cN``.
        first_row: the provisional row number of the batch's first row.
        values: per schema field, the typed array (null where empty or invalid).
        invalid: per schema field, True where a value is present but not of the type.
    """

    raw: pa.RecordBatch
    first_row: int
    values: dict[str, pa.Array] = field(default_factory=dict)
    invalid: dict[str, pa.Array] = field(default_factory=dict)
    text: dict[str, pa.Array] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        """Rows in this batch."""
        return self.raw.num_rows

    def rows(self, mask: pa.Array | np.ndarray, limit: int = EXAMPLES_PER_COLUMN) -> list[int]:
        """Provisional row numbers of the first ``limit`` True entries of ``mask``."""
        idx = positions(mask, limit)
        return [self.first_row + int(i) for i in idx]


def positions(mask: pa.Array | np.ndarray, limit: int | None = None) -> np.ndarray:
    """Indices of the True entries of a boolean mask (nulls count as False)."""
    if isinstance(mask, np.ndarray):
        idx = np.flatnonzero(mask)
    else:
        idx = arrow.to_numpy(pc.indices_nonzero(arrow.fill_null(mask, False)))
    return idx[:limit] if limit is not None else idx


def count_true(mask: pa.Array) -> int:
    """Number of True entries (nulls count as False)."""
    return int(pc.sum(pc.cast(arrow.fill_null(mask, False), pa.int64())).as_py() or 0)


def type_batch(batch: pa.RecordBatch, first_row: int, ctx: Context) -> TypedBatch:
    """Cast each schema field's column to its type, vectorised, keeping failure masks."""
    tb = TypedBatch(raw=batch, first_row=first_row)
    for f in ctx.schema.fields:
        col = ctx.bound.get(f.name)
        if col is None:
            continue
        text = batch.column(col.key)
        text = _normalise_labels(text, f)
        tb.text[f.name] = text
        values, invalid = cast_column(text, f)
        tb.values[f.name] = values
        tb.invalid[f.name] = invalid
    return tb


def _normalise_labels(text: pa.Array, f: SchemaField) -> pa.Array:
    """For select_one questions, turn choice labels (any language) into choice names."""
    label_map: dict[str, str] = getattr(f, "label_map", {}) or {}
    if not label_map or f.multiple:
        return text
    keys = arrow.array(list(label_map), pa.string())
    names = arrow.array(list(label_map.values()), pa.string())
    idx = pc.index_in(pc.utf8_lower(text), value_set=keys)
    return pc.coalesce(pc.take(names, idx), text)


def _unsigned(text: pa.Array) -> pa.Array:
    """``text`` without the leading ``+`` Arrow's cast refuses; the regex replacement (a
    seventh of a count column's typing) only when some value starts with one."""
    if not pc.any(pc.starts_with(text, "+")).as_py():
        return text
    return pc.replace_substring_regex(text, r"^\+", "")


def cast_column(text: pa.Array, f: SchemaField) -> tuple[pa.Array, pa.Array]:
    """Return ``(typed values, invalid mask)`` for one column of text."""
    present = pc.is_valid(text)
    typ = f.type
    if typ in ("integer", "year"):
        ok = pc.match_substring_regex(text, _INT if typ == "integer" else _YEAR)
        digits = _unsigned(text)
        values = pc.cast(pc.if_else(ok, digits, arrow.scalar(None, pa.string())), pa.int64())
    elif typ == "number":
        ok = pc.match_substring_regex(text, _NUM)
        digits = _unsigned(text)
        values = pc.cast(pc.if_else(ok, digits, arrow.scalar(None, pa.string())), pa.float64())
    elif typ == "date":
        fmt = f.format if f.format not in ("default", "any") else "%Y-%m-%d"
        parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        ok = pc.is_valid(parsed)
        values = pc.cast(parsed, pa.date32())
    elif typ == "boolean":
        trues = arrow.array(list(f.true_values), pa.string())
        falses = arrow.array(list(f.false_values), pa.string())
        is_true = pc.is_in(text, value_set=trues)
        ok = pc.or_(is_true, pc.is_in(text, value_set=falses))
        values = pc.if_else(ok, is_true, arrow.scalar(None, pa.bool_()))
    elif typ in ("datetime", "yearmonth", "time"):
        pattern = {"datetime": _DATETIME, "yearmonth": _YEARMONTH, "time": _TIME}[typ]
        ok = pc.match_substring_regex(text, pattern)
        values = pc.if_else(ok, text, arrow.scalar(None, pa.string()))
    else:
        return text, arrow.array(np.zeros(len(text), dtype=bool))
    invalid = pc.and_(present, pc.invert(arrow.fill_null(ok, False)))
    return values, invalid


class Check(Protocol):
    """A family of checks. Implementations yield findings into ``ctx.report``; they never raise."""

    def start(self, ctx: Context) -> None:
        """Called once, before the first batch (headers, metadata-only checks)."""

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Called for every record batch, in file order."""

    def finish(self, ctx: Context) -> None:
        """Called once after the last batch (checks that need the whole table)."""


class BaseCheck:
    """A Check that does nothing at each stage; subclasses override what they need."""

    def start(self, ctx: Context) -> None:
        """Nothing by default."""

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Nothing by default."""

    def finish(self, ctx: Context) -> None:
        """Nothing by default."""


def add_examples(
    ctx: Context,
    tb: TypedBatch,
    mask: pa.Array,
    make: Any,
    *,
    text: pa.Array | None = None,
) -> int:
    """Count the True entries of ``mask`` and add findings for the first few.

    ``make(row, value)`` builds the Finding for one provisional row (``value`` is the cell text
    from ``text``, if given). Returns the number of True entries.
    """
    n = count_true(mask)
    if n:
        idx = positions(mask, EXAMPLES_PER_COLUMN)
        examples = [
            make(tb.first_row + int(i), text[int(i)].as_py() if text is not None else None) for i in idx
        ]
        ctx.report.add_counted(n, examples)
    return n


def severity_of(code: str) -> Severity:
    """The registered default severity of a finding code."""
    from cgd_bridge.findings import CHECKS

    return CHECKS[code].severity


def quoted(values: Iterable[Any], limit: int = 12) -> str:
    """``'a', 'b', 'c'`` (and how many more), for messages."""
    vals = [str(v) for v in values]
    shown = ", ".join(f"'{v}'" for v in vals[:limit])
    return shown + (f" and {len(vals) - limit} more" if len(vals) > limit else "")


def provisional_row(i: int) -> int:
    """The provisional row number of position ``i`` of the (file-ordered) table."""
    return i + 2


def show_number(v: Any) -> str:
    """A number for messages: ``3`` rather than ``3.0``, ``0.25`` as it is."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def plain_number(v: Any) -> Any:
    """A number for findings' details: an int when it is whole, else a float."""
    f = float(v)
    return int(f) if f.is_integer() else f
