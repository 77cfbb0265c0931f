"""The mapping builder of the web pages (#18): from a CSO's export to a saved mapping, no YAML.

A CSO's person uploads a dataset (and its XLSForm), picks the target dataflow and sees the
drafted mapping (:func:`cgd_bridge.mapping.draft.draft_mapping`, what ``mapping init`` writes)
as two tables: each dimension with the column or fixed code chosen, the other candidates and
why; each label of a mapped column with its code, a searchable list of the codelist's codes and
names, and why. They change any choice (the draft is remade with the choices as given, as the
terminal review does), preview the harmonised observations with the real validation (coverage,
codes, small cells: :func:`cgd_bridge.pipeline.examine`) and save the mapping to their
organisation, versioned (:mod:`cgd_bridge.store.mappings`). The submit page offers the saved
mappings; each version downloads as YAML.

Paths: ``GET /mappings`` (the organisation's mappings and the start form), ``POST
/mappings/build`` (the upload and its first draft), ``POST /mappings/step`` (every later step:
``action`` = ``update``, ``preview``, ``yaml`` (the draft as a file) or ``save``),
``GET /mappings/checks/{id}`` (a preview that outlasted its request), ``GET /mappings/{id}`` (one
version) and ``GET /mappings/{id}/download``.

The page carries its state in the form: the files are kept on the server for their sender
(:mod:`cgd_bridge.store.kept`, the submit page's) and the form holds their tokens, so a slow
link sends them once; each choice is a form field, and a choice the person made (one that
differs from the draft's, or was made on an earlier round) goes back as a decision. Drafting and
previewing read the upload in the server's job worker processes, within their limits
(:mod:`cgd_bridge.server.jobs`), like every upload. Only the people of a CSO build mappings, and
only those of the organisation that saved a mapping see it.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import Response
from starlette.datastructures import FormData

from cgd_bridge.errors import CgdBridgeError, Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_, msg
from cgd_bridge.mapping.draft import (
    AGGREGATE_KINDS,
    CONFIDENT,
    MEASURE,
    MICRODATA_KINDS,
    TIME,
    TIME_FORMATS,
    Draft,
    Question,
    choice_of,
    measure_problems,
    spec_of,
    time_problems,
)
from cgd_bridge.server.uploads import Inputs
from cgd_bridge.server.web import background
from cgd_bridge.server.web.pages import Page, PageDep, WebRoute
from cgd_bridge.server.web.routes import CHECK_REFRESH_SECONDS, Id, _upload_or_kept
from cgd_bridge.server.web.views import group_report
from cgd_bridge.store import checks, kept, mappings, submissions
from cgd_bridge.store.models import CheckState

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge

router = APIRouter(route_class=WebRoute, include_in_schema=False)
log = logging.getLogger(__name__)
#: harmonised observations the preview shows
PREVIEW_ROWS = 20
#: a label's list holds every code of a codelist up to this many; a longer one (e.g. 1,000
#: series) lists the candidates and takes any other code typed in the field beside it
LISTED_CODES = 150
ACTIONS = ("draft", "update", "preview", "yaml", "save")
#: the most fields the draft page's form may send (a few per dimension and label)
MAX_FIELDS = 20_000


@dataclass
class Choices:
    """The choices made on the page: dimension -> ``column:NAME``/``value:CODE``, (dimension,
    label) -> code ("" leaves the label unmapped), TIME_PERIOD's source and the measure (the
    short forms of :class:`cgd_bridge.mapping.draft.Decisions`), and the columns the draft used
    for nothing placed as a dimension (``placed``: (row, column, ``dimension:ID``); each also
    goes into ``columns``)."""

    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    time: dict[str, str] | None = None
    value: dict[str, str] | None = None
    placed: list[tuple[int, str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, form: FormData) -> Choices:
        """The decisions in a posted builder form: a field's value counts when it differs from
        the draft's proposal shown with it (``dp_``/``lp_``/``tp``/``mp``) or was decided before
        (``dd_``/``lx_``/``td``/``md``)."""
        out = cls()
        time, value = time_of(form), measure_of(form)
        if time != spec_of(_field(form, "tp")) or _field(form, "td"):
            out.time = time
        if value != spec_of(_field(form, "mp")) or _field(form, "md"):
            out.value = value
        for name, raw in form.multi_items():
            if not name.startswith("dim_") or not isinstance(raw, str):
                continue
            dim = name[len("dim_") :]
            typed = form.get(f"dt_{dim}")
            if isinstance(typed, str) and typed.strip():
                raw = typed.strip()
                raw = raw if raw.startswith(("column:", "value:")) else f"value:{raw}"
            if raw and (raw != form.get(f"dp_{dim}") or form.get(f"dd_{dim}")):
                out.columns[dim] = raw
        for name, raw in form.multi_items():
            if not name.startswith("ld_") or not isinstance(raw, str):
                continue
            n = name[len("ld_") :]
            label, typed, picked = form.get(f"lv_{n}"), form.get(f"lt_{n}"), form.get(f"lc_{n}")
            if not isinstance(label, str):
                continue
            code = typed.strip() if isinstance(typed, str) and typed.strip() else picked
            if not isinstance(code, str):
                continue
            if code != (form.get(f"lp_{n}") or "") or form.get(f"lx_{n}"):
                out.labels[(raw, label)] = code
        out.place(form)
        return out

    def place(self, form: FormData) -> None:
        """The columns the draft used for nothing that the form places as a dimension."""
        for name, raw in form.multi_items():
            if not name.startswith("un_") or not isinstance(raw, str):
                continue
            n = name[len("un_") :]
            dim = _field(form, f"uc_{n}")
            if dim and n.isdigit():
                self.placed.append((int(n), raw, dim))
                self.columns[dim.partition(":")[2]] = f"column:{raw}"


def _field(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def time_of(form: FormData) -> dict[str, str]:
    """TIME_PERIOD's source as the page's fields give it: ``t_src`` ``column:NAME`` (with
    ``t_fmt``) or ``value`` (with ``t_value``)."""
    src = _field(form, "t_src")
    if src.startswith("column:"):
        return {"column": src[len("column:") :], "format": _field(form, "t_fmt") or "year"}
    return {"value": _field(form, "t_value", 40)}


def measure_of(form: FormData) -> dict[str, str]:
    """The measure as the page's fields give it (``m_kind``, ``m_col``, ``m_den``, ``m_answer``),
    in the short form of :func:`cgd_bridge.mapping.draft.measure_problems`."""
    got = {"kind": _field(form, "m_kind", 40), "column": _field(form, "m_col"),
           "denominator": _field(form, "m_den"), "answer": _field(form, "m_answer", 300)}  # fmt: skip
    return {k: v for k, v in got.items() if v}


def shown_time(drafted: Draft) -> dict[str, str]:
    """The draft's TIME_PERIOD source as the page's fields show it (so posting them unchanged
    is no decision)."""
    time = drafted.mapping["time"]
    if "column" in time:
        return {"column": str(time["column"]), "format": str(time.get("format", "year"))}
    value = str(time.get("value", ""))
    return {"value": "" if value == "CONFIRM" else value}


def shown_measure(drafted: Draft) -> dict[str, str]:
    """The draft's measure as the page's fields show it: a column the data does not have (the
    draft's ``CONFIRM``) is shown as none chosen."""
    spec = drafted.measure()
    return {k: v for k, v in spec.items() if k in ("kind", "answer") or v in drafted.data_columns}


def _start(page: Page, status: int = 200, **values: Any) -> Response:
    principal = page.principal
    return page.render(
        "mapping_builder.html",
        status=status,
        saved=mappings.latest(page.db, principal=principal),
        dataflows=_dataflows(page),
        errors=values.pop("errors", {}),
        values=values,
    )


def _dataflows(page: Page) -> list[tuple[str, str]]:
    """The dataflows a mapping can target: ``(AGENCY:ID(VERSION), name)``."""
    found = page.bridge.structures.artefacts("dataflow")
    return sorted({(a.ref, a.name) for a in found})


def _require_cso(page: Page) -> Any:
    return page.require(page.is_cso, page._("Building a mapping"), page._("CSO submitters"))


@router.get("/mappings")
def builder_start(page: PageDep) -> Response:
    """The organisation's saved mappings and the form that starts a new one."""
    _require_cso(page)
    return _start(page)


@router.post("/mappings/step")
async def builder_next(page: PageDep, request: Request) -> Response:
    """The steps after the first: the draft page's form, which sends no files (they are kept on
    the server) and a field per choice, so many more fields than an upload form (a form's size
    stays within ``CGD_BRIDGE_MAX_FORM_KB``)."""
    fields = await request.form(max_fields=MAX_FIELDS)
    page.check_csrf(_text(fields, "csrf_token", 200))
    _require_cso(page)
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_step, page, fields, None, None)


