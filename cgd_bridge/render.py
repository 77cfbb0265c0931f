"""Rendering a Report: plain text for the terminal, JSON, and a standalone HTML page.

All three show the same thing: whether the dataset is ready, what was read, and every problem
grouped by kind, with counts, the first rows of each and the fix. Nothing is cut silently:
when findings were left out, each renderer says how many.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from cgd_bridge.diagnosis import Diagnosis, diagnose
from cgd_bridge.findings import AUDIT_STAGE, CHECKS, FAMILIES, Report, Severity
from cgd_bridge.i18n import ENGLISH, N_, Translator

TEXT_EXAMPLES = 10
# C0 controls but tab and newline, DEL, C1 controls, and the bidi embeddings, overrides and isolates
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (ESC, BEL, CR, C1, bidi overrides) shown
    as Python escapes (``\\x1b``, ``\\u202e``); tabs, newlines and every script's letters kept.

    >>> printable("Kisumu\x1b[2J")
    'Kisumu\\x1b[2J'
    """
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


#: What a submission needs besides data without errors: the input kind, and what to say when
#: it was not checked (a dataset is submitted with its quality metadata and its mapping).
NEEDED_FOR_SUBMISSION = (
    (
        "metadata",
        N_(
            "no quality metadata was checked: fill in the cgd-quality/1.0 template ('cgd-bridge metadata "
            "template -o quality.yaml') and validate again with --metadata quality.yaml"
        ),
    ),
    (
        "mapping",
        N_(
            "no mapping was checked, so it is unknown whether the data fits the target data structure: "
            "validate again with --mapping mapping.yaml (see docs/mapping.md)"
        ),
    ),
)


def submission_blockers(report: Report, t: Translator = ENGLISH) -> list[str]:
    """Why the dataset cannot be submitted yet, besides any errors: the inputs a submission
    needs that this validation did not check (quality metadata, mapping). Empty when none."""
    kinds = {i.kind for i in report.inputs}
    return [t.gettext(why) for kind, why in NEEDED_FOR_SUBMISSION if kind not in kinds]


_MARK = {Severity.ERROR: N_("ERROR"), Severity.WARNING: N_("WARNING"), Severity.INFO: N_("NOTE")}
_STAGES = {"submission": N_("submission"), "release": N_("release")}


def counts(report: Report, t: Translator = ENGLISH) -> str:
    """``2 error(s), 1 warning(s)`` in the language of ``t`` (its plural forms)."""
    return t.gettext(
        N_("{errors}, {warnings}"),
        errors=t.ngettext("{n} error(s)", "{n} error(s)", report.error_count),
        warnings=t.ngettext("{n} warning(s)", "{n} warning(s)", report.warning_count),
    )


