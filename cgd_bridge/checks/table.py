"""Table checks: headers, types and constraints from the Table Schema, blank rows, required
values, duplicate primary keys, rows with the wrong number of cells, and an empty table.

All value checks are vectorised per column and batch. Duplicate keys are found across the whole
file with one hash per row (8 bytes a row, so 10 million rows need 80 MB), then the rows
sharing a hash are reported. The hash (``arrow.row_hashes``) is a polynomial modulo 2**61 - 1 in
bases drawn at random per process, so no crafted file can make two different keys share one: a
pair of rows of k columns of at most L bytes collides with probability at most k (L + 2) / 2**61
(a file of a million rows, all pairs: below 3e-5 for 20-byte keys of 5 columns).
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.checks.base import (
    BaseCheck,
    Context,
    TypedBatch,
    add_examples,
    quoted,
)
from cgd_bridge.findings import Severity, register
from cgd_bridge.i18n import N_

BLANK_HEADER = register(
    "blank-header", Severity.ERROR, "table", "Blank column name",
    """A column has data but no name in the first row. Every column needs a name so that the
    mapping and the NSO can tell what it holds.""",
)  # fmt: skip
DUPLICATE_HEADER = register(
    "duplicate-header", Severity.ERROR, "table", "Duplicate column name",
    """Two columns have the same name, so nobody can tell which one a value comes from.""",
)  # fmt: skip
MISSING_COLUMN = register(
    "missing-column", Severity.ERROR, "table", "Missing column",
    """The Table Schema (in the mapping) declares a column the file does not have. Either the
    export left it out or it is spelt differently.""",
)  # fmt: skip
EXTRA_COLUMN = register(
    "extra-column", Severity.WARNING, "table", "Column not in the schema",
    """The file has a column the Table Schema does not declare. It is not checked, and the
    mapping will not use it.""",
)  # fmt: skip
SYSTEM_COLUMN = register(
    "system-column", Severity.INFO, "table", "Kobo/ODK system column",
    """A KoboToolbox/ODK system column (like _id or _submission_time). It is not data and is
    left out of the checks and the SDMX output.""",
)  # fmt: skip
TYPE_ERROR = register(
    "type-error", Severity.ERROR, "table", "Wrong type of value",
    """A cell does not hold the kind of value its column declares: text in a number column, a
    date in another format, a word in a yes/no column.""",
)  # fmt: skip
CONSTRAINT_ERROR = register(
    "constraint-error", Severity.ERROR, "table", "Value not allowed",
    """A cell breaks a rule of its column: a value outside the allowed list, below the minimum,
    above the maximum, or not matching the pattern.""",
)  # fmt: skip
MISSING_VALUE = register(
    "missing-value", Severity.ERROR, "table", "Missing required value",
    """A cell that the Table Schema marks as required is empty.""",
)  # fmt: skip
BLANK_ROW = register(
    "blank-row", Severity.ERROR, "table", "Blank row",
    """A row with no value at all, inside the data. Remove it, or fill it if data was lost.""",
)  # fmt: skip
DUPLICATE_KEY = register(
    "duplicate-key", Severity.ERROR, "table", "Duplicate primary key",
    """Several rows have the same values in the primary-key columns (e.g. the same county,
    sex, age group and year), so the same cell is reported twice.""",
)  # fmt: skip
UNIQUE_ERROR = register(
    "unique-error", Severity.ERROR, "table", "Value not unique",
    """A column declared unique has the same value in several rows.""",
)  # fmt: skip
EXTRA_CELL = register(
    "extra-cell", Severity.ERROR, "table", "Row with too many cells",
    """A row has more cells than there are column names; it was left out of the checks. Often
    an unquoted comma inside a value.""",
)  # fmt: skip
MISSING_CELL = register(
    "missing-cell", Severity.ERROR, "table", "Row with too few cells",
    """A row has fewer cells than there are column names; it was left out of the checks.""",
)  # fmt: skip
EMPTY_TABLE = register(
    "empty-table", Severity.ERROR, "table", "No data rows",
    """The file has column names but no data rows.""",
)  # fmt: skip

#: per Table Schema type: the problem (a message template) and the fix
_TYPE_WORDS = {
    "integer": (
        N_("'{value}' is not a whole number"),
        N_("Write digits only, e.g. 12 (no spaces, letters or decimals)."),
    ),
    "number": (N_("'{value}' is not a number"), N_("Write a number with a point for decimals, e.g. 12.5.")),
    "year": (N_("'{value}' is not a year"), N_("Write the year with four digits, e.g. 2024.")),
    "date": (N_("'{value}' is not a date"), N_("Write the date as YYYY-MM-DD, e.g. 2024-03-31.")),
    "datetime": (
        N_("'{value}' is not a date and time"),
        N_("Write it as YYYY-MM-DDTHH:MM:SS, e.g. 2024-03-31T14:30:00."),
    ),
    "yearmonth": (N_("'{value}' is not a year and month"), N_("Write it as YYYY-MM, e.g. 2024-03.")),
    "time": (N_("'{value}' is not a time"), N_("Write it as HH:MM or HH:MM:SS.")),
    "boolean": (N_("'{value}' is not yes or no"), N_("Write true or false (or yes / no).")),
}


class HeaderCheck(BaseCheck):
    """Column names: blank, duplicate, declared but missing, present but undeclared."""

    def start(self, ctx: Context) -> None:
        """Compare the file's header with itself and with the schema."""
        seen: dict[str, int] = {}
        for col in ctx.table.columns:
            if not col.header:
                ctx.report.add(
                    ctx.finding(
                        BLANK_HEADER,
                        N_("column {number} has no name"),
                        N_("Type a name in row 1 of that column, or delete the column if it is empty."),
                        {"number": col.index + 1},
                        row=1,
                    )
                )
                continue
            if col.header in seen:
                ctx.report.add(
                    ctx.finding(
                        DUPLICATE_HEADER,
                        N_("column {number} is called '{column}', like column {other}"),
                        N_("Rename one of them so that every column has its own name."),
                        {"number": col.index + 1, "column": col.header, "other": seen[col.header] + 1},
                        row=1,
                        field=col.header,
                    )
                )
            else:
                seen[col.header] = col.index
        for f in ctx.schema.fields:
            if f.name not in ctx.bound:
                close = _closest(f.name, [c.name for c in ctx.table.columns])
                fix = (
                    N_(
                        "Add the column to the data, or remove it from the mapping's schema. The "
                        "file has '{close}': rename it, or the schema field."
                    )
                    if close
                    else N_("Add the column to the data, or remove it from the mapping's schema.")
                )
                ctx.report.add(
                    ctx.finding(
                        MISSING_COLUMN,
                        N_("the schema declares a column '{column}' that the file does not have"),
                        fix,
                        {"column": f.name, "close": close or ""},
                        row=1,
                        field=f.name,
                    )
                )
        bound = {c.index for c in ctx.bound.values()}
        for col in ctx.table.columns:
            if col.index in bound or not col.header:
                continue
            if col.kind == "meta":
                ctx.report.add(
                    ctx.finding(
                        SYSTEM_COLUMN,
                        N_("'{column}' is a Kobo/ODK system column"),
                        N_("Nothing to do: it is ignored."),
                        {"column": col.header},
                        field=col.header,
                    )
                )
            elif col.kind == "choice":
                continue  # select_multiple 0/1 columns are checked with their question
            elif ctx.schema.source != "inferred":
                ctx.report.add(
                    ctx.finding(
                        EXTRA_COLUMN,
                        N_("the column '{column}' is not in the schema"),
                        N_("Add it to the mapping's schema if it matters, or leave it: it will not be used."),
                        {"column": col.name},
                        field=col.name,
                    )
                )