@router.post("/mappings/build")
async def builder_step(
    page: PageDep,
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    data: Annotated[UploadFile | None, File()] = None,
    form: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """One step of the builder (see the module's docstring); the fields beyond the files are read
    from the whole form, since their names follow the dataflow's dimensions and the labels."""
    page.check_csrf(csrf_token)
    _require_cso(page)
    fields = await request.form()
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_step, page, fields, data, form)


def _text(fields: FormData, name: str, limit: int = 300) -> str:
    value = fields.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _step(  # noqa: C901 - one form, one flow: files, choices, the draft, then what was asked
    page: Page,
    fields: FormData,
    data: UploadFile | None,
    form: UploadFile | None,
    shown: dict[str, Any] | None = None,
) -> Response:
    """One step; with ``shown`` (the outcome of a preview that ran in the background), the
    page of its form again with that preview."""
    principal = page.principal
    assert principal is not None  # the route requires a signed-in CSO
    _ = page._
    action = _text(fields, "action") or "draft"
    if action not in ACTIONS or shown is not None:
        action = "update" if shown is not None else "draft"
    values: dict[str, Any] = {
        "dataflow": _text(fields, "dataflow"),
        "sheet": _text(fields, "sheet"),
        "name": _text(fields, "name", mappings.MAX_NAME + 10),
        "note": _text(fields, "note", mappings.MAX_NOTE),
        "kept": {},
    }
    errors: dict[str, str] = {}
    known = {ref for ref, _name in _dataflows(page)}
    if values["dataflow"] not in known:
        errors["dataflow"] = _("Pick the dataflow the data goes to.")
    tokens = {"data": _text(fields, "kept_data", 64), "form": _text(fields, "kept_form", 64)}
    inputs = Inputs(page.bridge.settings.max_upload_mb << 20)
    sent: set[str] = set()
    handed_over = False
    try:
        try:
            for role, upload in (("data", data), ("form", form)):
                try:
                    _upload_or_kept(page, inputs, role, upload, tokens[role], sent)
                except NotFound as exc:  # a kept file that is gone: ask for that file alone
                    errors[role] = exc.message_in(_)
            if "data" not in inputs.paths and "data" not in errors:
                errors["data"] = _("Choose the dataset file (CSV, XLSX or a Kobo/ODK export).")
        except CgdBridgeError as exc:
            if exc.status >= 500 or isinstance(exc, Forbidden):
                raise
            errors["form" if exc.file and exc.file == inputs.names().get("form") else "data"] = (
                exc.message_in(_)
            )
        if inputs.raw:  # what was received is kept for its sender: the next step need not send it
            received = kept.keep(page.db, principal=principal, files=inputs.raw, now=page.now)
            values["kept"] = {role: received[role] for role in received}
        if errors:
            return _start(page, 400, errors=errors, **values)
        choices = Choices() if action == "draft" else Choices.of(fields)
        try:
            drafted = _draft(page, inputs, values, choices)
        except CgdBridgeError as exc:
            if exc.status >= 500 or isinstance(exc, Forbidden):
                raise
            where = "form" if exc.file and exc.file == inputs.names().get("form") else "data"
            if exc.field == "dataflow" or "dataflow" in (exc.problem or "").casefold():
                where = "dataflow"
            return _start(page, exc.status if exc.status < 500 else 422, errors={where: exc.message_in(_)},
                          **values)  # fmt: skip
        errors = _unknown_choices(page, drafted, choices)
        text = drafted.to_yaml()
        if errors:
            return _builder(page, drafted, text, values, choices, errors=errors, status=400)
        if action == "yaml":
            stem = values["name"] or FilePath(inputs.names().get("data", "mapping")).stem
            return page.send_file(text.encode("utf-8"), f"{stem}.yaml", "application/yaml", "")
        if action == "save":
            return _save(page, drafted, text, values, choices)
        if action == "preview":
            handed_over = True  # the preview's thread closes the inputs
            shown = _preview_in_background(page, inputs, fields, text, values["sheet"])
            if shown is None:  # still running: its status page shows it when it ends
                return page.redirect(f"/mappings/checks/{page.extra['check']}")
        preview = Preview.of(shown, page._) if shown is not None else None
        return _builder(page, drafted, text, values, choices, preview=preview)
    finally:
        if not handed_over:
            inputs.close()


