"""The quality metadata as a web form, generated from the ``cgd-quality/1.0`` model.

:func:`form_fields` walks :class:`~cgd_bridge.metadata.model.QualityMetadata` (the same model
the template and the checks come from) and returns one :class:`Widget` per field, each with its
help text, the stage it is required at and its allowed values, filled from a record. Inputs are
named by the field's dotted path (``dataset.id``, ``population.groups.1.code``);
:func:`record_from_form` turns the posted form back into the nested record, which is written
as YAML and checked by :func:`cgd_bridge.metadata.load.load_metadata` and the metadata checks;
a CSO keeps it as a draft on the server (:mod:`cgd_bridge.store.drafts`) or as the YAML file.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cgd_bridge.i18n import N_
from cgd_bridge.metadata.model import QualityMetadata
from cgd_bridge.metadata.template import _list_item, _section, _unwrap, allowed_values

STAGE = {
    "submission": N_("required at submission"),
    "release": N_("required before release"),
    "optional": N_("optional"),
}
LONG = re.compile(r"(description|limitations|note|statement|method|rights_holder|target)$")
EXTRA_ROWS = 1  # blank entries offered for lists of sections


@dataclass
class Widget:
    """One input (or a group of them) of the form.

    Attributes:
        path: the dotted path, e.g. ``dataset.id`` or ``population.groups.0.code`` (list
            entries from 0, as the checks name them); ``name`` of the input.
        kind: ``section``, ``text``, ``textarea``, ``select``, ``checkboxes``, ``lines``,
            ``number``, ``date``, ``yesno`` or ``languages`` (a text per language).
        value: the current value, as the input shows it.
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

    @property
    def id(self) -> str:
        return widget_id(self.path)


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
        label=_label(name),
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
                    label=f"{_label(name)} {i}",
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
    return w


def _yes_no(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _widgets(model: type[BaseModel], record: Mapping[str, Any], prefix: str, depth: int) -> list[Widget]:
    return [_widget(n, info, record.get(n), prefix, depth) for n, info in model.model_fields.items()]


def texts() -> set[str]:
    """The labels and help texts of the form (message ids of the catalogues, like ``_("...")``)."""
    found: set[str] = set()
    stack = form_fields()
    while stack:
        w = stack.pop()
        found.update(t for t in (w.label, w.help) if t)
        stack.extend(w.children)
    return found


def form_fields(record: Mapping[str, Any] | None = None) -> list[Widget]:
    """The widgets of the whole record (top-level fields first, in the model's order)."""
    return _widgets(QualityMetadata, record or {}, "", 0)


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
    return {"profile": record.pop("profile", "cgd-quality/1.0"), **record}


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
