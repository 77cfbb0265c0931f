"""Plain data for the templates: a stored report grouped by finding code, metadata as rows,
and the names of a dataflow's dimensions and codes.

Reports are shown from their JSON form (:meth:`cgd_bridge.findings.Report.to_dict`), which is
what the store keeps, so a fresh validation and a stored version's report look the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from cgd_bridge.diagnosis import texts_of
from cgd_bridge.errors import StructureError
from cgd_bridge.findings import CHECKS
from cgd_bridge.i18n import DEFAULT, ENGLISH, Translator
from cgd_bridge.sdmx.names import named_target
from cgd_bridge.sdmx.target import Target

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class FindingView:
    file: str
    row: int | None
    field: str | None
    line: int | None
    rows: list[int]
    value: Any
    problem: str
    fix: str


@dataclass
class CodeGroup:
    """All findings of one code: ``count`` found, ``findings`` kept (``more`` left out)."""

    code: str
    severity: str
    title: str
    description: str
    count: int
    findings: list[FindingView] = field(default_factory=list)
    #: the description's language when it is not the page's: the findings' long descriptions are
    #: not in the catalogues yet, so a page in another language shows the English, marked as such
    description_lang: str | None = None

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.findings))


@dataclass
class ReportView:
    valid: bool
    errors: int
    warnings: int
    stage: str
    inputs: list[dict[str, Any]]
    groups: list[CodeGroup]
    dsat: dict[str, Any] | None
    disclosure: dict[str, Any] | None = None  # threshold, threshold_source, group_size in force
    #: the most likely root cause (cgd_bridge/diagnosis.py): code, title, problem, fix, explains
    cause: dict[str, Any] | None = None


def finding_texts(f: Mapping[str, Any], t: Translator = ENGLISH) -> tuple[str, str]:
    """A stored finding's ``(problem, fix)`` in the language of ``t``: its template translated,
    then formatted with its parameters; a fixed text is its own message id; English (as stored)
    where the catalogue has neither."""
    english = f.get("cgd:english") or {}
    problem = english.get("note") or f.get("note") or f.get("message", "")
    fix = english.get("fix") or f.get("fix") or ""
    template = f.get("cgd:template")
    if isinstance(template, Mapping) and isinstance(template.get("params"), Mapping):
        params, translate = template["params"], template.get("translate") or ()
        try:
            return (
                t.template(str(template.get("problem", "")), params, translate),
                t.template(str(template.get("fix", "")), params, translate),
            )
        except (KeyError, IndexError, ValueError):
            return problem, fix
    return t.gettext(problem), t.gettext(fix)


def group_report(report: Mapping[str, Any] | None, t: Translator = ENGLISH) -> ReportView:
    """A report dict grouped by finding code, errors first, its texts in the language of ``t``."""
    report = report or {}
    groups: dict[str, CodeGroup] = {}
    for c in report.get("cgd:counts", []):
        spec = CHECKS.get(c["code"])
        description = t.gettext(spec.description) if spec and spec.description else ""
        untranslated = spec is not None and description == spec.description and t.lang != DEFAULT
        groups[c["code"]] = CodeGroup(
            code=c["code"],
            severity=c["severity"],
            title=t.gettext(spec.title) if spec else c["code"],
            description=description,
            count=int(c["count"]),
            description_lang=DEFAULT if untranslated and description else None,
        )
    counted = set(groups)
    inputs = []
    for task in report.get("tasks", []):
        info = task.get("cgd:input") or {}
        if info.get("file"):
            inputs.append({**info, "notes": [t.text(n) for n in info.get("notes") or []]})
        for f in [*task.get("errors", []), *task.get("warnings", [])]:
            code = f.get("type", "")
            problem, fix = finding_texts(f, t)
            group = groups.setdefault(
                code,
                CodeGroup(
                    code, f.get("severity", "error"), f.get("title", code), f.get("description", ""), 0
                ),
            )
            if code not in counted:
                group.count += 1
            group.findings.append(
                FindingView(
                    file=task.get("name") or info.get("file") or "",
                    row=f.get("rowNumber"),
                    field=f.get("fieldName") or f.get("fieldPath"),
                    line=f.get("lineNumber"),
                    rows=list(f.get("rowNumbers") or [])[:20],
                    value=f.get("cell"),
                    problem=problem,
                    fix=fix,
                )
            )
    cause = None
    found = report.get("diagnosis")
    if isinstance(found, Mapping) and found.get("code"):
        title, problem, fix = texts_of(found, t)
        explains = [str(c) for c in found.get("explains") or []]
        cause = {"code": found["code"], "title": title, "problem": problem, "fix": fix, "explains": explains}
    first = set(cause["explains"]) if cause else set()
    ordered = sorted(
        groups.values(), key=lambda g: (g.code not in first, SEVERITY_ORDER.get(g.severity, 3), g.code)
    )
    stats = report.get("stats", {})
    return ReportView(
        valid=bool(report.get("valid", False)),
        errors=int(stats.get("errors", 0)),
        warnings=int(stats.get("warnings", 0)),
        stage=str(report.get("cgd:stage", "submission")),
        inputs=inputs,
        groups=ordered,
        dsat=(report.get("cgd:stats") or {}).get("dsat"),
        disclosure=_disclosure(report.get("cgd:stats") or {}),
        cause=cause,
    )


def _disclosure(stats: Mapping[str, Any]) -> dict[str, Any] | None:
    """The disclosure control the report was checked with (threshold and group size), if stated."""
    if not isinstance(stats.get("threshold"), int):
        return None
    return {k: stats.get(k) for k in ("threshold", "threshold_source", "group_size")}


def metadata_rows(metadata: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """The quality metadata as ``(dotted.field, text)`` rows, in the record's order."""
    rows: list[tuple[str, str]] = []
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows.extend(metadata_rows(value, f"{name}."))
        elif isinstance(value, list):
            if value and all(isinstance(v, Mapping) for v in value):
                for i, item in enumerate(value, 1):
                    rows.extend(metadata_rows(item, f"{name}[{i}]."))
            else:
                rows.append((name, ", ".join(str(v) for v in value)))
        elif isinstance(value, bool):
            rows.append((name, "yes" if value else "no"))
        elif value is not None:
            rows.append((name, str(value)))
    return rows