def _unknown_choices(page: Page, drafted: Draft, choices: Choices) -> dict[str, str]:
    """A typed code the codelist does not have, or a column the data does not have, at its field
    (the draft passes over such a choice; the page must not do so silently)."""
    _ = page._
    errors: dict[str, str] = {}
    for q in drafted.dimension_choices():
        chosen = choices.columns.get(q.dimension, "")
        kind, _sep, what = chosen.partition(":")
        if kind == "value" and what not in q.codes:
            errors[f"dim_{q.dimension}"] = _(
                "{dimension}: '{code}' is not a code of its codelist; pick one from the list.",
                dimension=q.dimension,
                code=what,
            )
        elif kind == "column" and what not in drafted.data_columns:
            errors[f"dim_{q.dimension}"] = _(
                "{dimension}: the data has no column '{column}'.", dimension=q.dimension, column=what
            )
    for n, q in enumerate(drafted.labels):
        code = choices.labels.get((q.dimension, q.label or ""))
        if code and code not in q.codes:
            errors[f"lc_{n}"] = _(
                "'{label}': '{code}' is not a {dimension} code; pick one from the list.",
                label=q.label,
                code=code,
                dimension=q.dimension,
            )
    dims = {q.dimension for q in drafted.dimension_choices()}
    placed: set[str] = set()
    for n, column, chosen in choices.placed:
        kind, _sep, dim = chosen.partition(":")
        if kind != "dimension" or dim not in dims:
            errors[f"uc_{n}"] = _(
                "'{dimension}' is not a dimension of this dataflow; pick one from the list.",
                dimension=dim or chosen,
            )
        elif column not in drafted.data_columns:
            errors[f"uc_{n}"] = _(
                "{dimension}: the data has no column '{column}'.", dimension=dim, column=column
            )
        elif dim in placed:
            errors[f"uc_{n}"] = _("{dimension} is given to two columns; give it to one.", dimension=dim)
        placed.add(dim)
    errors.update(_time_errors(page, drafted, choices))
    errors.update(_measure_errors(page, drafted, choices))
    return errors


