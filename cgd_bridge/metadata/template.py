"""The fill-in YAML template and the JSON Schema of ``cgd-quality/1.0``, generated from the model.

Both files ship in ``metadata_templates/`` and are regenerated with :func:`write_templates`
whenever :mod:`cgd_bridge.metadata.model` changes (a unit test compares them). The YAML template
is produced by walking the pydantic classes, not copied by hand: every field appears in model
order, preceded by a comment with its label and help text, the stage at which it becomes required and,
for fields with a fixed vocabulary, the allowed values. Values are left empty, so the unfilled
template loads as YAML with null leaves (except ``profile``).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import textwrap
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from cgd_bridge.metadata.model import PROFILE, QualityMetadata, RequiredAt

TEMPLATE_FILE = "cgd-quality.yaml"
SCHEMA_FILE = "cgd-quality.schema.json"
SCHEMA_ID = "https://cgd-bridge.org/schemas/cgd-quality-1.0.schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = f"{PROFILE} quality metadata for a citizen-generated dataset"

INDENT = "  "
WIDTH = 100  # longest comment line, like the code
_NBSP = "\u00a0"  # textwrap does not break at a no-break space

_STAGE_TAGS = {
    str(RequiredAt.SUBMISSION): "[required at submission]",
    str(RequiredAt.RELEASE): "[required before release]",
    str(RequiredAt.OPTIONAL): "[optional]",
}

HEADER = f"""\
# {PROFILE}: quality metadata for one citizen-generated dataset
#
# How to fill in this template:
#   - Write each value after its colon, with one space: "organisation: Sauti ya Walemavu".
#   - The comment above each field says what it means and when it is needed:
#       [required at submission]   cgd-bridge refuses the submission without it;
#       [required before release]  the NSO cannot release the data without it;
#       [optional]                 fill it in if you can, or leave it empty.
#   - Where a comment lists the allowed values, write one of them exactly as shown.
#   - Dates are YYYY-MM-DD (2024-03-31); fields marked true/false take true or false.
#   - Lists go on one line in brackets, [design, collection], or one "- value" per line.
#     Quote codes that look like numbers: ['16.6', '3.8'].
#   - A text in several languages is written as: {{en: Title, sw: Kichwa}}.
#   - Quote any text that contains ": " or starts with #, &, *, [, {{, ' or ".
#   - For a list of sections (population.groups), repeat the "- " block once per entry.
#   - Save the file as UTF-8 text, one file per dataset submission. cgd-bridge checks it
#     and names every missing or invalid field, with its line.
#
# Generated from cgd_bridge/metadata/model.py: change the model, not this file, and regenerate.
"""


# -- annotations -------------------------------------------------------------------------------


def _strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X`` (a union of several other types stays a union)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _unwrap(annotation: Any) -> Any:
    """Remove ``None`` from unions and the metadata of ``Annotated``."""
    annotation = _strip_optional(annotation)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = _strip_optional(typing.get_args(annotation)[0])
    return annotation


def _list_item(annotation: Any) -> Any | None:
    """The item type of a ``list[...]`` annotation, or None if it is not a list."""
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        args = typing.get_args(annotation)
        return _unwrap(args[0]) if args else Any
    return None


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model class if the annotation is a nested section, else None."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def allowed_values(annotation: Any) -> list[str] | None:
    """The fixed vocabulary of an enum or Literal annotation (or of a list of them).

    Args:
        annotation: a field annotation, e.g. ``ProducerType | None`` or ``list[Stage] | None``.

    Returns:
        The allowed values in declaration order, or None for free values.
    """
    item = _list_item(annotation)
    target = item if item is not None else _unwrap(annotation)
    if isinstance(target, type) and issubclass(target, enum.Enum):
        return [str(member.value) for member in target]
    if typing.get_origin(target) is typing.Literal:
        return [str(v) for v in typing.get_args(target)]
    return None


def _with_format_hint(annotation: Any, help_text: str) -> str:
    """The help text with a hint on how to write dates and booleans, unless it already says."""
    target = _unwrap(annotation)
    hint = ""
    if target is dt.datetime and "YYYY" not in help_text:
        hint = "YYYY-MM-DDTHH:MM:SSZ"
    elif target is dt.date and "YYYY" not in help_text:
        hint = "YYYY-MM-DD"
    elif target is bool and "true" not in help_text:
        hint = "true/false"
    if not hint:
        return help_text
    if help_text.endswith("."):
        return f"{help_text[:-1]} ({hint})."
    return f"{help_text} ({hint})"


# -- rendering ---------------------------------------------------------------------------------


def _extra(info: FieldInfo) -> dict[str, Any]:
    return info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}


def _comment(text: str, indent: str) -> list[str]:
    """``text`` as comment lines wrapped to :data:`WIDTH` characters.

    Runs joined by ``_NBSP`` are kept on one line (the stage tag, e.g. ``[required at
    submission]``).
    """
    width = max(40, WIDTH - len(indent) - 2)
    wrapped = textwrap.wrap(text, width=width, break_on_hyphens=False, break_long_words=False)
    return [f"{indent}# {line.replace(_NBSP, ' ')}" for line in wrapped]


def _field_comment(info: FieldInfo, indent: str) -> list[str]:
    extra = _extra(info)
    help_text = str(extra.get("help") or info.description or "").strip()
    stage = _STAGE_TAGS.get(str(extra.get("required_at", RequiredAt.OPTIONAL)), "[optional]")
    label = f"{info.title}: " if info.title else ""
    text = f"{label}{_with_format_hint(info.annotation, help_text)} {stage.replace(' ', _NBSP)}"
    lines = _comment(text.strip(), indent)
    values = allowed_values(info.annotation)
    if values:
        word = "Any of" if _list_item(info.annotation) is not None else "One of"
        lines += _comment(f"{word}: {', '.join(values)}.", indent)
    return lines


def _render_model(model: type[BaseModel], indent: str, *, first_prefix: str | None = None) -> list[str]:
    """The lines of one section's fields at ``indent``.

    ``first_prefix`` replaces the indent of the first key (``"  - "`` for a list item), so that
    a list of sections is shown as one example entry.
    """
    lines: list[str] = []
    for i, (name, info) in enumerate(model.model_fields.items()):
        key_indent = indent
        comment_indent = indent
        if first_prefix is not None and i == 0:
            key_indent = first_prefix
            comment_indent = first_prefix[: -len("- ")]
        lines += _field_comment(info, comment_indent)
        lines += _render_value(name, info, indent, key_indent)
    return lines


def _render_value(name: str, info: FieldInfo, indent: str, key_indent: str) -> list[str]:
    section = _section(info.annotation)
    if section is not None:
        return [f"{key_indent}{name}:", *_render_model(section, indent + INDENT)]
    item = _list_item(info.annotation)
    if item is not None:
        item_section = _section(item)
        if item_section is not None:
            prefix = indent + INDENT + "- "
            body = _render_model(item_section, indent + INDENT * 2, first_prefix=prefix)
            return [f"{key_indent}{name}:", *body]
        return [f"{key_indent}{name}: []"]
    default = info.get_default(call_default_factory=True)
    if isinstance(default, str | int | float | bool):  # e.g. profile: cgd-quality/1.0
        return [f"{key_indent}{name}: {_yaml_scalar(default)}"]
    return [f"{key_indent}{name}:"]


def _yaml_scalar(value: str | int | float | bool) -> str:
    """A scalar as YAML writes it inline (quoted where YAML would misread it)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1_000_000)
    return text.removesuffix("\n...\n").strip()


