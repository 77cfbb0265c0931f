"""KoboToolbox / ODK exports and their XLSForm.

Exports name columns by group path (``household/members/age``), add system columns
(``_id``, ``_uuid``, ``_submitted_by``, ``_submission_time``, GPS parts ``_gps_latitude`` …),
and write select_multiple questions as one space-separated column and/or one 0/1 column per
choice (``services/clinic``). Values come as choice *names* or as *labels*, depending on the
export settings.

Without the XLSForm, group paths are cut to their last part (when that stays unique) and system
columns are recognised by name. With the XLSForm (``--form``), every column is matched to its
question: types become Table Schema types, select_one/select_multiple values are checked against
the choice list (labels in any language are turned into names), choice columns are tied to their
question, and repeat groups are detected (a CSV export cannot carry them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cgd_bridge.errors import InputError, TooLarge
from cgd_bridge.i18n import N_
from cgd_bridge.ingest.form import Question, XLSForm
from cgd_bridge.ingest.table import SourceColumn

# Kobo/ODK system columns: never data; the ones that identify people are privacy findings.
META_COLUMNS = {
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status",
    "_submitted_by", "__version__", "_version_", "_tags", "_index", "_parent_index",
    "_parent_table_name", "_xform_id_string", "_attachments", "_geolocation", "_media_all_received",
    "_total_media", "_media_count", "_submission__id", "_submission__uuid",
    "_submission__submission_time", "_submission__validation_status", "_submission__notes",
    "_submission__status", "_submission__submitted_by", "_submission___version__",
    "_submission__tags", "meta/instanceid", "meta/rootuuid", "meta/deprecatedid",
    "meta/instancename", "formhub/uuid", "instanceid", "rootuuid", "deviceid", "subscriberid",
    "simserial", "phonenumber", "username", "email", "start", "end", "today", "audit",
    "start-geopoint", "key", "submissiondate", "submitterid", "submittername", "attachmentspresent",
    "attachmentsexpected", "reviewstate", "edits", "formversion",
}  # fmt: skip
# system columns that identify a respondent, an enumerator or a device
META_IDENTIFYING = {
    "_uuid", "_submitted_by", "_submission__uuid", "_submission__submitted_by", "meta/instanceid",
    "meta/rootuuid", "instanceid", "deviceid", "subscriberid", "simserial", "phonenumber",
    "username", "email", "submitterid", "submittername", "_geolocation", "start-geopoint", "key",
}  # fmt: skip
_GPS_PART = re.compile(r"^_?(?P<q>.+)_(latitude|longitude|altitude|precision)$", re.IGNORECASE)
GEO_TYPES = {"geopoint", "geotrace", "geoshape", "start-geopoint"}

XLSFORM_TYPES = {
    "integer": "integer",
    "decimal": "number",
    "range": "number",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "start": "datetime",
    "end": "datetime",
    "today": "date",
}


def read_xlsform(path: Path) -> XLSForm:
    """Read the ``survey``, ``choices`` and ``settings`` sheets of an XLSForm."""
    survey = _sheet_records(path, "survey")
    try:
        choice_rows = _sheet_records(path, "choices")
    except InputError:
        choice_rows = []
    try:
        settings = _sheet_records(path, "settings")
    except InputError:
        settings = []
    questions: dict[str, Question] = {}
    groups: set[str] = set()
    stack: list[tuple[str, bool]] = []  # (group name, is_repeat)
    has_repeats = False
    for rec in survey:
        qtype = rec.get("type", "").strip()
        name = rec.get("name", "").strip()
        low = qtype.lower().replace("_", " ")
        if low.startswith(("begin group", "begin repeat")):
            repeat = "repeat" in low
            has_repeats |= repeat
            stack.append((name, repeat))
            groups.add(name)
            continue
        if low.startswith(("end group", "end repeat")):
            if stack:
                stack.pop()
            continue
        if not name or not qtype or qtype in ("note",):
            continue
        parts = qtype.split()
        list_name = parts[1] if len(parts) > 1 and parts[0].startswith("select_") else None
        questions[name] = Question(
            name=name,
            type=qtype,
            list_name=list_name,
            label=_first_label(rec),
            path=tuple(g for g, _ in stack),
            in_repeat=any(r for _, r in stack),
            labels=tuple(v.strip() for k, v in rec.items() if k.startswith("label") and v.strip()),
        )
    choices: dict[str, dict[str, list[str]]] = {}
    for rec in choice_rows:
        lst = rec.get("list_name", rec.get("list name", "")).strip()
        cname = rec.get("name", "").strip()
        if not lst or not cname:
            continue
        labels = [v for k, v in rec.items() if k.startswith("label") and v.strip()]
        choices.setdefault(lst, {})[cname] = labels
    first = settings[0] if settings else {}
    return XLSForm(
        file=path.name,
        questions=questions,
        choices=choices,
        form_id=first.get("form_id") or None,
        version=first.get("version") or None,
        has_repeats=has_repeats,
        groups=groups,
    )


def _first_label(rec: dict[str, str]) -> str | None:
    for k, v in rec.items():
        if k.startswith("label") and v.strip():
            return v.strip()
    return None


def _sheet_records(path: Path, sheet: str) -> list[dict[str, str]]:
    # the XLSX reader (and its calamine) only for a form: a CSV export needs no spreadsheet code
    from cgd_bridge.ingest.xlsx import cell_text, sheet_rows

    try:
        _, rows = sheet_rows(path, sheet)
    except InputError as exc:
        if sheet == "survey" and not isinstance(exc, TooLarge):
            raise InputError(
                N_("the XLSForm has no 'survey' sheet"),
                fix=N_("Give the XLSForm (the .xlsx the form was built from), not the data export."),
                file=path.name,
            ) from exc
        raise
    header = [cell_text(v).strip().lower() for v in next(rows, [])]
    out = []
    for row in rows:
        values = [cell_text(v) for v in row]
        if not any(values):
            continue
        out.append({h: (values[i] if i < len(values) else "") for i, h in enumerate(header) if h})
    return out


#: the "/" of a Kobo/ODK group path ("respondent/sex"): one with no space on either side
_GROUP_SEP = re.compile(r"(?<!\s)/(?!\s)")


def is_meta(name: str) -> bool:
    """True for Kobo/ODK system columns (by resolved name or full header)."""
    return name.lower() in META_COLUMNS


def resolve_columns(columns: Iterable[SourceColumn], form: XLSForm | None) -> list[SourceColumn]:
    """Resolve group paths to question names and classify system, GPS and choice columns."""
    cols = list(columns)
    sep = "/" if any("/" in c.header for c in cols) else None
    for col in cols:
        header = col.header
        low = header.lower()
        if low in META_COLUMNS or low.split("/")[-1] in {"instanceid", "rootuuid"}:
            col.kind, col.name = "meta", header
            continue
        # a slash with a space beside it is a header's words ("Gender / Jinsia"), not a group path
        parts = [p.strip() for p in _GROUP_SEP.split(header)] if sep else [header]
        col.name = parts[-1] or header
        if form is not None:
            _resolve_with_form(col, parts, form)
        elif (m := _GPS_PART.match(col.name)) and header.startswith("_"):
            col.kind, col.question = "gps", m.group("q")
    _dedupe_names(cols)
    return cols


def _resolve_with_form(col: SourceColumn, parts: list[str], form: XLSForm) -> None:
    last = parts[-1]
    if last in form.questions:
        q = form.questions[last]
        col.question = q.name
        if q.base_type in GEO_TYPES:
            col.kind = "gps"
        return
    if len(parts) >= 2 and parts[-2] in form.questions:
        q = form.questions[parts[-2]]
        if q.base_type == "select_multiple":
            col.kind, col.question, col.name = "choice", q.name, f"{q.name}/{last}"
            return
    m = _GPS_PART.match(last)
    if m and m.group("q") in form.questions and form.questions[m.group("q")].base_type in GEO_TYPES:
        col.kind, col.question = "gps", m.group("q")


def _dedupe_names(cols: list[SourceColumn]) -> None:
    """Where cutting group paths made two names equal, fall back to the full header."""
    seen: dict[str, int] = {}
    for col in cols:
        seen[col.name] = seen.get(col.name, 0) + 1
    for col in cols:
        if seen[col.name] > 1 and col.header != col.name:
            col.name = col.header


def field_descriptor(q: Question, form: XLSForm) -> dict[str, Any]:
    """The Table Schema field an XLSForm question implies."""
    desc: dict[str, Any] = {"name": q.name, "type": XLSFORM_TYPES.get(q.base_type, "string")}
    if q.label:
        desc["title"] = q.label
    if q.base_type == "select_one":
        names = form.choice_names(q)
        if names:
            desc["constraints"] = {"enum": names}
    elif q.base_type == "select_multiple":
        desc["cgd:multiple"] = True
        names = form.choice_names(q)
        if names:
            desc["cgd:choices"] = names
    elif q.base_type in GEO_TYPES:
        desc["cgd:gps"] = True
    return desc
