"""The published view: what a reader who is not the producing CSO may learn from a version (#12).

**The rule.** A reader who is not the producing CSO's people or an admin learns nothing about
a suppressed cell beyond what the published SDMX answer shows. The store keeps more than it
publishes: ``OBS_COUNT``, ``OBS_NUMERATOR``, ``OBS_DENOMINATOR``, ``OBS_NUMERATOR_COUNT``, ``SOURCE_ROW``,
``SOURCE_ROWS`` and ``SUPPRESSED`` (lineage and privacy decisions), and the validation report
quotes the respondents behind every small cell. So everything that serves readers derives from
this module, never from the stored table or report:

- :func:`published`: a version's observations as an SDMX answer publishes them: the
  dataflow's dimensions, ``TIME_PERIOD``, ``OBS_VALUE`` (null where suppressed) and the DSD's
  attributes, nothing else. SDMX data and availability (keys, ``c[...]`` filters, counts,
  ``X-Observations``, ETags, kept answers) and the web pages and charts read it
  (:func:`load_published`), so a filter on anything else names no component, and no count can
  depend on a column that is not published.
- :func:`report_for` and :func:`lineage_for`: the stored report and a lineage answer as the
  principal may see them: whole for the owner (:func:`cgd_bridge.store.access.sees_internals`),
  with small-cell values (counts, numerators, denominators, source rows, quoted cell values of
  the privacy checks) withheld for everyone else.

Withholding applies to every cell, not only the suppressed ones: with the counts of the
published cells and of their total, a suppressed cell's count is a subtraction away.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from cgd_bridge.store import access, ownership
from cgd_bridge.store.data import CACHE, TableCache, load_tables
from cgd_bridge.store.models import Version
from cgd_bridge.store.principal import Principal

MEASURE = "OBS_VALUE"
#: columns the store keeps for lineage and privacy; never published, quoted only to owners
INTERNAL = (
    "OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR", "OBS_NUMERATOR_COUNT", "SOURCE_ROW", "SOURCE_ROWS",
    "SUPPRESSED",
)  # fmt: skip
_COUNTS = ("OBS_COUNT", "OBS_NUMERATOR", "OBS_DENOMINATOR", "OBS_NUMERATOR_COUNT")
WITHHELD = (
    "Respondent counts, numerators, denominators, source rows and the values the privacy checks "
    "quote are shown to the producing CSO and admins only."
)


def components(dimensions: Iterable[str], attributes: Iterable[str]) -> list[str]:
    """The components a published answer may carry, in order: dimensions, TIME_PERIOD, OBS_VALUE,
    attributes (internal columns never, even if a DSD were to name one)."""
    out: list[str] = []
    for c in [*dimensions, "TIME_PERIOD", MEASURE, *attributes]:
        if c not in out and c not in INTERNAL:
            out.append(c)
    return out


def published(table: pa.Table, dimensions: Iterable[str], attributes: Iterable[str]) -> pa.Table:
    """The observations as an SDMX answer publishes them.

    Only :func:`components` present in ``table``; ``OBS_VALUE`` null where ``SUPPRESSED``, and
    an attribute that repeats a suppressed cell's count, numerator or denominator (a mapping's
    ``count_attribute``) null there too. The pipeline already empties such attributes before
    anything is stored or written (:func:`cgd_bridge.checks.disclosure.withhold_counts`); this
    is the second guard, for versions stored before it did.

    Example:
        >>> t = pa.table({"SEX": ["F", "M"], "TIME_PERIOD": ["2024"] * 2, "OBS_VALUE": [1.0, 2.0],
        ...               "OBS_COUNT": [3, 50], "COMMENT_OBS": ["3", "50"], "SUPPRESSED": [True, False]})
        >>> shown = published(t, ["SEX"], ["COMMENT_OBS"])
        >>> shown.column_names
        ['SEX', 'TIME_PERIOD', 'OBS_VALUE', 'COMMENT_OBS']
        >>> shown["OBS_VALUE"].to_pylist(), shown["COMMENT_OBS"].to_pylist()
        ([None, 2.0], [None, '50'])
    """
    present = set(table.column_names)
    keep = [c for c in components(dimensions, attributes) if c in present]
    out = table.select(keep)
    if "SUPPRESSED" not in present:
        return out
    hidden = pc.fill_null(table["SUPPRESSED"], False)
    for name in keep:
        if name == MEASURE:
            column = pc.if_else(hidden, pa.scalar(None, out[name].type), out[name])
        elif name in attributes and name not in dimensions:
            quoted = [
                pc.fill_null(pc.equal(pc.cast(out[name], pa.string()), pc.cast(table[c], pa.string())), False)
                for c in _COUNTS
                if c in present
            ]
            if not quoted:
                continue
            repeats = quoted[0]
            for q in quoted[1:]:
                repeats = pc.or_(repeats, q)
            column = pc.if_else(pc.and_(hidden, repeats), pa.scalar(None, out[name].type), out[name])
        else:
            continue
        out = out.set_column(out.column_names.index(name), name, column)
    return out


def load_published(
    session: Session,
    version_ids: Sequence[int],
    *,
    dimensions: Sequence[str],
    attributes: Sequence[str],
    cache: TableCache | None = CACHE,
) -> list[tuple[str, pa.Table]]:
    """``(content key, published observations)`` of each version, in order (see :func:`published`).

    One owner per observation (#13): of a published version, only the rows it still owns are
    served (:func:`cgd_bridge.store.ownership.served`: another submission's version published
    later with ``replace`` took over the others, and a key repeated within a version is served
    once), so tables gathered from these hold each series key and period at most once. The
    content key is the stored blob's SHA-256, followed by ``~`` and a digest of the rows served
    when the version no longer serves all of them: callers may key caches of derived tables by it.
    """
    loaded = load_tables(session, version_ids, cache=cache)
    claims = ownership.served(session, version_ids)
    out = []
    for vid, (sha, table) in zip(version_ids, loaded, strict=True):
        claim = claims.get(vid)
        if claim is not None:
            sha, table = f"{sha}~{claim.token}", table.filter(claim.served)
        out.append((sha, published(table, dimensions, attributes)))
    return out


def version_published(session: Session, version: Version) -> pa.Table:
    """One version's published observations, by the dimensions and attributes stored with it."""
    [(_, table)] = load_published(
        session,
        [version.id],
        dimensions=list(version.dimensions or []),
        attributes=list(version.attributes or []),
    )
    return table


# ---------------------------------------------------------------- reports and lineage


def _redacted_finding(finding: Mapping[str, Any]) -> dict[str, Any]:
    """A finding of the privacy checks without the values it quotes: where, not how many."""
    # the template's parameters and the English copy quote the same values as the message
    quoting = ("cell", "message", "note", "cgd:template", "cgd:english")
    out = {k: v for k, v in finding.items() if k not in quoting}
    details = dict(finding.get("details") or {})
    where = details.get("observation") or details.get("cell")
    kept = {k: details[k] for k in ("observation", "cell", "resolved") if k in details}
    if kept:
        out["details"] = kept
    else:
        out.pop("details", None)
    place = ", ".join(f"{k}={v}" for k, v in where.items()) if isinstance(where, Mapping) else ""
    title = str(finding.get("title") or finding.get("type") or "finding")
    note = f"{title}" + (f" at {place}" if place else "") + ": the values behind it are withheld"
    out["note"] = note
    out["message"] = f"{note}. {WITHHELD}"
    out["redacted"] = True
    return out


def _quotes_values(finding: Mapping[str, Any]) -> bool:
    return "#privacy" in (finding.get("tags") or [])


#: what a report says of each uploaded file that identifies its bytes; the raw files are the
#: CSO's (:func:`cgd_bridge.store.access.may_read_raw`), and a hash confirms a guess of them
_FILE_FINGERPRINT = ("sha256", "bytes")


def redact_report(report: Mapping[str, Any] | None) -> dict[str, Any]:
    """The report with the findings of the privacy checks redacted (:func:`_redacted_finding`)
    and without the uploaded files' hashes and sizes."""
    out = dict(report or {})
    tasks = []
    for task in out.get("tasks", []):
        task = dict(task)
        for key in ("stats", "cgd:input"):  # the uploaded file's fingerprint is the CSO's (#12)
            if isinstance(task.get(key), Mapping):
                task[key] = {k: v for k, v in task[key].items() if k not in _FILE_FINGERPRINT}
        for key in ("errors", "warnings"):
            if key in task:
                task[key] = [_redacted_finding(f) if _quotes_values(f) else f for f in task[key]]
        tasks.append(task)
    if "tasks" in out:
        out["tasks"] = tasks
    for key in ("errors", "warnings"):
        if isinstance(out.get(key), list):
            out[key] = [
                _redacted_finding(f) if isinstance(f, Mapping) and _quotes_values(f) else f for f in out[key]
            ]
    out["cgd:redacted"] = WITHHELD
    return out


def report_for(principal: Principal | None, version: Version) -> dict[str, Any]:
    """The stored report of a version the principal may see, as it may see it."""
    report = dict(version.report or {})
    if access.sees_internals(principal, version.submission):
        return report
    return redact_report(report)


def lineage_for(
    principal: Principal | None, version: Version, lineage: dict[str, Any], rows: pa.Table
) -> dict[str, Any]:
    """A lineage answer (with ``rows``, its stored observations) as the principal may see it:
    non-owners get the published view of the rows and no source rows."""
    if access.sees_internals(principal, version.submission):
        return lineage
    shown = published(rows, list(version.dimensions or []), list(version.attributes or []))
    return {**lineage, "source_rows": [], "observations": shown.to_pylist(), "redacted": WITHHELD}