def _time_columns(drafted: Draft) -> list[str]:
    """The columns TIME_PERIOD can be read from: the time-like ones (a Kobo export's
    ``_submission_time`` too), then every other column of the data."""
    found = [spec["column"] for c in drafted.other_choice(TIME).candidates
             if "column" in (spec := spec_of(c.choice) or {})]  # fmt: skip
    return list(dict.fromkeys(found + drafted.data_columns))


def _time_errors(page: Page, drafted: Draft, choices: Choices) -> dict[str, str]:
    _ = page._
    if choices.time is None:
        return {}
    errors: dict[str, str] = {}
    for _where, problem, what in time_problems(choices.time, _time_columns(drafted)):
        if problem == "not-a-period":
            errors["t_value"] = _(
                "TIME_PERIOD: '{value}' is not a period; give a year (2024), a month (2024-03), "
                "a quarter (2024-Q1) or a date (2024-03-31).",
                value=what,
            )
        elif problem == "no-column":
            errors["t_src"] = _("TIME_PERIOD: the data has no column '{column}'.", column=what)
        else:
            errors["t_fmt"] = _(
                "TIME_PERIOD: '{format}' is not a format; pick one from the list.", format=what
            )
    return errors


def _measure_errors(page: Page, drafted: Draft, choices: Choices) -> dict[str, str]:
    """A measure chosen that the data cannot give, at its field (``m_kind``, ``m_col``, ``m_den``,
    ``m_answer``)."""
    _ = page._
    if choices.value is None:
        return {}
    fields = {"kind": "m_kind", "column": "m_col", "denominator": "m_den", "answer": "m_answer"}
    errors: dict[str, str] = {}
    found = measure_problems(choices.value, microdata=drafted.microdata, columns=drafted.data_columns,
                             numeric=drafted.numeric_columns, answers=drafted.answers)  # fmt: skip
    for where, problem, what in found:
        if problem == "unknown-kind":
            message = _("OBS_VALUE: '{kind}' is not a kind of measure for this data; pick one from the list.",
                        kind=what)  # fmt: skip
        elif problem == "needs-column":
            message = _("OBS_VALUE: choose the column this measure needs.")
        elif problem == "no-column":
            message = _("OBS_VALUE: the data has no column '{column}'.", column=what)
        elif problem == "not-numeric":
            message = _("OBS_VALUE: '{column}' does not hold numbers in every row; choose a column of "
                        "numbers.", column=what)  # fmt: skip
        elif problem == "same-column":
            message = _("OBS_VALUE: the numerator and the denominator are the same column '{column}'.",
                        column=what)  # fmt: skip
        elif problem == "needs-answer":
            message = _("OBS_VALUE: give the answer of '{column}' that is counted (e.g. yes).", column=what)
        else:
            message = _("OBS_VALUE: no respondent answered '{answer}'; give one of the column's answers.",
                        answer=what)  # fmt: skip
        errors.setdefault(fields[where], message)
    return errors