@dataclass
class FlowNames:
    """The names of a dataflow, its dimensions (concepts) and the codes in some data."""

    name: str = ""
    concepts: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def code(self, dim: str, code: str) -> str:
        name = self.codes.get(dim, {}).get(code)
        return f"{name} ({code})" if name and name != code else code

    def concept(self, dim: str) -> str:
        return self.concepts.get(dim) or dim


def flow_names(
    structures: Any,
    agency: str,
    ident: str,
    version: str,
    dims: Sequence[str],
    cube: Mapping[str, Sequence[str]],
) -> FlowNames:
    """Names from the structures for the codes in ``cube`` (empty names when a structure is missing)."""
    longest = max((len(v) for v in cube.values()), default=0)
    if longest == 0:
        return FlowNames()
    columns = {d: [*cube.get(d, []), *[None] * (longest - len(cube.get(d, [])))] for d in dims}
    table = pa.table({d: pa.array(v, type=pa.string()) for d, v in columns.items()})
    try:
        target = named_target(Target(agency, ident, version, tuple(dims)), table, structures)
    except StructureError:
        return FlowNames()
    return FlowNames(
        name=target.name or "",
        concepts=dict(target.concepts or {}),
        codes={d: dict(v) for d, v in (target.names or {}).items()},
    )


@dataclass
class Changes:
    """What changed between two versions' observations (by series key and period).

    Attributes:
        previous: the number of the version compared with.
        added, removed, changed, same: observation counts.
        examples: the first changed observations, ``(key text, period, old, new)``.
    """

    previous: int
    added: int = 0
    removed: int = 0
    changed: int = 0
    same: int = 0
    examples: list[tuple[str, str, float | None, float | None]] = field(default_factory=list)


