"""Metadata against data: the data's periods against the declared reference period, the data's
areas against the declared areas, and the declared population groups against the data's
columns. (The achieved sample size is checked in :mod:`cgd_bridge.checks.cells`, which has the
totals.) Distinct periods and areas are collected batch by batch; they are few.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pyarrow.compute as pc

from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch, quoted
from cgd_bridge.findings import Finding, Severity, register
from cgd_bridge.i18n import N_

PERIOD_MISMATCH = register(
    "period-mismatch", Severity.ERROR, "coherence", "Period outside the reference period",
    """The data has periods (years or dates) outside the reference period the metadata
    declares (period.reference_start to period.reference_end).""",
)  # fmt: skip
AREA_MISMATCH = register(
    "area-mismatch", Severity.ERROR, "coherence", "Areas differ from the metadata",
    """The data has areas that geography.ref_areas does not declare (an error), or the
    metadata declares areas the data does not have (a warning).""",
)  # fmt: skip
GROUP_NOT_IN_DATA = register(
    "group-not-in-data", Severity.ERROR, "coherence", "Declared group has no column",
    """population.groups declares a group (e.g. PD, persons with disability) but the data has
    no column that breaks the figures down by it.""",
)  # fmt: skip

# group code (case-folded) -> (dimension(s) or role that carries it, plain name)
_GROUP_CARRIERS: dict[str, tuple[set[str], str]] = {
    "pd": ({"DISABILITY_STATUS", "disability_status", "wg"}, N_("disability status")),
    "pwd": ({"DISABILITY_STATUS", "disability_status", "wg"}, N_("disability status")),
    "disability": ({"DISABILITY_STATUS", "disability_status", "wg"}, N_("disability status")),
    "f": ({"SEX"}, N_("sex")),
    "m": ({"SEX"}, N_("sex")),
    "women": ({"SEX"}, N_("sex")),
    "girls": ({"SEX"}, N_("sex")),
    "men": ({"SEX"}, N_("sex")),
    "youth": ({"AGE"}, N_("age")),
    "children": ({"AGE"}, N_("age")),
    "older_persons": ({"AGE"}, N_("age")),
    "elderly": ({"AGE"}, N_("age")),
    "ethnic_minority": ({"CUST_BREAKDOWN"}, N_("ethnicity or minority status")),
    "minority": ({"CUST_BREAKDOWN"}, N_("ethnicity or minority status")),
    "indigenous": ({"CUST_BREAKDOWN"}, N_("ethnicity or minority status")),
    "slum_dweller": ({"URBANISATION", "CUST_BREAKDOWN"}, N_("urbanisation or slum residence")),
    "rural": ({"URBANISATION"}, N_("urban/rural residence")),
    "urban": ({"URBANISATION"}, N_("urban/rural residence")),
}
_AGE_CODE = re.compile(r"^Y\d+(T\d+|_GE\d+)?$|^Y_GE\d+$", re.IGNORECASE)


class CoherenceCheck(BaseCheck):
    """Periods, areas and groups: metadata against data."""

    def __init__(self) -> None:
        self.periods: set[str] = set()
        self.areas: set[str] = set()

    def start(self, ctx: Context) -> None:
        """Reset, and check groups against the columns (needs no rows)."""
        self.periods, self.areas = set(), set()
        if ctx.metadata is not None:
            for f in self._groups(ctx):
                ctx.report.add(f)

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Collect the distinct periods and areas."""
        for f in ctx.schema.by_role("period"):
            if f.name in tb.text:
                self.periods.update(v for v in pc.unique(tb.text[f.name]).to_pylist() if v is not None)
        for f in ctx.schema.by_role("area"):
            if f.name in tb.text:
                self.areas.update(v for v in pc.unique(tb.text[f.name]).to_pylist() if v is not None)

    def finish(self, ctx: Context) -> None:
        """Compare what was collected with the metadata."""
        md = ctx.metadata
        if md is None:
            return
        m = md.model
        if m.period and m.period.reference_start and m.period.reference_end and self.periods:
            start, end = m.period.reference_start, m.period.reference_end
            outside = sorted(p for p in self.periods if not _within(p, start, end))
            if outside:
                ctx.report.add(
                    _md_finding(
                        ctx, PERIOD_MISMATCH, "period.reference_start",
                        N_("the data has the period(s) {periods}, outside the reference period "
                           "{start} to {end}"),
                        N_("Correct the reference period in the metadata, or remove the rows of "
                           "other periods."),
                        {"periods": quoted(outside), "start": str(start), "end": str(end)},
                    )
                )  # fmt: skip
        declared = list(m.geography.ref_areas or []) if m.geography else []
        if declared and self.areas:
            norm = {a.strip().casefold(): a for a in declared}
            totals = {t.casefold() for f in ctx.schema.by_role("area") for t in f.total_values}
            data_norm = {a.strip().casefold(): a for a in self.areas if a.strip().casefold() not in totals}
            undeclared = sorted(v for k, v in data_norm.items() if k not in norm)
            absent = sorted(v for k, v in norm.items() if k not in data_norm)
            if undeclared:
                ctx.report.add(
                    _md_finding(
                        ctx, AREA_MISMATCH, "geography.ref_areas",
                        N_("the data has area(s) {areas} that geography.ref_areas does not list"),
                        N_("Add them to geography.ref_areas, or correct their spelling in the data."),
                        {"areas": quoted(undeclared)},
                    )
                )  # fmt: skip
            if absent:
                ctx.report.add(
                    _md_finding(
                        ctx, AREA_MISMATCH, "geography.ref_areas",
                        N_("geography.ref_areas lists {areas}, which the data does not have"),
                        N_("Remove them from the metadata, or add their rows to the data."),
                        {"areas": quoted(absent)},
                        severity=Severity.WARNING,
                    )
                )  # fmt: skip

    @staticmethod
    def _groups(ctx: Context) -> list[Finding]:
        md = ctx.metadata
        assert md is not None
        groups = md.model.population.groups if md.model.population else None
        out = []
        carriers: set[str] = set()
        for f in ctx.schema.fields:
            if f.name not in ctx.bound:
                continue
            if f.dimension:
                carriers.add(f.dimension)
            carriers.add(f.role)
        for i, g in enumerate(groups or []):
            code = (g.code or "").strip()
            key = code.casefold()
            need = _GROUP_CARRIERS.get(key)
            if need is None and _AGE_CODE.match(code):
                need = ({"AGE"}, N_("age"))
            if need is None:
                continue  # a custom group: checked by the mapping in part 2
            dims, word = need
            if not dims & carriers:
                out.append(
                    _md_finding(
                        ctx, GROUP_NOT_IN_DATA, f"population.groups.{i}.code",
                        N_("the group '{group}' is declared, but the data has no column for {word}"),
                        N_("Add the {word} column to the data (and to the mapping's schema with role "
                           "'disaggregation'), or remove the group from population.groups."),
                        {"group": code, "word": word}, ("word",),
                    )
                )  # fmt: skip
        return out