def _earlier(page: Page) -> list[tuple[str, str]]:
    """What the organisation mapped before: its saved mappings, then the mappings of its
    submissions (evidence: a label mapped before is proposed again first)."""
    principal = page.principal
    assert principal is not None  # the route requires a signed-in CSO
    seen: set[str] = set()
    out = []
    saved = mappings.texts(page.db, principal=principal)
    for name, text in saved + submissions.saved_mappings(page.db, principal):
        if text not in seen:
            seen.add(text)
            out.append((name, text))
    return out


def _draft(page: Page, inputs: Inputs, values: dict[str, Any], choices: Choices) -> Draft:
    structures = page.bridge.structures
    got: Draft = page.bridge.jobs.run(
        "draft",
        what=msg(N_("the upload '{name}'"), name=inputs.names().get("data", "data")),
        data=str(inputs.paths["data"]),
        form=str(inputs.paths["form"]) if "form" in inputs.paths else None,
        sheet=values["sheet"] or None,
        dataflow=values["dataflow"],
        earlier=_earlier(page),
        columns=choices.columns,
        labels=[(d, label, code) for (d, label), code in choices.labels.items()],
        time=choices.time,
        value=choices.value,
        structures_dir=str(structures.store.folder) if structures.store else None,
        lang=page.lang,
    )
    return got


@dataclass
class Preview:
    """What the preview shows: the report grouped, the first observations, how many there are."""

    report: Any
    columns: list[str]
    rows: list[list[str]]
    observations: int
    problem: str | None = None

    @classmethod
    def of(cls, outcome: dict[str, Any], t: Any) -> Preview:
        """The preview of a check's outcome (JSON), its report in the page's language."""
        report = outcome.get("report")
        return cls(
            group_report(report, t) if report is not None else None,
            list(outcome.get("columns") or []),
            [list(r) for r in outcome.get("rows") or []],
            int(outcome.get("observations") or 0),
            outcome.get("problem"),
        )


def _run_preview(bridge: Bridge, inputs: Inputs, text: str, sheet: str, translate: Any) -> dict[str, Any]:
    """The preview job (``pipeline.examine`` of the upload with the mapping ``text``, in a job
    worker) and its outcome as JSON: the report, the first rows, the count, or the problem."""
    structures = bridge.structures
    with tempfile.TemporaryDirectory(prefix="cgd-bridge-builder-") as folder:
        path = FilePath(folder) / "mapping.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            report, table, count = bridge.jobs.run(
                "preview",
                what=msg(N_("the upload '{name}'"), name=inputs.names().get("data", "data")),
                data=str(inputs.paths["data"]),
                form=str(inputs.paths["form"]) if "form" in inputs.paths else None,
                sheet=sheet or None,
                mapping=str(path),
                rows=PREVIEW_ROWS,
                structures_dir=str(structures.store.folder) if structures.store else None,
            )
        except CgdBridgeError as exc:
            if (exc.status >= 500 and exc.status != 503) or isinstance(exc, Forbidden):
                raise
            return {"problem": exc.message_in(translate)}
    columns, rows = _rows(table)
    return {"report": report.to_dict(), "columns": columns, "rows": rows, "observations": count}