def render_text(report: Report, *, examples: int = TEXT_EXAMPLES, t: Translator = ENGLISH) -> str:
    """The report for a terminal: a verdict line, inputs, then problems grouped by code (the
    data's text made :func:`printable`), in the language of ``t``."""
    lines: list[str] = [_headline(report, t)]
    audit = report.stage == AUDIT_STAGE
    lines.extend(_input_lines(report, t))
    disclosure = threshold_sentence(report.stats, t)
    if disclosure:
        lines.append(f"  {disclosure}")
    dsat = report.stats.get("dsat")
    if dsat:
        lines.append(
            "  "
            + t.gettext(
                N_("DSAT self-assessment: {verdict} (quality {total}/15, ethics {ethics})"),
                verdict=t.gettext(N_("pass") if dsat["pass"] else N_("FAIL")),
                total=dsat["total"],
                ethics=t.gettext(N_("all yes") if dsat["ethics_pass"] else N_("not all yes")),
            )
        )
    cause = diagnose(report) if not audit else None
    groups = report.by_code()
    if cause is not None:
        lines.extend(_cause_lines(cause, t))
        groups = [g for g in groups if g[0] in cause.explains] + [
            g for g in groups if g[0] not in cause.explains
        ]
    for i, (code, severity, count, kept) in enumerate(groups):
        spec = CHECKS.get(code)
        title = t.gettext(spec.title) if spec else code
        lines.append("")
        if cause is not None and i == 0 and code in cause.explains:
            lines.append(t.gettext(N_("Findings that follow from it:")))
            lines.append("")
        elif (
            cause is not None
            and code not in cause.explains
            and (i == 0 or groups[i - 1][0] in cause.explains)
        ):
            lines.append(t.gettext(N_("Other findings:")))
            lines.append("")
        lines.append(f"{t.gettext(_MARK[severity])} {code}: {title} ({t.number(count)})")
        for f in kept[:examples]:
            lines.append(f"  - {f.message_in(t)}")
        more = count - min(len(kept), examples)
        if more > 0:
            lines.append(
                "  "
                + t.gettext(
                    N_("… and {more} more (see --format json or html for all kept findings)"), more=more
                )
            )
    if report.partial:
        lines.append("")
        lines.append(
            t.gettext(N_("Some findings were counted but not kept (limit per code):"))
            + " "
            + ", ".join(f"{c} {n}" for c, n in report.omitted.items())
        )
    if audit:
        lines.append("")
        lines.append(audit_verdict(report, t))
    else:
        lines.extend(_verdict(report, t))
    return printable("\n".join(lines)) + "\n"


def _cause_lines(cause: Diagnosis, t: Translator = ENGLISH) -> list[str]:
    """The most likely cause, first: its title and code, what is wrong and what to do."""
    problem, fix = cause.sentences(t)
    return [
        "",
        t.gettext(N_("MOST LIKELY CAUSE ({code}): {title}"), code=cause.code, title=cause.title(t)),
        "  " + problem,
        "  " + fix,
    ]


def _input_lines(report: Report, t: Translator = ENGLISH) -> list[str]:
    """One line per input file (kind, name, rows, encoding, sheet), with its notes."""
    lines = []
    for info in report.inputs:
        bits = [f"{info.kind}: {info.file}"]
        if info.rows is not None:
            bits.append(t.ngettext("{n} rows", "{n} rows", info.rows))
        if info.encoding:
            bits.append(info.encoding)
        if info.sheet:
            bits.append(t.gettext(N_("sheet '{sheet}'"), sheet=info.sheet))
        lines.append("  " + ", ".join(bits))
        lines.extend("    " + t.gettext(N_("note: {note}"), note=t.text(n)) for n in info.notes)
    return lines


def _headline(report: Report, t: Translator = ENGLISH) -> str:
    """The verdict line: VALID / NOT VALID for a validation, PROTECTED / EXPOSED for an audit."""
    seconds = f"{t.number(report.stats.get('seconds', 0), '0.00')} s"
    if report.stage == AUDIT_STAGE:
        stats = report.stats.get("audit", {})
        nothing = bool(stats.get("suppressed")) and not stats.get("audited")
        verdict = (
            N_("EXPOSED") if not report.valid else N_("NOTHING AUDITABLE") if nothing else N_("PROTECTED")
        )
        checked = t.gettext(N_("disclosure audit, {seconds}"), seconds=seconds)
    else:
        verdict = N_("VALID") if report.valid else N_("NOT VALID")
        stage = t.gettext(_STAGES.get(report.stage, report.stage))
        checked = t.gettext(N_("checked for {stage}, {seconds}"), stage=stage, seconds=seconds)
    return f"{t.gettext(verdict)}: {counts(report, t)} ({checked})"