def _closest(name: str, candidates: list[str]) -> str | None:
    import difflib

    norm = {re.sub(r"[^a-z0-9]", "", c.lower()): c for c in candidates}
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    if key in norm:
        return norm[key]
    match = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return match[0] if match else None


class ValueCheck(BaseCheck):
    """Types, constraints and required values, column by column."""

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Check every schema column of the batch."""
        for f in ctx.schema.fields:
            if f.name not in tb.values:
                continue
            text = tb.text[f.name]
            self._types(ctx, tb, f.name, f.type, text)
            valid_values = pc.if_else(
                tb.invalid[f.name], arrow.scalar(None, tb.values[f.name].type), tb.values[f.name]
            )
            if f.required:
                add_examples(
                    ctx, tb, pc.is_null(text),
                    lambda row, _v, name=f.name: ctx.finding(
                        MISSING_VALUE, N_("the cell is empty but this column is required"),
                        N_("Fill in the value; if it is unknown, ask the NSO which code to use "
                           "(often _U for 'unknown')."),
                        row=row, field=name,
                    ),
                )  # fmt: skip
            for problem, mask, fix in _constraint_masks(f, valid_values, text):
                add_examples(
                    ctx, tb, mask,
                    lambda row, v, name=f.name, p=problem, fx=fix: ctx.finding(
                        CONSTRAINT_ERROR, p[0], fx[0], {**p[1], **fx[1], "value": v},
                        row=row, field=name, value=v,
                    ),
                    text=text,
                )  # fmt: skip

    @staticmethod
    def _types(ctx: Context, tb: TypedBatch, name: str, typ: str, text: pa.Array) -> None:
        if typ not in _TYPE_WORDS:
            return
        problem, fix = _TYPE_WORDS[typ]
        add_examples(
            ctx, tb, tb.invalid[name],
            lambda row, v: ctx.finding(
                TYPE_ERROR, problem, fix, {"value": v}, row=row, field=name, value=v
            ),
            text=text,
        )  # fmt: skip


_Text = tuple[str, dict[str, object]]


def _constraint_masks(f: object, values: pa.Array, text: pa.Array) -> list[tuple[_Text, pa.Array, _Text]]:
    """((problem template, its values), mask, (fix template, its values)) for each constraint of a
    field; the cell's text is added as ``{value}``."""
    from cgd_bridge.ingest.schema import SchemaField

    assert isinstance(f, SchemaField)
    c = f.constraints
    out: list[tuple[_Text, pa.Array, _Text]] = []
    if "enum" in c and not f.multiple:
        allowed = [str(v) for v in c["enum"]]
        mask = pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=arrow.array(allowed))))
        out.append(
            (
                (N_("'{value}' is not one of the allowed values"), {}),
                mask,
                (N_("Use one of: {allowed}."), {"allowed": quoted(allowed)}),
            )
        )
    if f.multiple and (f.choices or "enum" in c):
        allowed = [str(v) for v in (f.choices or c["enum"])]
        tokens = pc.split_pattern_regex(text, r"\s+")
        flat = pc.list_flatten(tokens)
        bad_flat = pc.invert(pc.is_in(flat, value_set=arrow.array([*allowed, ""])))
        parents = pc.list_parent_indices(tokens)
        bad_rows = np.zeros(len(text), dtype=bool)
        bad_idx = arrow.to_numpy(pc.filter(parents, bad_flat))
        bad_rows[bad_idx] = True
        out.append((
            (N_("'{value}' has a choice that is not in the list"), {}),
            arrow.array(bad_rows),
            (N_("Separate choices with spaces and use only: {allowed}."), {"allowed": quoted(allowed)}),
        ))  # fmt: skip
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    for key, op, problem, fix in (
        (
            "minimum",
            pc.less,
            N_("'{value}' is below the minimum {bound}"),
            N_("Check the value: it must be at least {bound}."),
        ),
        (
            "maximum",
            pc.greater,
            N_("'{value}' is above the maximum {bound}"),
            N_("Check the value: it must be at most {bound}."),
        ),
    ):
        if key in c and (numeric or pa.types.is_date(values.type)):
            bound = c[key]
            scalar = arrow.scalar(bound).cast(values.type) if numeric else arrow.scalar(_as_date(bound))
            mask = arrow.fill_null(op(values, scalar), False)
            out.append(((problem, {"bound": bound}), mask, (fix, {"bound": bound})))
    if "pattern" in c:
        mask = pc.and_(pc.is_valid(text), pc.invert(pc.match_substring_regex(text, f"^(?:{c['pattern']})$")))
        out.append(
            (
                (N_("'{value}' does not have the expected form"), {}),
                mask,
                (N_("Write it to match the pattern {pattern}."), {"pattern": c["pattern"]}),
            )
        )
    for key, op, problem in (
        ("minLength", pc.less, N_("'{value}' is shorter than {length} characters")),
        ("maxLength", pc.greater, N_("'{value}' is longer than {length} characters")),
    ):
        if key in c:
            mask = arrow.fill_null(op(pc.utf8_length(text), c[key]), False)
            out.append(((problem, {"length": c[key]}), mask, (N_("Shorten or complete the value."), {})))
    return out