def compare(
    previous: pa.Table, current: pa.Table, dims: Sequence[str], number: int, *, limit: int = 10
) -> Changes | None:
    """The changes from ``previous`` to ``current``; None when they do not have the same dimensions."""
    import pyarrow.compute as pc

    keys = [*dims, "TIME_PERIOD"]
    if not all(k in t.column_names for t in (previous, current) for k in [*keys, "OBS_VALUE"]):
        return None

    def side(t: pa.Table, name: str) -> pa.Table:
        cols: dict[str, Any] = {k: t[k].cast(pa.string()) for k in keys}
        cols[name] = t["OBS_VALUE"].cast(pa.float64())
        cols[f"in_{name}"] = pa.repeat(pa.scalar(True), t.num_rows)  # typed even for 0 rows
        return pa.table(cols)

    joined = side(previous, "old").join(side(current, "new"), keys=keys, join_type="full outer")
    in_old = pc.fill_null(joined["in_old"], False)
    in_new = pc.fill_null(joined["in_new"], False)
    both = pc.and_(in_old, in_new)
    a, b = joined["old"], joined["new"]
    equal = pc.or_(pc.fill_null(pc.equal(a, b), False), pc.and_(pc.is_null(a), pc.is_null(b)))
    differ = pc.and_(both, pc.invert(equal))

    def count(mask: Any) -> int:
        return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)

    out = Changes(
        previous=number,
        added=count(pc.and_(in_new, pc.invert(in_old))),
        removed=count(pc.and_(in_old, pc.invert(in_new))),
        changed=count(differ),
    )
    out.same = count(both) - out.changed
    for row in joined.filter(differ).slice(0, limit).to_pylist():
        key = ".".join(str(row[d]) for d in dims)
        out.examples.append((key, str(row["TIME_PERIOD"]), row["old"], row["new"]))
    return out


@dataclass
class DsatPart:
    """One line of the DSAT breakdown: an ethics principle (yes/no) or a quality dimension (0-3)."""

    group: str  # "ethics" or "quality"
    label: str
    answer: str
    ok: bool


def dsat_breakdown(metadata: Mapping[str, Any], t: Translator = ENGLISH) -> list[DsatPart]:
    """The DSAT self-assessment of a quality metadata record, each answer beside its question
    (the model's help text, translated): what the score is made of."""
    from cgd_bridge.metadata.model import DsatDimensions, DsatEthics

    quality = metadata.get("quality") if isinstance(metadata.get("quality"), Mapping) else {}
    sa = quality.get("self_assessment") if isinstance(quality, Mapping) else None
    if not isinstance(sa, Mapping):
        return []
    out: list[DsatPart] = []
    for group, model, key in (("ethics", DsatEthics, "ethics"), ("quality", DsatDimensions, "dimensions")):
        answers = sa.get(key) if isinstance(sa.get(key), Mapping) else {}
        for name, info in model.model_fields.items():
            value = answers.get(name) if isinstance(answers, Mapping) else None
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            label = t.gettext(str(extra.get("help") or info.description or name))
            if group == "ethics":
                answer = {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value
                shown = t.gettext(str(answer)) if answer in ("yes", "no") else t.gettext("not answered")
                out.append(DsatPart(group, label, shown, answer == "yes"))
            else:
                score = value if isinstance(value, int) and not isinstance(value, bool) else None
                shown = f"{score}/3" if score is not None else t.gettext("not scored")
                out.append(DsatPart(group, label, shown, bool(score)))
    return out


@dataclass
class MetadataRow:
    """One filled field of the quality metadata, named as the metadata form names it."""

    section: str
    label: str
    value: str
    path: str


def labelled_metadata(metadata: Mapping[str, Any], t: Translator = ENGLISH) -> list[MetadataRow]:
    """The filled fields of a quality metadata record with the metadata form's labels (translated)
    and their sections, in the record's order; the dotted path is kept for the codes' readers."""
    from cgd_bridge.server.web.metadata_form import form_fields

    out: list[MetadataRow] = []

    def walk(widgets: Sequence[Any], section: str) -> None:
        for w in widgets:
            label = t.gettext(w.label) if w.label else w.path
            where = f"{section} › {label}" if section else label
            if w.kind == "entries":  # each entry numbered: "Population groups 2"
                for i, entry in enumerate(w.children, 1):
                    walk(entry.children, f"{where} {i}")
                continue
            if w.kind == "section":
                walk(w.children, where)
                continue
            value = w.value
            if isinstance(value, Mapping):
                text = "; ".join(f"{k}: {v}" for k, v in value.items() if v)
            elif isinstance(value, list):
                text = ", ".join(t.gettext(w.choice_label(str(v))) if w.choices else str(v) for v in value)
            elif w.kind in ("yesno", "select") and value in w.choices:
                text = t.gettext(w.choice_label(str(value)))
            else:
                text = "" if value is None else str(value)
            if text.strip():
                out.append(MetadataRow(section, label, text, w.path))

    walk(form_fields(metadata), "")
    return out