def _carried(fields: FormData) -> list[list[str]]:
    """The form's fields a later page needs to show it again (not its token, not the action)."""
    return [
        [k, v] for k, v in fields.multi_items() if isinstance(v, str) and k not in ("csrf_token", "action")
    ]


def _preview_in_background(
    page: Page, inputs: Inputs, fields: FormData, text: str, sheet: str
) -> dict[str, Any] | None:
    """Run the preview in a thread of its own, as the submit page runs its checks
    (:func:`cgd_bridge.server.web.background.run_check`): its outcome when it ends within
    ``web_check_wait_seconds``, else None (the check's id is then in ``fields``' page values, see
    :func:`_step`). The inputs are closed when it ends."""
    bridge = page.bridge
    translate = page._

    def work() -> dict[str, Any]:
        return _run_preview(bridge, inputs, text, sheet, translate)

    check_id, out = background.run_check(
        page,
        inputs,
        action="preview",
        values={"form": _carried(fields)},
        work=work,
        outcome=lambda shown: ({"preview": shown}, None),
    )
    page.extra["check"] = check_id
    return out


def _rows(table: pa.Table | None) -> tuple[list[str], list[list[str]]]:
    """The preview's columns (the empty dimensions left out) and rows as text."""
    if table is None:
        return [], []
    keep = [
        n for n in table.column_names if n != "SOURCE_ROW" and table.column(n).null_count < table.num_rows
    ]
    if "SOURCE_ROW" in table.column_names:
        keep = ["SOURCE_ROW", *keep]
    picked = table.select(keep)
    cols = [picked.column(n).to_pylist() for n in keep]
    rows = [["" if v is None else str(v) for v in row] for row in zip(*cols, strict=True)]
    return keep, rows


def _save(page: Page, drafted: Draft, text: str, values: dict[str, Any], choices: Choices) -> Response:
    _ = page._
    errors: dict[str, str] = {}
    try:
        drafted.model()
    except ValueError as exc:  # pydantic's ValidationError: the choices make no mapping
        errors["save"] = _("The mapping is not complete yet: {problem}", problem=str(exc).splitlines()[0])
    if not values["name"]:
        errors["name"] = _("Give the mapping a name, e.g. 'mw-water-points'.")
    if not errors:
        try:
            row = mappings.save_mapping(
                page.db,
                principal=page.principal,
                name=values["name"],
                text=text,
                dataflow=values["dataflow"],
                note=values["note"],
                now=page.now,
            )
        except UsageError as exc:
            errors["name" if exc.field == "name" else "save"] = exc.message_in(_)
        else:
            page.say(_("Version {number} of the mapping {name} was saved.", number=row.number, name=row.name))
            return page.redirect(f"/mappings/{row.id}")
    return _builder(page, drafted, text, values, choices, errors=errors, status=400)


@dataclass
class LabelRow:
    """One label as the page shows it."""

    n: int
    q: Question
    chosen: str
    decided: bool
    listed: list[tuple[str, str]]  # the codes the list offers (code, name)


