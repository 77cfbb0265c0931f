"""Privacy checks on columns: personal identifiers (by content first, by name second), exact GPS
points, Kobo/ODK fields that identify respondents or enumerators, and free-text answers; and the
same detector on the attribute values a mapping would publish (:func:`attribute_findings`).

What counts as an identifier, and why, is :mod:`cgd_bridge.checks.identifiers`. The check keeps
a bounded sample of every column (:data:`SAMPLE_FIRST` rows spread over the first batch, then
:data:`SAMPLE_LATER` from each later batch, at most :data:`~cgd_bridge.checks.identifiers.SAMPLE`
values a column) and judges the columns together at the end, so latitude and longitude are
seen as a pair. Small cells are in :mod:`cgd_bridge.checks.disclosure`; consent in
:mod:`cgd_bridge.checks.metadata`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.checks.base import BaseCheck, Context, TypedBatch
from cgd_bridge.checks.identifiers import SAMPLE, Detection, detect, detect_columns
from cgd_bridge.findings import Finding, Severity, register
from cgd_bridge.i18n import N_, msg
from cgd_bridge.ingest.kobo import META_IDENTIFYING

if TYPE_CHECKING:
    from cgd_bridge.mapping.apply import Harmonised
    from cgd_bridge.mapping.model import Mapping

PII_COLUMN = register(
    "pii-column", Severity.ERROR, "privacy", "Personal identifier in the data",
    """A column holds information that identifies a person, found by its values (and its name):
    people's names, phone numbers or e-mail addresses (also inside free text), national ID,
    passport or disability-registry numbers, dates of birth, home addresses, exact GPS points,
    or a Kobo/ODK field naming the respondent, the enumerator or the device. The finding says
    how many of the sampled values matched, with a masked example. Such data must not leave
    the CSO: delete the column (or the identifiers in it) before submitting.""",
)  # fmt: skip
PII_NAME_ONLY = register(
    "pii-name-only", Severity.WARNING, "privacy", "Named like an identifier, but is not one",
    """A column is named like a personal identifier (e.g. 'mobile', 'नाम', 'simu'), but its
    values cannot identify anyone: yes/no answers, a handful of categories repeated over the
    rows, or small numbers. The bridge does not block it; check that it is what its values
    say.""",
)  # fmt: skip
IDENTIFIER_IN_ATTRIBUTE = register(
    "identifier-in-attribute", Severity.ERROR, "privacy", "Personal identifier in a published attribute",
    """An attribute the mapping fills from a column (a comment such as COMMENT_OBS, or any
    attribute passed through from the data) would publish personal identifiers: names, phone
    numbers, e-mail addresses, ID numbers, addresses or coordinates, found in the values as
    they would be written. Nothing is converted or stored, even with --force: published
    identifiers cannot be taken back. Remove them from the column, or stop mapping it.""",
)  # fmt: skip
FREE_TEXT = register(
    "free-text-column", Severity.WARNING, "privacy", "Free-text answers",
    """A column holds long, mostly unique free text. Free text often contains names, places
    and stories that identify people; check it, and leave it out unless it is needed.""",
)  # fmt: skip


_MEASURE_ROLES = frozenset({"period", "count", "denominator", "value", "rating", "wg"})
#: rows of the first batch sampled for the detector (spread evenly), and of each later batch
SAMPLE_FIRST = 800
SAMPLE_LATER = 25
_FIX = {
    "date_of_birth": N_(
        "Delete this column before submitting; if age matters, give the age in years or an age group instead."
    ),
    "coordinates": N_(
        "Delete the coordinates before submitting (in Kobo, untick the GPS question in the "
        "export settings); give the area they fall in (county, district, ward) instead."
    ),
}
_DEFAULT_FIX = N_(
    "Delete this column before submitting (in Kobo, untick it in the export settings); the NSO needs no "
    "personal identifiers."
)
_TEXT_FIX = N_(
    "Remove the {what} from these answers, or leave the column out; free text is read by people at the NSO."
)


def _sample(values: pa.Array, k: int) -> list[str | None]:
    """Up to ``k`` values spread evenly over the array, as text."""
    n = len(values)
    if n <= k:
        return list(values.to_pylist())
    idx = np.unique(np.linspace(0, n - 1, k).astype(np.int64))
    return list(pc.take(values, arrow.array(idx)).to_pylist())  # pa.array would import pandas


def describe(d: Detection, header: str) -> dict[str, Any]:
    """A detection as a finding's problem: which kind, how many, a masked example, why (a
    composed message, translated where the report is shown)."""
    if d.matched == 0:
        return msg(
            N_("the column '{column}' is {why} (its name is one for {what})"),
            column=header,
            why=d.why,
            what=msg(d.what),
        )
    what = msg(N_("{what} inside its text"), what=msg(d.what)) if d.in_text else msg(d.what)
    text = msg(
        N_("the column '{column}' holds {what}: {why} (in a sample of the rows)"),
        column=header,
        what=what,
        why=d.why,
    )
    if d.by_name:
        text = msg(N_("{text}, and its name says so too"), text=text)
    if d.examples:
        text = msg(N_("{text}; e.g. {examples}"), text=text, examples=", ".join(repr(x) for x in d.examples))
    return text


def detection_finding(ctx: Context, d: Detection, header: str) -> Finding:
    """The finding for one detection: pii-column (an error), or pii-name-only (a warning)."""
    details = {"kind": d.kind, "matched": d.matched, "sampled": d.total, "examples": list(d.examples),
               "by_name": d.by_name, "in_text": d.in_text}  # fmt: skip
    if not d.blocking:
        return ctx.finding(
            PII_NAME_ONLY,
            describe(d, header),
            N_(
                "Nothing to do if it holds what its values say; the bridge does not block it. If it should "
                "hold {what}, it must not be submitted."
            ),
            {"what": d.what},
            ("what",),
            field=header,
            details=details,
        )
    fix = _TEXT_FIX if d.in_text else _FIX.get(d.kind, _DEFAULT_FIX)
    return ctx.finding(
        PII_COLUMN, describe(d, header), fix, {"what": d.what}, ("what",), field=header, details=details
    )


class PrivacyCheck(BaseCheck):
    """Personal identifiers and free text, by column."""

    def __init__(self) -> None:
        self.flagged: set[int] = set()
        self.samples: dict[int, list[str | None]] = {}

    def start(self, ctx: Context) -> None:
        """Flag GPS columns and Kobo/ODK fields that identify people; other columns wait for content."""
        self.flagged = set()
        self.samples = {}
        for col in ctx.table.columns:
            what = None
            if col.kind == "gps":
                what = N_("an exact GPS location")
            elif col.kind == "meta" and col.header.lower() in META_IDENTIFYING:
                what = N_("a Kobo/ODK field identifying the respondent, the enumerator or the device")
            if what:
                self.flagged.add(col.index)
                ctx.report.add(
                    ctx.finding(
                        PII_COLUMN,
                        N_("the column '{column}' holds {what}"),
                        _DEFAULT_FIX,
                        {"column": col.header, "what": what},
                        ("what",),
                        field=col.header,
                        details={"kind": "coordinates" if col.kind == "gps" else "device", "by_name": True},
                    )
                )

    def batch(self, ctx: Context, tb: TypedBatch) -> None:
        """Keep a bounded sample of every column: spread over the first batch, a little of each later one.

        Columns the schema gives a role of numbers or time (period, count, denominator, value,
        rating, Washington Group answers) hold no identifiers by definition and are left out.
        """
        for col in ctx.table.columns:
            if col.index in self.flagged or col.kind in ("meta", "choice"):
                continue
            f = ctx.schema.field(col.name)
            if f is not None and f.role in _MEASURE_ROLES:
                continue
            have = self.samples.setdefault(col.index, [])
            room = SAMPLE - len(have)
            if room <= 0:
                continue
            k = SAMPLE_FIRST if tb.first_row == 2 else SAMPLE_LATER
            have.extend(_sample(tb.raw.column(col.key), min(room, k)))

    def finish(self, ctx: Context) -> None:
        """Judge every sampled column (and latitude/longitude pairs); report free text left over."""
        cols = {c.index: c for c in ctx.table.columns}
        by_header: dict[str, int] = {}
        samples: dict[str, list[str | None]] = {}
        for index, values in self.samples.items():
            header = cols[index].header
            if header in samples:
                continue  # a duplicate header: HeaderCheck reports it
            by_header[header] = index
            samples[header] = values
        found = detect_columns(samples)
        for header, values in samples.items():
            d = found.get(header)
            if d is not None:
                ctx.report.add(detection_finding(ctx, d, header))
                if d.blocking:
                    continue
            self._free_text(ctx, cols[by_header[header]].name, values)
        self.samples = {}

    @staticmethod
    def _free_text(ctx: Context, header: str, values: Sequence[str | None]) -> None:
        f = ctx.schema.field(header)
        if f is not None and (f.role != "other" or f.constraints.get("enum") or f.multiple):
            return
        present = [v for v in values if v]
        n = len(present)
        if n < 20:
            return
        mean_len = sum(len(v) for v in present) / n
        distinct = len(set(present))
        if mean_len >= 40 and distinct >= 0.8 * n:
            ctx.report.add(
                ctx.finding(
                    FREE_TEXT,
                    N_(
                        "the column '{column}' holds free text ({distinct} different answers, "
                        "{length} characters on average)"
                    ),
                    N_(
                        "Read it for names, places and stories that identify people; remove the column "
                        "unless the NSO needs it."
                    ),
                    {"column": header, "distinct": distinct, "length": f"{mean_len:.0f}"},
                    field=header,
                )
            )


def attribute_findings(
    h: Harmonised, spec: Mapping, *, file: str | None, mapping_file: str | None
) -> list[Finding]:
    """Identifiers in the attribute values the mapping would publish (``identifier-in-attribute``).

    Every attribute the mapping fills from a column is scanned as it comes out of the mapping
    (distinct values, at most :data:`~cgd_bridge.checks.identifiers.SAMPLE`): whole values and
    text alike, and a single identifier is enough, since each would be published.
    """
    from cgd_bridge.checks.identifiers import scan_text
    from cgd_bridge.findings import CHECKS

    out: list[Finding] = []
    where = mapping_file or msg(N_("the mapping"))
    for attr, comp in spec.attributes.items():
        if comp.column is None or attr not in h.table.column_names:
            continue
        distinct = pc.unique(pc.drop_null(h.table[attr].combine_chunks()))
        values = [v for v in distinct.slice(0, SAMPLE).to_pylist() if v]
        if not values:
            continue
        whole = detect(comp.column, values)
        found = [whole] if whole is not None and whole.blocking and whole.matched else []
        found += [d for d in scan_text(values) if not found or d.kind != found[0].kind]
        if not found:
            continue
        kinds: dict[str, Any] = msg(found[0].what)
        for d in found[1:]:
            if d.what != found[0].what:
                kinds = msg(N_("{first}, {next}"), first=kinds, next=msg(d.what))
        why: dict[str, Any] = found[0].why
        for d in found[1:]:
            why = msg(N_("{first}; {next}"), first=why, next=d.why)
        examples = [x for d in found for x in d.examples][:3]
        out.append(
            Finding.of(
                IDENTIFIER_IN_ATTRIBUTE,
                CHECKS[IDENTIFIER_IN_ATTRIBUTE].severity,
                N_(
                    "the attribute {id}, filled from the column '{column}', would publish {kinds} ({why}); "
                    "e.g. {examples}"
                ),
                N_(
                    "Remove the identifiers from '{column}' in the data, or take attributes.{id} out of "
                    "{where} (or give it fixed codes with a map and no passthrough). --force does not "
                    "publish identifiers."
                ),
                {
                    "id": attr,
                    "column": comp.column,
                    "kinds": kinds,
                    "why": why,
                    "where": where,
                    "examples": ", ".join(repr(x) for x in examples),
                },
                file=file,
                field=comp.column,
                details={
                    "attribute": attr,
                    "kinds": [d.kind for d in found],
                    "examples": examples,
                    "resolved": True,
                },
            )
        )
    return out
