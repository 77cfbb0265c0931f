"""The cause first: the most likely root cause of a report's findings, when they point to one.

A wrong mapping, a wrong sheet, a wrong encoding or a wrong dataflow each bury their cause under
hundreds of row-level findings ("'male' is not one of the allowed values", 598 times). This
module owns the diagnosis: :func:`diagnose` reads a :class:`~cgd_bridge.findings.Report` (its
counts, its findings and the evidence the pipeline put in ``stats``: the mapping's Table Schema,
``text_signs`` from :class:`~cgd_bridge.checks.table.EncodingSignsCheck`, ``sheets`` from
:func:`~cgd_bridge.ingest.xlsx.sheet_headers`) and gives at most one :class:`Diagnosis`, with a
stable ``code``, its problem and fix as composed messages (translated where the report is shown)
and the finding codes it explains, which the renderers (text, HTML, JSON, the web page) group
under it. It reads nothing and never raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cgd_bridge.findings import Report
from cgd_bridge.i18n import ENGLISH, N_, Translator, msg, nmsg, num

#: the stable codes (public API, like finding codes) and their titles
CAUSES = {
    "wrong-sheet": N_("The data seems to be on another sheet"),
    "wrong-mapping": N_("The mapping does not fit this file"),
    "wrong-encoding": N_("The file was saved with the wrong encoding"),
    "wrong-dataflow": N_("The codes are not those of the target dataflow"),
}

#: what each cause means and when it is given, for docs/findings.md
MEANING = {
    "wrong-sheet": "The mapping's columns are missing on the sheet read (or it holds no table) and another "
    "sheet of the workbook has them: the data is on that sheet.",
    "wrong-mapping": "At least 40 % (and 2) of the columns the mapping's schema expects are missing: the "
    "mapping is another dataset's, or another version of the form's.",
    "wrong-encoding": "At least 2 % (and 3) of the cells show a wrong encoding: UTF-8 read as "
    "Windows-1252/Latin-1 ('Ã©', 'à¤¨', 'â€™'), replacement characters, or letters lost as '??'.",
    "wrong-dataflow": "Most of the coded values the mapping gives are unknown to the target DSD's "
    "codelists, in several components or in REF_AREA (another country's dataflow).",
}

#: the findings that follow from each cause (grouped under it in the reports)
EXPLAINS: dict[str, tuple[str, ...]] = {
    "wrong-sheet": (
        "missing-column", "extra-column", "blank-header", "empty-table", "constraint-error", "type-error",
        "missing-value", "unmapped-value", "duplicate-series-key", "group-not-in-data", "unknown-code",
        "code-not-allowed", "duplicate-header", "extra-cell", "missing-cell", "system-column",
    ),
    "wrong-mapping": (
        "missing-column", "extra-column", "constraint-error", "type-error", "missing-value", "unmapped-value",
        "duplicate-series-key", "group-not-in-data", "unknown-code", "code-not-allowed", "system-column",
        "unique-error", "duplicate-key",
    ),
    "wrong-encoding": (
        "constraint-error", "unmapped-value", "unknown-code", "code-not-allowed", "choice-column-mismatch",
        "wg-invalid-answer", "type-error",
    ),
    "wrong-dataflow": ("unknown-code", "code-not-allowed", "unmapped-value"),
}  # fmt: skip

#: how much of the evidence makes a cause "most likely"
MISSING_SHARE = 0.4  # of the mapping's columns missing (at least MIN_MISSING of them)
MIN_MISSING = 2
SIGN_SHARE = 0.02  # of the cells showing a wrong encoding (at least MIN_SIGNS of them)
MIN_SIGNS = 3
UNKNOWN_SHARE = 0.5  # of the distinct coded values unknown to the DSD's codelists


@dataclass(frozen=True)
class Diagnosis:
    """The most likely root cause of a report's findings.

    Attributes:
        code: stable, e.g. ``wrong-mapping`` (one of :data:`CAUSES`).
        problem: what is wrong, a composed message (:func:`cgd_bridge.i18n.msg`), e.g. "5 of
            the 6 columns this mapping expects are missing".
        fix: what to do, a composed message.
        explains: the finding codes that follow from it, present in the report.
        evidence: the numbers behind it (JSON-ready).
    """

    code: str
    problem: dict[str, Any]
    fix: dict[str, Any]
    explains: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def title(self, t: Translator = ENGLISH) -> str:
        return t.gettext(CAUSES[self.code])

    def texts(self, t: Translator = ENGLISH) -> tuple[str, str]:
        """``(problem, fix)`` in the language of ``t``."""
        return t.text(self.problem), t.text(self.fix)

    def sentences(self, t: Translator = ENGLISH) -> tuple[str, str]:
        """``(problem, fix)`` as the report shows them: the problem a sentence of its own."""
        problem, fix = self.texts(t)
        return sentence(problem, t), fix

    def to_dict(self, t: Translator = ENGLISH) -> dict[str, Any]:
        """The JSON report's ``diagnosis``: the code, its texts in the language of ``t``, the
        finding codes it explains, the evidence, and the templates (to show it in any language)."""
        problem, fix = self.texts(t)
        return {
            "code": self.code,
            "title": self.title(t),
            "message": f"{problem}. {fix}"
            if problem and not problem.endswith((".", "।"))
            else f"{problem} {fix}",
            "problem": problem,
            "fix": fix,
            "explains": list(self.explains),
            "evidence": self.evidence,
            "cgd:template": {"problem": self.problem, "fix": self.fix},
        }


def sentence(text: str, t: Translator = ENGLISH) -> str:
    """``text`` as a sentence: a capital first, the language's full stop unless it ends with one
    (or with a question mark)."""
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!", "।")) else t.gettext(N_("{sentence}."), sentence=text)


def texts_of(d: Mapping[str, Any], t: Translator = ENGLISH) -> tuple[str, str, str]:
    """A stored diagnosis (:meth:`Diagnosis.to_dict`) as ``(title, problem, fix)`` in the
    language of ``t`` (the web page shows a stored report in the viewer's language)."""
    code = str(d.get("code", ""))
    title = t.gettext(CAUSES[code]) if code in CAUSES else str(d.get("title", code))
    template = d.get("cgd:template")
    if isinstance(template, Mapping):
        try:
            return title, sentence(t.text(template.get("problem", "")), t), t.text(template.get("fix", ""))
        except (KeyError, IndexError, ValueError, TypeError):
            pass
    return title, str(d.get("problem", "")), str(d.get("fix", ""))


def diagnose(report: Report) -> Diagnosis | None:
    """The most likely root cause of ``report``'s findings, or None when they point to none.

    In order: a wrong sheet (the mapping's columns are missing on the sheet read and another
    sheet of the workbook has them), a wrong mapping (many of its columns missing), a wrong
    encoding (cells with replacement characters, lost letters or mojibake), a wrong dataflow
    (most coded values unknown to the DSD's codelists, in several components or in REF_AREA).
    """
    for cause in (_wrong_sheet, _wrong_mapping, _wrong_encoding, _wrong_dataflow):
        found = cause(report)
        if found is not None:
            present = report.codes()
            return Diagnosis(
                found.code,
                found.problem,
                found.fix,
                tuple(c for c in EXPLAINS[found.code] if c in present),
                found.evidence,
            )
    return None


def _count(report: Report, code: str) -> int:
    return sum(n for (c, _, _), n in report.counts.items() if c == code)


def _expected(report: Report) -> list[str]:
    """The columns the schema (the mapping's, or the XLSForm's) expects."""
    schema = report.stats.get("table_schema") or {}
    if report.stats.get("schema") == "inferred":
        return []
    return [str(f.get("name")) for f in schema.get("fields") or [] if f.get("name")]


def _missing(report: Report) -> list[str]:
    return [f.field for f in report.findings if f.code == "missing-column" and f.field]


def _data_input(report: Report) -> Any:
    return next((i for i in report.inputs if i.kind == "data"), None)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _matches(expected: Iterable[str], headers: Iterable[str]) -> int:
    have = {_norm(h) for h in headers}
    return sum(_norm(e) in have for e in expected)


def _wrong_sheet(report: Report) -> Diagnosis | None:
    sheets = report.stats.get("sheets") or {}
    info = _data_input(report)
    if len(sheets) < 2 or info is None or not info.sheet:
        return None
    expected = _expected(report)
    read = sheets.get(info.sheet, [])
    if expected:
        here = _matches(expected, read)
        scored = [(_matches(expected, h), name) for name, h in sheets.items() if name != info.sheet]
        best, name = max(scored, default=(0, ""))
        if best < max(MIN_MISSING, MISSING_SHARE * len(expected)) or best <= here:
            return None
        problem = msg(
            N_(
                "the sheet '{read}' has {here} of the {expected} columns this mapping expects, the sheet "
                "'{other}' has {found}: the data seems to be on '{other}'"
            ),
            read=info.sheet, here=num(here), expected=num(len(expected)), other=name, found=num(best),
        )  # fmt: skip
    else:  # no schema to compare: the sheet read has no table, another has a header row
        blank = _count(report, "blank-header") + (len(info.columns) if _count(report, "empty-table") else 0)
        if not blank or blank < 0.5 * max(1, len(info.columns)):
            return None
        best, name = max(((len(h), n) for n, h in sheets.items() if n != info.sheet), default=(0, ""))
        if best < MIN_MISSING or best <= len(read):
            return None
        problem = msg(
            N_(
                "the sheet '{read}' holds no table (its first row is not a row of column names); the sheet "
                "'{other}' has {found}"
            ),
            read=info.sheet, other=name, found=nmsg("{n} column name", "{n} column names", best),
        )  # fmt: skip
    fix = msg(
        N_(
            "Check with the file whether the data is on '{other}'; if it is, choose that sheet (--sheet "
            "'{other}' on the command line, the Sheet box on the upload page) and check again."
        ),
        other=name,
    )
    return Diagnosis("wrong-sheet", problem, fix, evidence={"sheet": info.sheet, "better_sheet": name})


def _wrong_mapping(report: Report) -> Diagnosis | None:
    expected = _expected(report)
    missing = _missing(report)
    n_missing = _count(report, "missing-column")
    if not expected or n_missing < max(MIN_MISSING, MISSING_SHARE * len(expected)):
        return None
    mapping = next((i.file for i in report.inputs if i.kind == "mapping"), None)
    shown = ", ".join(f"'{m}'" for m in missing[:6]) + (", …" if len(missing) > 6 else "")
    problem = msg(
        N_(
            "{missing} of the {expected} columns this mapping expects are missing ({columns}): did you pick "
            "the right mapping?"
        ),
        missing=num(n_missing), expected=num(len(expected)), columns=shown,
    )  # fmt: skip
    fix = (
        msg(
            N_(
                "Check that {mapping} is the mapping of this file (the mapping of another dataset or "
                "another version of the form expects other columns); choose the right one, or draft one "
                "for this file with 'cgd-bridge mapping init'. The findings below follow from it."
            ),
            mapping=mapping,
        )
        if mapping
        else msg(
            N_(
                "Check that the schema (the mapping's or the form's) is the one of this file; the findings "
                "below follow from it."
            )
        )
    )
    return Diagnosis(
        "wrong-mapping",
        problem,
        fix,
        evidence={"expected": len(expected), "missing": n_missing, "columns": missing[:20]},
    )


def _wrong_encoding(report: Report) -> Diagnosis | None:
    signs = report.stats.get("text_signs") or {}
    cells = int(signs.get("cells") or 0)
    bad = int(signs.get("mojibake") or 0) + int(signs.get("replacement") or 0) + int(signs.get("lost") or 0)
    if not cells or bad < MIN_SIGNS or bad < SIGN_SHARE * cells:
        return None
    info = _data_input(report)
    examples = ", ".join(repr(x)[:40] for x in signs.get("examples") or [])
    if int(signs.get("mojibake") or 0) >= max(
        int(signs.get("lost") or 0), int(signs.get("replacement") or 0)
    ):
        problem = msg(
            N_(
                "{cells} show letters garbled by a wrong encoding (e.g. {examples}): the file was written "
                "as UTF-8 and then opened or saved as another encoding"
            ),
            cells=nmsg("{n} cell", "{n} cells", bad), examples=examples,
        )  # fmt: skip
    else:
        problem = msg(
            N_(
                "{cells} have letters replaced by '?' or '�' (e.g. {examples}): the file was saved in an "
                "encoding that cannot hold them ({encoding}), and they are lost"
            ),
            cells=nmsg("{n} cell", "{n} cells", bad), examples=examples,
            encoding=(info.encoding if info is not None and info.encoding else "?"),
        )  # fmt: skip
    fix = msg(
        N_(
            "Export the data again from its source (Kobo, ODK, the spreadsheet) as 'CSV UTF-8' or XLSX, "
            "and check that the names and labels look right before uploading. The findings below follow "
            "from it."
        )
    )
    return Diagnosis(
        "wrong-encoding",
        problem,
        fix,
        evidence={k: signs.get(k) for k in ("cells", "mojibake", "replacement", "lost")}
        | {"encoding": info.encoding if info is not None else None},
    )


def _wrong_dataflow(report: Report) -> Diagnosis | None:
    unknown = [f for f in report.findings if f.code == "unknown-code"]
    if not unknown:
        return None
    per: dict[str, tuple[int, int]] = {}
    for f in unknown:  # each finding carries its component's distinct and refused values
        comp = str(f.details.get("component", ""))
        per[comp] = (int(f.details.get("refused") or 0), int(f.details.get("distinct") or 0))
    bad = sum(n for n, _ in per.values())
    total = sum(d for _, d in per.values())
    # most values unknown, in several components or in the areas (another country's dataflow); a
    # single fixed code mistyped is its own finding, not a wrong dataflow
    if bad < UNKNOWN_SHARE * max(total, 1) or (len(per) < 2 and "REF_AREA" not in per):
        return None
    dataflow = str(report.stats.get("dataflow") or "")
    problem = msg(
        N_(
            "{bad} of the {total} codes the mapping gives in {components} are not in the codelists of the "
            "dataflow {dataflow}: the mapping seems written for another dataflow"
        ),
        bad=num(bad), total=num(total), components=", ".join(sorted(per)), dataflow=dataflow,
    )  # fmt: skip
    fix = msg(
        N_(
            "Check the mapping's 'dataflow' (and that the NSO's structure file of that dataflow is "
            "imported: 'cgd-bridge structures import FILE'); the findings below follow from it."
        )
    )
    return Diagnosis(
        "wrong-dataflow", problem, fix, evidence={"unknown": bad, "codes": total, "components": sorted(per)}
    )
