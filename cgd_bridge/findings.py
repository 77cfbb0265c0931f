"""Findings (problems in a CSO's data or metadata) and the Report that collects them.

Checks *yield* findings; they never raise (see :mod:`cgd_bridge.errors` for "cannot continue").
Every finding has a stable, kebab-case ``code`` (public API: renaming one is a CHANGELOG entry),
a severity, a plain-language message and the fix. Codes are declared once with
:func:`register`, which gives each its title, family and documentation; ``docs/findings.md``
is written from that registry and a test keeps the two in step.

The Report never truncates silently: it keeps at most ``limit_per_code`` findings of each code
but counts all of them, and says how many it left out.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cgd_bridge.errors import format_message
from cgd_bridge.i18n import ENGLISH, N_, Translator


class Severity(StrEnum):
    """How bad a finding is. Only errors make a report invalid."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """The documentation of one finding code.

    Attributes:
        code: stable kebab-case id, e.g. ``small-cell``.
        severity: the default severity, e.g. ``Severity.WARNING``.
        family: the check family, e.g. ``privacy``; one of :data:`FAMILIES`.
        title: a short title, e.g. ``"Small cell"``.
        description: what it means and why it matters, for ``docs/findings.md``.
    """

    code: str
    severity: Severity
    family: str
    title: str
    description: str


FAMILIES = {
    "table": N_("Table structure and values"),
    "metadata": N_("Quality metadata"),
    "coherence": N_("Metadata against data"),
    "privacy": N_("Privacy and disclosure control"),
    "consistency": N_("Disaggregation consistency"),
    "disability": N_("Washington Group disability questions"),
    "sdmx": N_("SDMX codes and mapping"),
}

CHECKS: dict[str, CheckSpec] = {}


def register(code: str, severity: Severity, family: str, title: str, description: str) -> str:
    """Declare a finding code once (at import of its check module) and return it."""
    if family not in FAMILIES:
        raise ValueError(f"unknown check family {family!r}")
    existing = CHECKS.get(code)
    spec = CheckSpec(code, severity, family, title, " ".join(description.split()))
    if existing is not None and existing != spec:
        raise ValueError(f"finding code {code!r} registered twice with different specs")
    CHECKS[code] = spec
    return code


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the data or the metadata.

    Attributes:
        code: the stable finding code, e.g. ``unknown-value``.
        severity: error, warning or info.
        problem: what is wrong, quoting the bad value, e.g. ``"'Femme' is not an allowed value"``.
        fix: what to do, e.g. ``"Use one of: Female, Male, Total."``.
        target: ``"data"`` or ``"metadata"``: which input the finding is about.
        file: the file name as the user gave it.
        row: the row as a spreadsheet shows it (header = row 1), if the finding is about a row.
        field: the column (data) or dotted path (metadata, e.g. ``consent.obtained``).
        value: the offending value, as text, if any.
        rows: further rows involved (e.g. every row sharing a duplicate key).
        line: for metadata findings, the line of the YAML/JSON file.
        details: extra machine-readable context (e.g. the cells to suppress).
        template: the message ids ``(problem, fix)`` that ``problem`` and ``fix`` were formatted
            from with ``params`` (``"the column '{column}' is empty"``, ``{"column": "age"}``);
            None when they are fixed texts, which are their own message ids. Translating a
            finding translates the template, then formats it: the data is never translated.
        params: the values formatted into the template (user data: column names, counts).
        translate: the keys of ``params`` whose values are message ids of our own (a field's help
            text), translated with the template; every other value is data and never is.
    """

    code: str
    severity: Severity
    problem: str
    fix: str = ""
    target: str = "data"
    file: str | None = None
    row: int | None = None
    field: str | None = None
    value: str | None = None
    rows: tuple[int, ...] = ()
    line: int | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    template: tuple[str, str] | None = dataclasses.field(default=None, hash=False, compare=False)
    params: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    translate: tuple[str, ...] = dataclasses.field(default=(), hash=False, compare=False)

    @classmethod
    def of(
        cls,
        code: str,
        severity: Severity,
        problem: str | dict[str, Any],
        fix: str | dict[str, Any],
        params: dict[str, Any],
        translate: tuple[str, ...] = (),
        **kw: Any,
    ) -> Finding:
        """A finding whose ``problem`` and ``fix`` are message templates formatted with ``params``;
        either may be a composed message instead (:func:`cgd_bridge.i18n.msg`, ``nmsg``), built
        of sentences that are each a message id."""
        if not isinstance(problem, str):
            params, problem = {**params, "problem": problem}, "{problem}"
        if not isinstance(fix, str):
            params, fix = {**params, "fix": fix}, "{fix}"
        return cls(
            code=code,
            severity=severity,
            problem=ENGLISH.template(problem, params, translate),
            fix=ENGLISH.template(fix, params, translate),
            template=(problem, fix),
            params=params,
            translate=translate,
            **kw,
        )

    def texts(self, t: Translator = ENGLISH) -> tuple[str, str]:
        """``(problem, fix)`` in the language of ``t`` (English where its catalogue lacks one)."""
        if t is ENGLISH:
            return self.problem, self.fix
        if self.template is None:
            return t.gettext(self.problem), t.gettext(self.fix)
        problem, fix = self.template
        return t.template(problem, self.params, self.translate), t.template(fix, self.params, self.translate)

    def message_in(self, t: Translator = ENGLISH) -> str:
        """The whole message (place, problem, fix) in the language of ``t``."""
        problem, fix = self.texts(t)
        return format_message(
            problem, fix, file=self.file, row=self.row, field=self.field, line=self.line, t=t
        )

    @property
    def message(self) -> str:
        """``{file}, row {row}, column '{field}': {problem}. {fix}``."""
        return self.message_in(ENGLISH)

    @property
    def title(self) -> str:
        """The registered title of this finding's code."""
        spec = CHECKS.get(self.code)
        return spec.title if spec else self.code

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, Any]:
        """A frictionless-compatible error dict, plus our own ``cgd:`` keys; ``message``, ``note``
        (the problem), ``fix`` and ``title`` in the language of ``t``, the English kept in
        ``cgd:english`` when that is another, and the template with its parameters in
        ``cgd:template`` (so that a stored report can be shown in any language later)."""
        spec = CHECKS.get(self.code)
        problem, fix = self.texts(t)
        out: dict[str, Any] = {
            "type": self.code,
            "title": t.gettext(self.title),
            "description": t.gettext(spec.description) if spec else "",
            "message": self.message_in(t),
            "tags": ["#cgd", f"#{spec.family}" if spec else "#other"],
            "note": problem,
            "severity": self.severity.value,
            "fix": fix,
        }
        if t is not ENGLISH:
            out["cgd:english"] = {
                "title": self.title,
                "message": self.message,
                "note": self.problem,
                "fix": self.fix,
            }
        if self.template is not None:
            out["cgd:template"] = {
                "problem": self.template[0],
                "fix": self.template[1],
                "params": {
                    k: v if isinstance(v, int | float | str | dict) else str(v)
                    for k, v in self.params.items()
                },
                "translate": list(self.translate),
            }
        if self.row is not None:
            out["rowNumber"] = self.row
        if self.field is not None:
            key = "fieldName" if self.target == "data" else "fieldPath"
            out[key] = self.field
        if self.value is not None:
            out["cell"] = self.value
        if self.rows:
            out["rowNumbers"] = list(self.rows)
        if self.line is not None:
            out["lineNumber"] = self.line
        if self.details:
            out["details"] = self.details
        return out