def render_template() -> str:
    """The commented, fill-in YAML template of :class:`QualityMetadata`.

    Returns:
        YAML text: a header comment, then every field of the model in order with a comment
        (help text, required stage, allowed values) and an empty value; nested sections are
        indented two spaces and lists of sections show one example entry. It loads with
        ``yaml.safe_load`` into a mapping whose leaves are null, except fields with a default
        (``profile``), which show it.
    """
    lines = HEADER.splitlines()
    for name, info in QualityMetadata.model_fields.items():
        lines.append("")
        lines += _field_comment(info, "")
        lines += _render_value(name, info, "", "")
    return "\n".join(lines) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``cgd-quality/1.0`` record.

    Returns:
        ``QualityMetadata.model_json_schema()`` with ``$schema``, ``$id`` and ``title`` first.
    """
    schema = QualityMetadata.model_json_schema()
    schema.pop("title", None)
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, "title": SCHEMA_TITLE, **schema}


def write_templates(folder: Path) -> list[Path]:
    """Write the YAML template and the JSON Schema into ``folder`` (created if missing).

    Args:
        folder: where to write, normally ``metadata_templates``.

    Returns:
        The paths written: ``cgd-quality.yaml`` and ``cgd-quality.schema.json``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    template = folder / TEMPLATE_FILE
    template.write_text(render_template(), encoding="utf-8", newline="\n")
    schema = folder / SCHEMA_FILE
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    schema.write_text(text, encoding="utf-8", newline="\n")
    return [template, schema]