def _md_finding(
    ctx: Context,
    code: str,
    path: str,
    problem: str,
    fix: str,
    params: dict[str, Any],
    translate: tuple[str, ...] = (),
    **kw: Any,
) -> Finding:
    assert ctx.metadata is not None
    return ctx.metadata.finding(code, path, problem, fix, params, translate, **kw)


def _within(period: str, start: dt.date, end: dt.date) -> bool:
    """Whether a period (YYYY, YYYY-MM, YYYY-MM-DD, YYYY-Qn, YYYY-Sn) overlaps start..end."""
    p = period.strip()
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$", p)
    q = re.match(r"^(\d{4})-?([QS])([1-4])$", p, re.IGNORECASE)
    try:
        if q:
            year, kind, n = int(q.group(1)), q.group(2).upper(), int(q.group(3))
            months = 3 if kind == "Q" else 6
            first = dt.date(year, (n - 1) * months + 1, 1)
            last_month = first.month + months - 1
            last = dt.date(year, last_month, 28)
        elif m:
            year = int(m.group(1))
            if m.group(3):
                first = last = dt.date(year, int(m.group(2)), int(m.group(3)))
            elif m.group(2):
                first, last = dt.date(year, int(m.group(2)), 1), dt.date(year, int(m.group(2)), 28)
            else:
                first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        else:
            return True  # not a period we can read; the type check reports it
    except ValueError:
        return True
    return first <= end and last >= start