@dataclass(slots=True)
class InputInfo:
    """What was read, and how (shown in every report)."""

    file: str
    kind: str  # "data" | "metadata" | "mapping" | "form"
    format: str  # "csv", "xlsx", "yaml", "json"
    sha256: str | None = None
    bytes: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    rows: int | None = None
    columns: list[str] = field(default_factory=list)
    notes: list[Any] = field(default_factory=list)  # texts: message ids or composed messages

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view, leaving out unset fields."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, [], "")}


#: the stage of a disclosure audit's report (``cgd-bridge audit``): the renderers give it its own
#: verdict (PROTECTED / EXPOSED) instead of a validation's
AUDIT_STAGE = "disclosure audit"


@dataclass
class Report:
    """The result of a validation run: every finding, counted, with what was read.

    ``limit_per_code`` bounds memory and output size; the counts stay exact, and
    :attr:`omitted` says how many findings of each code were left out.
    """

    limit_per_code: int = 1000
    stage: str = "submission"
    findings: list[Finding] = field(default_factory=list)
    counts: Counter[tuple[str, Severity, str]] = field(default_factory=Counter)
    _kept: Counter[str] = field(default_factory=Counter, repr=False)
    inputs: list[InputInfo] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # facts shown in the report (rows, threshold …)
    started: float = field(default_factory=time.perf_counter)

    # -- collecting -------------------------------------------------------------------------
    def add(self, finding: Finding) -> None:
        """Count a finding and keep it unless its code is over the limit."""
        self.counts[(finding.code, finding.severity, finding.target)] += 1
        if self._kept[finding.code] < self.limit_per_code:
            self.findings.append(finding)
            self._kept[finding.code] += 1

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add several findings."""
        for f in findings:
            self.add(f)

    def add_counted(self, total: int, examples: Sequence[Finding]) -> None:
        """Add ``total`` findings of which only ``examples`` were materialised.

        Vectorised checks count problems over a whole column and build Finding objects only
        for the first few; this keeps counts exact without per-row Python objects.
        """
        if total <= 0:
            return
        if not examples:
            raise ValueError("add_counted needs at least one example finding")
        first = examples[0]
        room = max(0, self.limit_per_code - self._kept[first.code])
        kept = list(examples[: min(room, total)])
        self.findings.extend(kept)
        self._kept[first.code] += len(kept)
        self.counts[(first.code, first.severity, first.target)] += total

    def remap_rows(self, mapper: Any) -> None:
        """Apply ``mapper(provisional_row) -> row`` to every kept finding (see ingest)."""
        self.findings = [
            dataclasses.replace(
                f,
                row=mapper(f.row) if f.row is not None else None,
                rows=tuple(mapper(r) for r in f.rows),
            )
            if f.target == "data" and (f.row is not None or f.rows) and not f.details.get("resolved")
            else f
            for f in self.findings
        ]

    # -- reading ----------------------------------------------------------------------------
    @property
    def error_count(self) -> int:
        """Number of error findings, including those left out."""
        return sum(n for (_, sev, _), n in self.counts.items() if sev is Severity.ERROR)

    @property
    def warning_count(self) -> int:
        """Number of warnings, including those left out."""
        return sum(n for (_, sev, _), n in self.counts.items() if sev is Severity.WARNING)

    @property
    def valid(self) -> bool:
        """True when there is no error (warnings are allowed)."""
        return self.error_count == 0

    @property
    def omitted(self) -> dict[str, int]:
        """Per code, how many findings were counted but not kept."""
        total: Counter[str] = Counter()
        for (code, _, _), n in self.counts.items():
            total[code] += n
        kept = Counter(f.code for f in self.findings)
        return {code: n - kept[code] for code, n in sorted(total.items()) if n > kept[code]}

    @property
    def partial(self) -> bool:
        """True when some findings were counted but not kept."""
        return bool(self.omitted)

    def by_code(self) -> list[tuple[str, Severity, int, list[Finding]]]:
        """Groups for display: (code, severity, total count, kept findings), errors first."""
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        groups: dict[tuple[str, Severity], list[Finding]] = {}
        for f in self.findings:
            groups.setdefault((f.code, f.severity), []).append(f)
        totals: Counter[tuple[str, Severity]] = Counter()
        for (code, sev, _), n in self.counts.items():
            totals[(code, sev)] += n
        keys = sorted(totals, key=lambda k: (order[k[1]], k[0]))
        return [(c, s, totals[(c, s)], groups.get((c, s), [])) for c, s in keys]

    def flatten(self, *keys: str) -> list[tuple[Any, ...]]:
        """Compact view for tests, e.g. ``report.flatten("row", "field", "code")``."""
        return [tuple(getattr(f, k) for k in keys) for f in self.findings]

    def codes(self) -> set[str]:
        """Every finding code counted in this report."""
        return {code for code, _, _ in self.counts}

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def finish(self) -> None:
        """Record the elapsed time."""
        self.stats["seconds"] = round(time.perf_counter() - self.started, 3)

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, Any]:
        """A frictionless-report-compatible dict (``valid``, ``stats``, ``tasks``), plus ``cgd:`` keys
        and ``diagnosis`` (the most likely root cause, :mod:`cgd_bridge.diagnosis`, or null); the
        findings' texts in the language of ``t`` (``cgd:lang``)."""
        tasks = []
        for info in self.inputs or [InputInfo(file="", kind="data", format="")]:
            mine = [f for f in self.findings if f.target == info.kind]
            errors = [f.to_dict(t) for f in mine if f.severity is Severity.ERROR]
            warnings = [f.to_dict(t) for f in mine if f.severity is not Severity.ERROR]
            counted_errors = sum(
                n
                for (_, sev, target), n in self.counts.items()
                if sev is Severity.ERROR and target == info.kind
            )
            tasks.append(
                {
                    "name": info.file,
                    "type": "table" if info.kind == "data" else info.kind,
                    "valid": counted_errors == 0,
                    "place": info.file,
                    "labels": info.columns,
                    "stats": {
                        k: v
                        for k, v in {
                            "sha256": info.sha256,
                            "bytes": info.bytes,
                            "fields": len(info.columns) or None,
                            "rows": info.rows,
                            "errors": len(errors),
                            "warnings": len(warnings),
                        }.items()
                        if v is not None
                    },
                    "errors": errors,
                    "warnings": warnings,
                    "cgd:input": info.to_dict(),
                }
            )
        from cgd_bridge.diagnosis import diagnose

        cause = diagnose(self) if self.stage != AUDIT_STAGE else None
        return {
            "valid": self.valid,
            # the most likely root cause of the findings (cgd_bridge/diagnosis.py), or null
            "diagnosis": cause.to_dict(t) if cause is not None else None,
            "stats": {
                "tasks": len(tasks),
                "errors": self.error_count,
                "warnings": self.warning_count,
                "seconds": self.stats.get("seconds", 0.0),
            },
            "warnings": [],
            "errors": [],
            "tasks": tasks,
            "cgd:profile": "cgd-report/1.0",
            "cgd:lang": t.lang,
            "cgd:stage": self.stage,
            "cgd:counts": [
                {"code": c, "severity": s.value, "count": n, "kept": len(fs)}
                for c, s, n, fs in self.by_code()
            ],
            "cgd:partial": self.partial,
            "cgd:omitted": self.omitted,
            "cgd:stats": {
                k: dsat_in(v, t) if k == "dsat" else v for k, v in self.stats.items() if k != "seconds"
            },
        }


def dsat_in(dsat: Any, t: Translator = ENGLISH) -> Any:
    """A DSAT verdict (:func:`cgd_bridge.checks.metadata.dsat_score`, as a report's stats or a
    stored version keep it) with its ``reasons`` in the language of ``t``, from its composed
    messages (``why``); a verdict stored without them keeps its English reasons."""
    if not isinstance(dsat, Mapping) or not isinstance(dsat.get("why"), list):
        return dsat
    return {**dsat, "reasons": [t.text(w) for w in dsat["why"]]}
