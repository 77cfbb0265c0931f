"""The quality metadata as a web form, generated from the ``cgd-quality/1.0`` model.

:func:`build` walks :class:`~cgd_bridge.metadata.model.QualityMetadata` (the same model the
template and the checks come from) into one :class:`Widget` per field, each with its human label
(the field's ``title`` in the model: one place for the form, the review page, the spreadsheet
and the template's comments), help text, the stage it is required at, whether it is needed now
(to submit) or before release, its allowed values with their labels, and its value from a
record. The fields are grouped in :data:`STEPS` (the dataset; who collected it and how; ...),
each with its :class:`Progress` (fields filled of those needed now and before release); the
constant ``profile`` is filled in, never asked. :func:`form_errors` turns the metadata checks'
findings into errors in plain words at their fields (the label, never the YAML path).

Inputs are named by the field's dotted path (``dataset.id``, ``population.groups.1.code``);
:func:`record_from_form` turns the posted form back into the nested record, which is written as
YAML and checked by :func:`cgd_bridge.metadata.load.load_metadata` and the metadata checks; a
CSO keeps it as a draft on the server (:mod:`cgd_bridge.store.drafts`) or as the YAML file.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cgd_bridge.findings import Finding, Severity
from cgd_bridge.i18n import ENGLISH, N_, Translator
from cgd_bridge.metadata.model import CHOICE_LABELS, LICENCES, PROFILE, QualityMetadata
from cgd_bridge.metadata.template import _list_item, _section, _unwrap, allowed_values

STAGE = {
    "submission": N_("required at submission"),
    "release": N_("required before release"),
    "optional": N_("optional"),
}
#: the short marks beside each field and step: what is needed now (to submit) and what later
NEED = {
    "submission": N_("Needed to submit"),
    "release": N_("Needed before release"),
    "optional": N_("Optional"),
}
LONG = re.compile(r"(description|limitations|note|statement|method|rights_holder|target|harm_mitigation)$")
EXTRA_ROWS = 1  # blank entries offered for lists of sections
#: fields whose value is fixed by the template: filled in, never asked
CONSTANTS: dict[str, str] = {"profile": PROFILE}
#: text fields with a list of usual values (the value may still be another)
SUGGESTED: dict[str, tuple[str, ...]] = {"licence.id": LICENCES}


@dataclass(frozen=True)
class Step:
    """A step of the form: a few top-level fields of the record that belong together."""

    key: str
    title: str
    intro: str
    fields: tuple[str, ...]


STEPS: tuple[Step, ...] = (
    Step(
        "dataset",
        N_("The dataset"),
        N_("What the data is, why it was collected and which SDGs it speaks to."),
        ("dataset", "purpose"),
    ),
    Step(
        "collection",
        N_("Who collected it and how"),
        N_(
            "The organisation, who owns the data, how citizens took part, the method, the sample "
            "and what was done to the data afterwards."
        ),
        ("producer", "ownership", "participation", "method", "sampling", "processing"),
    ),
    Step(
        "coverage",
        N_("The population and coverage"),
        N_("Whom the data describes, where and when."),
        ("population", "identification", "self_identification", "geography", "period"),
    ),
    Step(
        "privacy",
        N_("Privacy and consent"),
        N_("How respondents agreed, how they were protected, and the ethics review."),
        ("consent", "privacy", "ethics"),
    ),
    Step(
        "quality",
        N_("Quality"),
        N_("What the data cannot tell, how it compares with official statistics, and the self-assessment."),
        ("limitations", "comparability", "quality"),
    ),
    Step(
        "release",
        N_("Release and licence"),
        N_(
            "When the data is published, under which licence and conditions, and what changed "
            "since the last version."
        ),
        ("release", "licence", "use_conditions", "retention_until", "revision"),
    ),
)
STEP_KEYS = tuple(s.key for s in STEPS)


@dataclass
class Widget:
    """One input (or a group of them) of the form.

    Attributes:
        path: the dotted path, e.g. ``dataset.id`` or ``population.groups.0.code`` (list
            entries from 0, as the checks name them); ``name`` of the input.
        label: the human label (an English message id), from the model's ``title``.
        kind: ``section``, ``entries``, ``text``, ``textarea``, ``select``, ``checkboxes``,
            ``lines``, ``number``, ``date``, ``yesno`` or ``languages`` (a text per language).
        stage: when the field is required by itself (``submission``, ``release``, ``optional``).
        needed_now, needed_release: whether the record needs it to be submitted, and before
            release, given its sections (a field of an optional section is needed only once the
            section is filled in, as the completeness check has it).
        value: the current value, as the input shows it.
        defaulted: where the value was filled in from for the person (a key of
            :data:`DEFAULT_NOTES`: their organisation, its MoU), not typed; "" when typed.
        children: the widgets of a section (or of each entry of a list of sections).
    """

    path: str
    label: str
    kind: str
    help: str = ""
    stage: str = "optional"
    choices: list[str] = field(default_factory=list)
    value: Any = None
    children: list[Widget] = field(default_factory=list)
    depth: int = 0
    needed_now: bool = False
    needed_release: bool = False
    defaulted: str = ""
    suggested: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return widget_id(self.path)

    @property
    def need(self) -> str:
        """The mark shown beside the field: needed to submit, before release, or optional."""
        if self.needed_now:
            return NEED["submission"]
        if self.needed_release:
            return NEED["release"]
        return NEED[self.stage] if self.stage == "submission" else NEED["optional"]

    @property
    def filled(self) -> bool:
        if self.kind == "section":
            return any(c.filled for c in self.children)
        if self.kind == "entries":
            return any(any(g.filled for g in c.children) for c in self.children)
        if isinstance(self.value, Mapping):
            return any(str(v).strip() for v in self.value.values())
        if isinstance(self.value, list):
            return bool(self.value)
        return self.value is not None and str(self.value).strip() != ""

    def choice_label(self, value: str) -> str:
        """What a person reads for one of the allowed values (an English message id)."""
        return CHOICE_LABELS.get(value, value)

    def leaves(self) -> Iterator[Widget]:
        """The fields a person fills in: itself, or those of its sections. A list of sections is
        one field (filled when one entry is), and each entry filled in adds its own fields (a
        filled-in entry must be complete)."""
        if self.kind == "section":
            for c in self.children:
                yield from c.leaves()
            return
        yield self
        if self.kind == "entries":
            for entry in self.children:
                if entry.filled:
                    yield from entry.leaves()


def widget_id(path: str) -> str:
    """The HTML id of the input for a dotted path."""
    return "md-" + path.replace(".", "-").replace("_", "-")


def paths(widgets: Iterable[Widget]) -> Iterable[str]:
    """Every path of ``widgets`` and their children."""
    for w in widgets:
        yield w.path
        yield from paths(w.children)


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def label_of(info: FieldInfo, name: str) -> str:
    """A field's human label: its ``title`` in the model (every field has one; a test holds it)."""
    return info.title or _label(name)