def audit_verdict(report: Report, t: Translator = ENGLISH) -> str:
    """The closing sentence of a disclosure audit, in ``t``'s language: what a reader can or
    cannot work out, and what the audit could not look at."""
    stats = report.stats.get("audit", {})
    k = t.number(stats["threshold"]) if "threshold" in stats else t.gettext(N_("the threshold"))
    exposed = int(stats.get("exposed", 0))
    if exposed:
        text = t.ngettext(
            "{n} suppressed cell can be worked out, or narrowed to less than {k}, from what this "
            "file publishes: do not publish it as it is. Suppress more cells (a part or total on "
            "each relation named), or publish the table through cgd-bridge convert.",
            "{n} suppressed cells can be worked out, or narrowed to less than {k}, from what this "
            "file publishes: do not publish it as it is. Suppress more cells (a part or total on "
            "each relation named), or publish the table through cgd-bridge convert.",
            exposed,
            k=k,
        )
    elif not stats.get("suppressed"):
        text = t.gettext(
            N_("Nothing is suppressed in this file, so there is nothing a reader could work out.")
        )
    elif not stats.get("audited"):
        text = t.gettext(N_("No suppressed cell of this file could be audited."))
    else:
        text = t.ngettext(
            "No suppressed cell can be worked out from this file: the {n} audited can take values "
            "at least {k} apart.",
            "No suppressed cell can be worked out from this file: each of the {n} audited can take "
            "values at least {k} apart.",
            int(stats.get("audited", 0)),
            k=k,
        )
    if stats.get("not_additive"):
        text += " " + t.ngettext(
            "{n} suppressed cell is in a series that does not add up (percentages, rates) and was "
            "not audited: audit the counts behind it (cgd-bridge convert does).",
            "{n} suppressed cells are in series that do not add up (percentages, rates) and were "
            "not audited: audit the counts behind them (cgd-bridge convert does).",
            int(stats["not_additive"]),
        )
    if stats.get("not_audited"):
        text += " " + t.ngettext(
            "{n} was not audited (the LP budget ran out).",
            "{n} were not audited (the LP budget ran out).",
            int(stats["not_audited"]),
        )
    return text


def _verdict(report: Report, t: Translator = ENGLISH) -> list[str]:
    """The closing lines: whether the dataset can be submitted, and if not (besides errors), why."""
    blockers = submission_blockers(report, t)
    if blockers:
        return [
            "",
            t.gettext(N_("The dataset cannot be submitted yet:")),
            *("  - " + t.gettext(N_("{sentence}."), sentence=why) for why in blockers),
        ]
    if report.valid:
        return ["", t.gettext(N_("The dataset is ready to submit.")) if not report.warning_count else
                t.gettext(N_("The dataset can be submitted; read the warnings first."))]  # fmt: skip
    return []


def render_json(report: Report, t: Translator = ENGLISH) -> str:
    """The frictionless-compatible JSON report, with ``cgd:submittable`` (and, when false, why in
    ``cgd:not_submittable_because`` besides the errors); texts in the language of ``t``."""
    out = report.to_dict(t)
    blockers = submission_blockers(report, t)
    out["cgd:submittable"] = report.valid and not blockers
    if blockers:
        out["cgd:not_submittable_because"] = blockers
    return json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n"