def _builder(
    page: Page,
    drafted: Draft,
    text: str,
    values: dict[str, Any],
    choices: Choices,
    *,
    preview: Preview | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    dims = []
    for q in drafted.dimension_choices():
        if len(q.codes) <= LISTED_CODES:
            listed = list(q.codes.items())
        else:
            shown = {c.choice for c in q.candidates} | {q.proposed or ""}
            listed = [(code, name) for code, name in q.codes.items() if f"value:{code}" in shown]
        dims.append((q, listed))
    labels = []
    for n, q in enumerate(drafted.labels):
        chosen = q.proposed or ""
        decided = (q.dimension, q.label or "") in choices.labels
        if decided:
            chosen = choices.labels[(q.dimension, q.label or "")]
        if len(q.codes) <= LISTED_CODES:
            listed = list(q.codes.items())
        else:
            shown = {c.choice for c in q.candidates} | ({chosen} if chosen else set())
            listed = [(code, name) for code, name in q.codes.items() if code in shown]
        labels.append(LabelRow(n, q, chosen, decided, listed))
    placed = {n: chosen for n, _column, chosen in choices.placed}
    unused = [(n, q, placed.get(n, "")) for n, q in enumerate(drafted.unused)]
    time_shown, measure_shown = shown_time(drafted), shown_measure(drafted)
    return page.render(
        "mapping_builder_draft.html",
        status=status,
        dims=dims,
        decided_dims=set(choices.columns),
        labels=labels,
        columns=drafted.data_columns,
        unused=unused,
        time_q=drafted.other_choice(TIME),
        time_shown=time_shown,
        time_proposed=choice_of(TIME, time_shown),
        time_decided=choices.time is not None,
        time_columns=_time_columns(drafted),
        time_formats=TIME_FORMATS,
        measure_q=drafted.other_choice(MEASURE),
        measure_shown=measure_shown,
        measure_proposed=choice_of(MEASURE, measure_shown),
        measure_decided=choices.value is not None,
        microdata=drafted.microdata,
        kinds=MICRODATA_KINDS if drafted.microdata else AGGREGATE_KINDS,
        yaml_text=text,
        values=values,
        errors=errors or {},
        preview=preview,
        confident=CONFIDENT,
        unsure=sum(
            1 for q, _listed in dims if q.confidence < CONFIDENT and q.dimension not in choices.columns
        )
        + sum(1 for r in labels if r.q.confidence < CONFIDENT and not r.decided)
        + (drafted.other_choice(TIME).confidence < CONFIDENT and choices.time is None)
        + (drafted.other_choice(MEASURE).confidence < CONFIDENT and choices.value is None),
    )


@router.get("/mappings/{mapping_id}")
def saved_mapping(page: PageDep, mapping_id: Id) -> Response:
    """One saved version: what it is, its YAML, its other versions, and what to do with it."""
    principal = _require_cso(page)
    row = mappings.get_mapping(page.db, principal=principal, mapping_id=mapping_id)
    versions = [r for r in mappings.list_mappings(page.db, principal=principal) if r.name == row.name]
    return page.render("mapping_builder_saved.html", mapping=row, versions=versions)


@router.get("/mappings/{mapping_id}/download")
def download_mapping(page: PageDep, mapping_id: Id) -> Response:
    """A saved version as its YAML file, ``NAME-vN.yaml``."""
    principal = _require_cso(page)
    row = mappings.get_mapping(page.db, principal=principal, mapping_id=mapping_id)
    content = row.text.encode("utf-8")
    import hashlib

    return page.send_file(
        content, f"{row.name}-v{row.number}.yaml", "application/yaml", hashlib.sha256(content).hexdigest()
    )


@router.get("/mappings/checks/{check_id}")
def preview_status(page: PageDep, check_id: Annotated[str, Path(max_length=64)]) -> Response:
    """A preview that outlasted its request: "still running" (the page refreshes itself), the
    builder's page with it once it ended, or why it stopped. Only for the person who started it."""
    principal = _require_cso(page)
    row = checks.get(page.db, principal=principal, ident=check_id)
    if row.action != "preview":  # a check of the submit page: its own status page
        return page.redirect(f"/checks/{check_id}")
    outcome = row.outcome or {}
    settings = page.bridge.settings
    gone = checks.lost(
        row, page.now, job_cpu_seconds=settings.job_cpu_seconds, job_wait_seconds=settings.job_wait_seconds
    )
    if row.state == CheckState.RUNNING and not gone:
        return page.render(
            "mapping_builder_check.html", check=row, running=True, refresh=CHECK_REFRESH_SECONDS
        )
    if row.state == CheckState.DONE:
        fields = FormData([(str(k), str(v)) for k, v in (outcome.get("values") or {}).get("form", [])])
        return _step(page, fields, None, None, shown=dict(outcome.get("preview") or {}))
    _ = page._
    if row.state == CheckState.RUNNING:
        message = _("The check did not finish: the server stopped while it ran.")
    else:
        message = outcome.get("problem") or _("The check failed on the server; the error has been logged.")
    return page.render("mapping_builder_check.html", status=500 if row.state == CheckState.FAILED else 200,
                       check=row, running=False, message=message)  # fmt: skip