def _extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def _is_text(annotation: Any) -> bool:
    """``Text`` (a string, or one per language)."""
    target = _unwrap(annotation)
    args = typing.get_args(target)
    return str in args and any(typing.get_origin(a) is dict for a in args)


def _widget(name: str, info: FieldInfo, value: Any, prefix: str, depth: int) -> Widget:
    path = f"{prefix}{name}"
    extra = _extra(info)
    w = Widget(
        path=path,
        label=label_of(info, name),
        kind="text",
        help=str(extra.get("help") or info.description or ""),
        stage=str(extra.get("required_at", "optional")),
        depth=depth,
    )
    annotation = info.annotation
    section = _section(annotation)
    item = _list_item(annotation)
    values = allowed_values(annotation)
    target = _unwrap(annotation)
    if section is not None:
        w.kind = "section"
        w.children = _widgets(section, value if isinstance(value, Mapping) else {}, f"{path}.", depth + 1)
    elif item is not None and _section(item) is not None:
        w.kind = "entries"
        entries = [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
        model = _section(item)
        assert model is not None
        for i, entry in enumerate([*entries, *([{}] * EXTRA_ROWS)], 1):
            w.children.append(
                Widget(
                    path=f"{path}.{i - 1}",
                    label=w.label,
                    kind="section",
                    depth=depth + 1,
                    children=_widgets(model, entry, f"{path}.{i - 1}.", depth + 2),
                )
            )
    elif item is not None and values:
        w.kind, w.choices = "checkboxes", values
        w.value = [str(v) for v in value] if isinstance(value, list) else []
    elif item is not None:
        w.kind = "lines"
        w.value = "\n".join(str(v) for v in value) if isinstance(value, list) else (value or "")
    elif values:
        w.kind, w.choices = "select", values
        w.value = "" if value is None else _yes_no(value)
    elif target is bool:
        w.kind, w.choices = "yesno", ["yes", "no"]
        w.value = "" if value is None else _yes_no(value)
    elif target in (int, float):
        w.kind, w.value = "number", "" if value is None else str(value)
    elif target is dt.date:
        w.kind, w.value = "date", "" if value is None else str(value)[:10]
    elif _is_text(annotation) and isinstance(value, Mapping) and value:
        w.kind = "languages"
        w.value = {str(k): str(v) for k, v in value.items()}
    else:
        w.kind = "textarea" if LONG.search(name) else "text"
        w.value = "" if value is None else str(value)
        w.suggested = list(SUGGESTED.get(path, ()))
    return w


def _yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _widgets(model: type[BaseModel], record: Mapping[str, Any], prefix: str, depth: int) -> list[Widget]:
    return [_widget(n, info, record.get(n), prefix, depth) for n, info in model.model_fields.items()]


def _mark_needs(widgets: Iterable[Widget], now: bool, release: bool) -> None:
    """Set ``needed_now``/``needed_release`` as the completeness check decides: a field is needed
    at a stage when it is required by then and so is each of its sections, or the section is
    filled in (a filled-in section must be complete)."""
    for w in widgets:
        w.needed_now = now and w.stage == "submission"
        w.needed_release = release and w.stage in ("submission", "release")
        if w.kind == "section":
            _mark_needs(
                w.children, now and (w.needed_now or w.filled), release and (w.needed_release or w.filled)
            )
        elif w.kind == "entries":
            for entry in w.children:
                filled = entry.filled
                entry.needed_now, entry.needed_release = w.needed_now and filled, w.needed_release and filled
                _mark_needs(entry.children, filled, filled)


def texts() -> set[str]:
    """The labels, help texts and choice labels of the form (message ids of the catalogues, like
    ``_("...")``)."""
    found: set[str] = set()
    stack = form_fields()
    while stack:
        w = stack.pop()
        found.update(t for t in (w.label, w.help) if t)
        found.update(w.choice_label(c) for c in (*w.choices, *w.suggested))
        stack.extend(w.children)
    return found


def form_fields(record: Mapping[str, Any] | None = None) -> list[Widget]:
    """The widgets of the whole record (top-level fields first, in the model's order), with what
    each needs marked."""
    widgets = _widgets(QualityMetadata, record or {}, "", 0)
    _mark_needs(widgets, True, True)
    return widgets


# ---------------------------------------------------------------- steps and progress


@dataclass
class Progress:
    """Fields filled of those the record needs now (to submit) and before release."""

    done_now: int = 0
    needed_now: int = 0
    done_release: int = 0
    needed_release: int = 0

    def add(self, other: Progress) -> None:
        self.done_now += other.done_now
        self.needed_now += other.needed_now
        self.done_release += other.done_release
        self.needed_release += other.needed_release

    @property
    def complete_now(self) -> bool:
        return self.done_now == self.needed_now

    @property
    def complete_release(self) -> bool:
        return self.done_release == self.needed_release

    @classmethod
    def of(cls, widgets: Iterable[Widget]) -> Progress:
        p = cls()
        for w in widgets:
            for leaf in w.leaves():
                p.needed_now += leaf.needed_now
                p.done_now += leaf.needed_now and leaf.filled
                p.needed_release += leaf.needed_release
                p.done_release += leaf.needed_release and leaf.filled
        return p


@dataclass
class StepView:
    """One step of the form as a page shows it."""

    step: Step
    number: int
    widgets: list[Widget]
    progress: Progress
    is_open: bool = False
    errors: int = 0

    @property
    def id(self) -> str:
        return f"step-{self.step.key}"


@dataclass
class Form:
    """The whole form: its steps, the progress of the record, and what was filled in for the person."""

    steps: list[StepView]
    progress: Progress
    widgets: list[Widget]

    def step_of(self, path: str) -> StepView:
        top = path.split(".", 1)[0]
        return next((s for s in self.steps if top in s.step.fields), self.steps[0])

    def widget(self, path: str) -> Widget | None:
        stack = list(self.widgets)
        while stack:
            w = stack.pop()
            if w.path == path:
                return w
            stack.extend(w.children)
        return None


def _merge(defaults: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(record)
    for key, value in defaults.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping | None):
            out[key] = _merge(value, out.get(key) or {})
        elif out.get(key) in (None, "", [], {}):
            out[key] = value
    return out


#: what a field filled in for the person says, by where its value came from
DEFAULT_NOTES = {
    "organisation": N_("Filled in from your organisation's account: change it if it is not right."),
    "mou": N_("Filled in from your organisation's MoU with the NSO: change it if it is not right."),
}


def _flag_defaults(
    widgets: Iterable[Widget], defaults: Mapping[str, Any], record: Mapping[str, Any], source: str
) -> None:
    for w in widgets:
        name = w.path.rsplit(".", 1)[-1]
        given, default = record.get(name), defaults.get(name)
        if w.kind == "section" and isinstance(default, Mapping):
            _flag_defaults(w.children, default, given if isinstance(given, Mapping) else {}, source)
        elif default is not None and given in (None, "", [], {}) and not w.defaulted:
            w.defaulted = source


def build(
    record: Mapping[str, Any] | None = None, *, defaults: Mapping[str, Mapping[str, Any]] | None = None
) -> Form:
    """The form of a record, in its steps. ``defaults`` are partial records by where they come
    from (a key of :data:`DEFAULT_NOTES`), the first one first: they fill the fields the record
    leaves empty, each marked as filled in for the person. The constants are set, never shown."""
    given = {k: v for k, v in (record or {}).items() if k not in CONSTANTS}
    shown = dict(given)
    for partial in (defaults or {}).values():
        shown = _merge(partial, shown)
    widgets = [w for w in form_fields(shown) if w.path not in CONSTANTS]
    for source, partial in (defaults or {}).items():
        _flag_defaults(widgets, partial, given, source)
    steps = []
    for number, step in enumerate(STEPS, 1):
        mine = [w for name in step.fields for w in widgets if w.path == name]
        steps.append(StepView(step, number, mine, Progress.of(mine)))
    total = Progress()
    for s in steps:
        total.add(s.progress)
    return Form(steps, total, widgets)


def missing_now(form: Form) -> list[Widget]:
    """The fields needed to submit that are still empty, in the form's order."""
    return [
        leaf
        for s in form.steps
        for w in s.widgets
        for leaf in w.leaves()
        if leaf.needed_now and not leaf.filled
    ]


# ---------------------------------------------------------------- errors in plain words


@dataclass
class FieldError:
    """A problem with one field, in the person's language and in plain words: the field's label,
    never its YAML path (kept in ``path`` for the page's ``data-path``)."""

    path: str
    id: str
    label: str
    step: StepView
    text: str


def humanise(text: str, names: Mapping[str, str]) -> str:
    """``text`` with the dotted paths and field keys it names (``purpose.sdg_targets``,
    ``'limitations'``) replaced by the fields' labels in quotes."""
    if not text or not names:
        return text
    keys = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])('?)(" + "|".join(re.escape(k) for k in keys) + r")\1(?![\w])")

    def swap(m: re.Match[str]) -> str:
        key = m.group(2)
        if not m.group(1) and "." not in key and "_" not in key:
            return m.group(0)  # a plain word (limitations) is only a key when quoted
        return f"\u201c{names[key]}\u201d"

    return pattern.sub(swap, text)


def _names(form: Form, t: Translator) -> dict[str, str]:
    out: dict[str, str] = {}
    stack = list(form.widgets)
    while stack:
        w = stack.pop()
        if not w.path.rsplit(".", 1)[-1].isdigit():
            label = t.gettext(w.label)
            out[w.path] = label
            out.setdefault(w.path.rsplit(".", 1)[-1], label)
        stack.extend(w.children)
    return out


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


def _in_words(problem: str, fix: str, names: Mapping[str, str], t: Translator) -> str:
    """A finding's problem as a sentence of the language (its own full stop), then the fix."""
    return " ".join(p for p in (t.sentence(_sentence(humanise(problem, names))), humanise(fix, names)) if p)


def form_errors(findings: Sequence[Finding], form: Form, t: Translator = ENGLISH) -> list[FieldError]:
    """The errors of the metadata checks at their fields (one per field, the first), in plain
    words in the language of ``t``: an empty field needed now is named by its label with what it
    is needed for; a value of the wrong form by the fix; any other problem with the fields it
    names turned into their labels. A whole empty section is the empty fields it needs."""
    names = _names(form, t)
    known = set(paths(form.widgets))
    out: dict[str, FieldError] = {}

    def add(w: Widget, text: str) -> None:
        if w.path not in out:
            out[w.path] = FieldError(w.path, w.id, t.gettext(w.label), form.step_of(w.path), text)

    for f in findings:
        if f.severity != Severity.ERROR or not f.field:
            continue
        target = f.field
        while target and target not in known:
            target = target.rpartition(".")[0]
        w = form.widget(target) if target else None
        if w is None:
            continue
        problem, fix = f.texts(t)
        if f.code == "metadata-missing-field":
            empty = [leaf for leaf in w.leaves() if leaf.needed_now and not leaf.filled] or [w]
            for leaf in empty:
                add(leaf, t.gettext("This is needed to submit: fill it in."))
        elif f.code == "metadata-invalid-value":
            add(
                w,
                " ".join((t.gettext("This value is not in the form the field needs."), humanise(fix, names))),
            )
        else:
            add(w, _in_words(problem, fix, names, t))
    errors = sorted(out.values(), key=lambda e: (e.step.number, _order(form, e.path)))
    for e in errors:
        e.step.errors += 1
    return errors


def unplaced_errors(findings: Sequence[Finding], form: Form, t: Translator = ENGLISH) -> list[str]:
    """The errors of the checks that belong to no field of the form (a finding about the whole
    file), in plain words: the error summary lists them, so no error is left unsaid."""
    names = _names(form, t)
    known = set(paths(form.widgets))
    out: list[str] = []
    for f in findings:
        if f.severity != Severity.ERROR:
            continue
        target = f.field or ""
        while target and target not in known:
            target = target.rpartition(".")[0]
        if not target:
            problem, fix = f.texts(t)
            text = _in_words(problem, fix, names, t)
            if text not in out:
                out.append(text)
    return out


def _order(form: Form, path: str) -> int:
    return next((i for i, p in enumerate(paths(form.widgets)) if p == path), 0)


# ---------------------------------------------------------------- back from the form


def _convert(kind: str, values: list[str]) -> Any:
    text = values[-1].strip() if values else ""
    if kind == "checkboxes":
        return [v for v in values if v] or None
    if kind == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()] or None
    if not text:
        return None
    if kind == "yesno":
        return {"yes": True, "no": False}.get(text, text)
    if kind == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text  # the loader reports it, with the field
    return text