def render_html(report: Report, t: Translator = ENGLISH) -> str:
    """A standalone HTML page (no external assets), readable offline and printable, in the
    language of ``t`` (``<html lang dir>`` from it)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("cgd_bridge", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    audit = report.stage == AUDIT_STAGE
    cause = diagnose(report) if not audit else None
    for code, severity, count, kept in report.by_code():
        spec = CHECKS.get(code)
        family = "cause" if cause is not None and code in cause.explains else spec.family if spec else "table"
        groups.setdefault(family, []).append(
            {
                "code": code,
                "severity": severity.value,
                "title": t.gettext(spec.title) if spec else code,
                "description": t.gettext(spec.description) if spec else "",
                "count": count,
                "findings": [(f, *f.texts(t)) for f in kept],
                "more": count - len(kept),
            }
        )
    ordered = [(t.gettext(FAMILIES[f]), groups[f]) for f in FAMILIES if f in groups]
    if "cause" in groups:
        ordered.insert(0, (t.gettext(N_("Findings that follow from the most likely cause")), groups["cause"]))
    problem, fix = cause.sentences(t) if cause is not None else ("", "")
    return env.get_template("report.html").render(
        cause=cause,
        cause_title=cause.title(t) if cause is not None else "",
        cause_problem=t.gettext(N_("{sentence}."), sentence=problem[:1].upper() + problem[1:])
        if cause
        else "",
        cause_fix=fix,
        number=t.number,
        report=report,
        families=ordered,
        disclosure=threshold_sentence(report.stats, t),
        title=t.gettext(N_("Disclosure audit") if audit else N_("Validation report")),
        verdict=t.gettext(
            (N_("Protected") if report.valid else N_("Exposed"))
            if audit
            else (N_("Valid") if report.valid else N_("Not valid"))
        ),
        counts=counts(report, t),
        checked=t.gettext(N_("disclosure audit"))
        if audit
        else t.gettext(N_("checked for {stage}"), stage=t.gettext(_STAGES.get(report.stage, report.stage))),
        closing=audit_verdict(report, t) if audit else None,
        blockers=[] if audit else submission_blockers(report, t),
        _=t.gettext,
        ngettext=t.ngettext,
        text=t.text,
        lang=t.lang,
        direction=t.direction,
    )


def threshold_sentence(stats: dict[str, Any], t: Translator = ENGLISH) -> str | None:
    """The disclosure control in force, in one sentence for the reports (None if not stated).

    >>> threshold_sentence({"threshold": 5, "threshold_source": "default", "group_size": 10})[:62]
    'Disclosure control: threshold 5 (the default): no figure resti'
    """
    k = stats.get("threshold")
    if not isinstance(k, int):
        return None
    source = stats.get("threshold_source") or "default"
    where = (
        t.gettext(N_("the default")) if source == "default" else t.gettext(N_("from {source}"), source=source)
    )
    text = t.gettext(
        N_("Disclosure control: threshold {k} ({where}): no figure resting on 1 to {below} people"),
        k=k,
        where=where,
        below=k - 1,
    )
    g = stats.get("group_size")
    if isinstance(g, int):
        text += t.gettext(N_(", and no 0 % or 100 % of a group smaller than {g}"), g=g)
    return t.gettext(N_("{sentence}."), sentence=text)


RENDERERS: dict[str, Callable[..., str]] = {"text": render_text, "json": render_json, "html": render_html}


def render_checks_markdown() -> str:
    """``docs/findings.md``: every finding code, by family, with its meaning and severity."""
    import cgd_bridge.checks
    import cgd_bridge.metadata.load  # noqa: F401

    out = [
        "# Findings: what each check reports and how to fix it",
        "",
        "<!-- Generated by `cgd-bridge checks --markdown`; a test keeps it in step with the code. -->",
        "",
        "Every problem cgd-bridge finds has a stable code (used in the JSON report's `type`), a",
        "severity (only errors make a dataset invalid), and a message that names the file, the row",
        "or field, the bad value and the fix. Rows are counted as a spreadsheet shows them: the",
        "header is row 1.",
        "",
    ]
    for family, title in FAMILIES.items():
        specs = sorted((s for s in CHECKS.values() if s.family == family), key=lambda s: s.code)
        if not specs:
            continue
        out += [f"## {title}", "", "| code | severity | meaning |", "|---|---|---|"]
        out += [f"| `{s.code}` | {s.severity.value} | **{s.title}.** {s.description} |" for s in specs]
        out.append("")
    from cgd_bridge.diagnosis import CAUSES, EXPLAINS, MEANING

    out += [
        "## The cause first",
        "",
        "When the findings point to one root cause, the report (text, HTML, the JSON `diagnosis`",
        "object, the web page) opens with it, and the findings it explains follow under it",
        "(`cgd_bridge/diagnosis.py`). Its code is stable like a finding code.",
        "",
        "| code | meaning | findings it explains |",
        "|---|---|---|",
    ]
    out += [
        f"| `{code}` | **{title}.** {MEANING[code]} | {', '.join(f'`{c}`' for c in EXPLAINS[code])} |"
        for code, title in CAUSES.items()
    ]
    out.append("")
    return "\n".join(out)