def _as_date(value: object) -> object:
    import datetime as dt

    return dt.date.fromisoformat(str(value)) if not isinstance(value, dt.date) else value


class BlankRowCheck(BaseCheck):
    """Rows in which every cell is empty."""

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Flag rows with no value in any column."""
        if tb.raw.num_columns == 0:
            return
        blank = pc.is_null(tb.raw.column(0))
        for i in range(1, tb.raw.num_columns):
            blank = pc.and_(blank, pc.is_null(tb.raw.column(i)))
        add_examples(
            ctx, tb, blank,
            lambda row, _v: ctx.finding(
                BLANK_ROW, N_("the row is empty"),
                N_("Delete the empty row (or fill it in if data is missing)."),
                row=row,
            ),
        )  # fmt: skip


class KeyCheck(BaseCheck):
    """Duplicate primary keys and non-unique ``unique`` columns, over the whole file."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, ...], list[np.ndarray]] = {}

    def start(self, ctx: Context) -> None:
        """Decide which column sets must be unique."""
        self.keys = {}
        pk = tuple(ctx.schema.primary_key)
        if pk and all(n in ctx.bound for n in pk):
            self.keys[pk] = []
        for f in ctx.schema.fields:
            if f.constraints.get("unique") and f.name in ctx.bound and (f.name,) != pk:
                self.keys[(f.name,)] = []

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Hash each row's key (8 bytes a row) for the final comparison."""
        for names, chunks in self.keys.items():
            chunks.append(row_hashes([tb.text[n] for n in names]))

    def finish(self, ctx: Context) -> None:
        """Report the rows that share a key."""
        for names, chunks in self.keys.items():
            if not chunks:
                continue
            hashes = np.concatenate(chunks)
            order = np.argsort(hashes, kind="stable")
            sorted_h = hashes[order]
            dup = np.flatnonzero(sorted_h[1:] == sorted_h[:-1])
            if dup.size == 0:
                continue
            groups = _duplicate_groups(sorted_h, order)
            pk = len(names) > 1 or tuple(ctx.schema.primary_key) == names
            code = DUPLICATE_KEY if pk else UNIQUE_ERROR
            label = ", ".join(names)
            total = sum(len(g) - 1 for g in groups)
            examples = []
            for g in groups[:200]:
                rows = tuple(int(r) + 2 for r in g)
                examples.append(
                    ctx.finding(
                        code,
                        N_("rows {rows} have the same primary key ({columns})")
                        if pk
                        else N_("rows {rows} have the same value ({columns})"),
                        N_(
                            "Keep one row per key: remove the repeated rows, or add the column that "
                            "tells them apart to the primary key."
                        ),
                        {
                            "rows": ", ".join(map(str, rows[:10])) + (" …" if len(rows) > 10 else ""),
                            "columns": label,
                        },
                        row=rows[1],
                        rows=rows,
                        field=label if len(names) == 1 else None,
                    )
                )
            ctx.report.add_counted(total, examples)