def _collect(widgets: Iterable[Widget], form: Mapping[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w in widgets:
        name = w.path.rsplit(".", 1)[-1]
        if w.kind == "section":
            value: Any = _collect(w.children, form) or None
        elif w.kind == "entries":
            value = [e for e in (_collect(c.children, form) for c in w.children) if e] or None
        elif w.kind == "languages":
            langs = {
                k.rsplit(".", 1)[-1]: v[-1].strip()
                for k, v in form.items()
                if k.startswith(f"{w.path}.") and v and v[-1].strip()
            }
            value = langs or None
        else:
            value = _convert(w.kind, form.get(w.path, []))
        if value is not None:
            out[name] = value
    return out


def record_from_form(form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The nested record a posted form describes (empty inputs left out).

    The form's own keys give its shape (how many list entries, which languages), so every
    posted input is read back, and nothing else is.
    """
    shape: dict[str, Any] = {}
    for key, values in form.items():
        _put(shape, key.split("."), values[-1] if values else "")
    record = _collect(form_fields(shape), form)
    record.update(CONSTANTS)  # filled in, whatever was posted
    return {**CONSTANTS, **record}


MAX_ENTRIES = 100


def _put(node: dict[str, Any] | list[Any], parts: list[str], value: str) -> None:
    """Put ``value`` at the dotted ``parts`` of ``node`` (digits index lists, from 0)."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= MAX_ENTRIES:
            return
        while len(node) <= int(head):
            node.append({})
        child = node[int(head)]
        if rest and isinstance(child, dict):
            _put(child, rest, value)
        return
    if not rest:
        node.setdefault(head, value)
        return
    child = node.get(head)
    if child is None:
        child = node[head] = [] if rest[0].isdigit() else {}
    if isinstance(child, dict | list):
        _put(child, rest, value)


def to_yaml(record: Mapping[str, Any]) -> str:
    """The record as YAML text (keys in the model's order, UTF-8, no flow style)."""
    head = "# cgd-quality/1.0 quality metadata, saved from the cgd-bridge web form.\n"
    return head + yaml.safe_dump(dict(record), sort_keys=False, allow_unicode=True, width=100)


def babel_extract(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor: the metadata form's labels and help texts, which the form generates from
    the ``cgd-quality/1.0`` model (``babel.cfg`` maps ``cgd_bridge/metadata/model.py`` to it).
    It lives here, in the server layer that owns the form, so the core never imports the server."""
    for text in sorted(texts()):
        yield 0, "_", text, ["metadata form"]