def _duplicate_groups(sorted_h: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    """Row positions sharing a hash, each group sorted, groups by first row."""
    same_as_next = sorted_h[1:] == sorted_h[:-1]
    if not same_as_next.any():
        return []
    boundaries = np.flatnonzero(np.r_[True, ~same_as_next, True])
    groups = []
    for a, b in itertools.pairwise(boundaries):
        if b - a > 1:
            groups.append(np.sort(order[a:b]))
    groups.sort(key=lambda g: g[0])
    return groups


def row_hashes(columns: list[pa.Array]) -> np.ndarray:
    """A 61-bit hash per row of several text columns (nulls hash as a distinct value)."""
    return arrow.row_hashes(columns)


class SkippedRowCheck(BaseCheck):
    """Rows the reader skipped because their number of cells was wrong."""

    def finish(self, ctx: Context) -> None:
        """Report each skipped row (these carry real row numbers already)."""
        for s in ctx.table.skipped:
            code = EXTRA_CELL if s.actual > s.expected else MISSING_CELL
            problem = N_(
                "the row has {actual} cells but there are {expected} column names (row text: '{text}')"
            )
            fix = N_(
                "Put quotes around values that contain the separator, or add the missing cells; "
                "the row was left out of all other checks."
            )
            if s.text.count('"') % 2 == 1:
                problem = N_(
                    'a quote (") opened in this row is never closed, so the rest of the file was '
                    "read as one cell (row text: '{text}')"
                )
                fix = N_("Close the quote or remove it, then export the file again.")
            ctx.report.add(
                ctx.finding(
                    code,
                    problem,
                    fix,
                    {"actual": s.actual, "expected": s.expected, "text": s.text[:80]},
                    row=s.row if s.row > 0 else None,
                    details={"resolved": True},
                )
            )


class EmptyTableCheck(BaseCheck):
    """A file with a header and no data rows."""

    def finish(self, ctx: Context) -> None:
        """Report when no row was read."""
        if ctx.rows_read == 0 and not ctx.table.skipped:
            ctx.report.add(
                ctx.finding(
                    EMPTY_TABLE, N_("the file has column names but no data rows"),
                    N_("Export the data again, with the rows."), row=2,
                )
            )  # fmt: skip


CHOICE_MISMATCH = register(
    "choice-column-mismatch", Severity.ERROR, "table", "Choice column disagrees with the answer",
    """A Kobo/ODK select_multiple question is exported twice: as one column of space-separated
    choices and as one 0/1 column per choice. In this row the two disagree (or the 0/1 column
    holds something else than 0 or 1), so one of them was edited by hand.""",
)  # fmt: skip


class ChoiceColumnCheck(BaseCheck):
    """select_multiple 0/1 columns against the space-separated answer column (Kobo/ODK exports)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str, str, str]] = []  # (answer key, answer name, choice key, choice)

    def start(self, ctx: Context) -> None:
        """Pair every choice column with its question's answer column."""
        answers = {c.question or c.name: c for c in ctx.table.columns if c.kind == "data"}
        self.pairs = []
        for col in ctx.table.columns:
            if col.kind == "choice" and col.question in answers:
                answer = answers[col.question]
                self.pairs.append((answer.key, answer.name, col.key, col.name.rsplit("/", 1)[-1]))

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Flag rows where the 0/1 column and the answer disagree."""
        for answer_key, answer_name, choice_key, choice in self.pairs:
            flags = tb.raw.column(choice_key)
            answer = arrow.fill_null(tb.raw.column(answer_key), "")
            chosen = pc.match_substring_regex(answer, rf"(^|\s){re.escape(choice)}(\s|$)")
            flag_on = pc.equal(arrow.fill_null(flags, "0"), arrow.scalar("1"))
            bad_value = pc.invert(arrow.fill_null(pc.is_in(flags, value_set=arrow.array(["0", "1"])), True))
            mismatch = pc.or_(bad_value, pc.not_equal(chosen, flag_on))
            header = next(c.header for c in ctx.table.columns if c.key == choice_key)
            add_examples(
                ctx, tb, mismatch,
                lambda row, v, h=header, a=answer_name, ch=choice: ctx.finding(
                    CHOICE_MISMATCH,
                    N_("'{column}' is '{value}' but the answer in '{answer}' does not list '{choice}'")
                    if v == "1"
                    else N_("'{column}' is '{value}' but the answer in '{answer}' lists '{choice}'")
                    if v == "0"
                    else N_("'{column}' is '{value}' but the answer in '{answer}' may list '{choice}'"),
                    N_("Make the two agree (1 when '{choice}' is among the answers in '{answer}', else 0), "
                       "or export the data again from Kobo/ODK."),
                    {"column": h, "value": v if v is not None else "", "answer": a, "choice": ch},
                    row=row, field=h, value=v,
                ),
                text=flags,
            )  # fmt: skip


#: text read with the wrong encoding: UTF-8 bytes shown as Windows-1252/Latin-1 letters
#: ("Ã©" for "é", "à¤¨" for Devanagari "न", "à¦¨" for Bengali "ন", "â€™" for "’")
MOJIBAKE = (
    "[ÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]|à[¤¥¦§]|â€"
)
#: letters a legacy encoding could not hold are written as question marks (a Nepali name saved
#: as Latin-1 becomes "???? ????"): cells with "??" count as lost letters
REPLACEMENT = "\ufffd"
SIGN_EXAMPLES = 3
#: the cells looked at for signs of a wrong encoding (a wrong encoding marks the whole file)
SIGN_CELLS = 200_000


class EncodingSignsCheck(BaseCheck):
    """Counts the cells that show a wrong encoding (``report.stats['text_signs']``), for the
    report's diagnosis (:mod:`cgd_bridge.diagnosis`): no finding of its own, since the cells'
    checks already report them; the count tells the cause. A wrong encoding marks a whole file,
    so the first :data:`SIGN_CELLS` cells are enough (a large file pays no more); the regular
    expression runs only on the cells that are not plain ASCII."""

    def start(self, ctx: Context) -> None:
        self.signs = {"cells": 0, "mojibake": 0, "replacement": 0, "lost": 0}
        self.examples: list[str] = []
        headers = arrow.array([c.header for c in ctx.table.columns], pa.string())
        self._count(headers)

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        for column in tb.raw.columns:
            if self.signs["cells"] >= SIGN_CELLS:
                return
            self._count(column)

    def _count(self, column: pa.Array) -> None:
        values = pc.drop_null(column)
        if len(values) == 0:
            return
        self.signs["cells"] += len(values)
        wide = pc.filter(values, pc.invert(pc.string_is_ascii(values)))
        for key, hit in (
            ("lost", pc.match_substring(values, "??")),
            ("mojibake", pc.match_substring_regex(wide, MOJIBAKE)),
            ("replacement", pc.match_substring(wide, REPLACEMENT)),
        ):
            n = pc.sum(hit).as_py() or 0
            if n:
                self.signs[key] += n
                if len(self.examples) < SIGN_EXAMPLES:
                    found = pc.filter(values if key == "lost" else wide, hit)
                    self.examples.extend(found.slice(0, SIGN_EXAMPLES).to_pylist())

    def finish(self, ctx: Context) -> None:
        ctx.report.stats["text_signs"] = {**self.signs, "examples": self.examples[:SIGN_EXAMPLES]}
