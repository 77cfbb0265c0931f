"""Loading a filled quality-metadata file (YAML or JSON) into the model, tolerantly.

A CSO's file is loaded even when parts of it are wrong: every value pydantic rejects becomes a
``metadata-invalid-value`` finding (with the YAML line, the bad value and the allowed values),
the bad value is dropped, and the rest is validated again, so that the other checks still run
on everything that is right.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cgd_bridge import safeyaml
from cgd_bridge.errors import TemplateError, what_is_not_a_file
from cgd_bridge.findings import Finding, InputInfo, Severity, register
from cgd_bridge.i18n import N_, msg, nmsg, num
from cgd_bridge.ingest.table import file_digest
from cgd_bridge.metadata.model import QualityMetadata

INVALID_VALUE = register(
    "metadata-invalid-value",
    Severity.ERROR,
    "metadata",
    "Invalid metadata value",
    """A metadata field has a value of the wrong kind (text where a date is expected, a word
    that is not in the field's list of allowed values, a number out of range). The message
    quotes the value and names what is allowed.""",
)
UNKNOWN_FIELD = register(
    "metadata-unknown-field",
    Severity.WARNING,
    "metadata",
    "Unknown metadata field",
    """The metadata file has a field the cgd-quality/1.0 template does not define. It is kept,
    but it is usually a typo of a real field (the message suggests the closest one), and a
    misspelt required field counts as missing.""",
)


@dataclass
class LoadedMetadata:
    """A metadata file as loaded: the model, the raw mapping, and what was wrong with it."""

    path: Path
    model: QualityMetadata
    raw: dict[str, Any]
    info: InputInfo
    findings: list[Finding] = field(default_factory=list)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    @property
    def file(self) -> str:
        """The file name shown in messages."""
        return self.path.name

    def finding(
        self,
        code: str,
        path: str,
        problem: str | dict[str, Any],
        fix: str | dict[str, Any],
        params: dict[str, Any] | None = None,
        translate: tuple[str, ...] = (),
        **kw: Any,
    ) -> Finding:
        """A finding about the field at dotted ``path``, with its line and the code's severity;
        with ``params``, ``problem`` and ``fix`` are message templates (see
        :meth:`cgd_bridge.findings.Finding.of`)."""
        from cgd_bridge.findings import CHECKS

        severity = kw.pop("severity", CHECKS[code].severity)
        line = self.line_of(tuple(path.split(".")))
        where: dict[str, Any] = {"target": "metadata", "file": self.file, "field": path, "line": line}
        if params is not None or not isinstance(problem, str) or not isinstance(fix, str):
            return Finding.of(code, severity, problem, fix, params or {}, translate, **where, **kw)
        return Finding(code=code, severity=severity, problem=problem, fix=fix, **where, **kw)

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """The line of a dotted path (or of its closest parent) in the source file."""
        key = tuple(str(p) for p in path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


def read_metadata_file(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int], str]:
    """Parse a YAML or JSON metadata file into a dict (and the line of each key)."""
    if not path.is_file():
        what = what_is_not_a_file(path)
        if what == N_("the file does not exist"):
            what = N_("the metadata file does not exist")
        raise TemplateError(
            what,
            fix=N_("Give the filled quality-metadata file (start from metadata_templates/cgd-quality.yaml)."),
            file=str(path),
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            N_("the metadata file is not UTF-8 text"),
            fix=N_("Save it as UTF-8 text (YAML or JSON), not as a Word or Excel file."),
            file=path.name,
        ) from exc
    fmt = "json" if path.suffix.lower() == ".json" else "yaml"
    lines: dict[tuple[str, ...], int] = {}
    try:
        if fmt == "json":
            data = safeyaml.load_json(text)
        else:
            data, lines = safeyaml.load_with_lines(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(
            N_("the JSON cannot be read: {reason} (line {line}, column {column})"),
            fix=N_("Correct the JSON syntax at that place."),
            file=path.name,
            params={"reason": exc.msg, "line": num(exc.lineno), "column": num(exc.colno)},
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            msg(N_(" (line {line}, column {column})"), line=num(mark.line + 1), column=num(mark.column + 1))
            if mark
            else ""
        )
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        if isinstance(exc, safeyaml.YamlLimitError):
            raise TemplateError(
                N_("the metadata file is refused: {reason}{where}"),
                fix=N_("Write the metadata out plainly, one value per field, as the template does."),
                file=path.name,
                params={"reason": problem, "where": where},
            ) from exc
        raise TemplateError(
            N_("the YAML cannot be read: {reason}{where}"),
            fix=N_(
                "Check the indentation (spaces, not tabs) and that every 'key: value' has a space "
                "after the colon; quote values that contain ': ' or start with a special character."
            ),
            file=path.name,
            params={"reason": problem, "where": where},
        ) from exc
    if not isinstance(data, dict):
        raise TemplateError(
            N_("the metadata file does not hold a set of 'field: value' lines"),
            fix=N_("Start from metadata_templates/cgd-quality.yaml and fill it in."),
            file=path.name,
        )
    return data, lines, fmt


def load_metadata(path: str | Path) -> LoadedMetadata:
    """Load a quality-metadata file; wrong values become findings, never exceptions."""
    p = Path(path)
    raw, lines, fmt = read_metadata_file(p)
    digest, size = file_digest(p)
    info = InputInfo(file=p.name, kind="metadata", format=fmt, sha256=digest, bytes=size)
    loaded = LoadedMetadata(path=p, model=QualityMetadata(), raw=raw, info=info, lines=lines)
    data: Any = _plain(raw)
    for _ in range(50):  # each round drops the values pydantic rejected
        try:
            loaded.model = QualityMetadata.model_validate(data)
            break
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"])
                loaded.findings.append(_invalid_value_finding(loaded, loc, err))
                data = _drop(data, loc)
    loaded.findings.extend(_unknown_fields(loaded, loaded.model, ()))
    return loaded


def _plain(value: Any) -> Any:
    # a deep, string-keyed copy that _drop may edit without touching ``raw``
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _drop(data: Any, loc: tuple[Any, ...]) -> Any:
    """Remove the value at ``loc`` (stop at the deepest existing container)."""
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and str(part) in cur:
            if last:
                del cur[str(part)]
                return data
            cur = cur[str(part)]
        elif isinstance(cur, list) and isinstance(part, int) and part < len(cur):
            if last:
                cur.pop(part)
                return data
            cur = cur[part]
        else:
            # pydantic adds union-branch names to loc; drop the value one level up
            return _drop(data, loc[:i]) if i else {}
    return data


def _invalid_value_finding(loaded: LoadedMetadata, loc: tuple[Any, ...], err: ErrorDetails) -> Finding:
    path = tuple(str(p) for p in loc if not str(p).startswith(("str", "dict[", "function-")))
    dotted = ".".join(path)
    value = err.get("input")
    shown = value if not isinstance(value, dict | list) else type(value).__name__
    said = err.get("msg", "invalid value")
    ctx = err.get("ctx") or {}
    fix, params = N_("Correct the value."), {}
    if "expected" in ctx:
        fix, params = (
            N_("Use one of: {allowed}."),
            {"allowed": _ctx_value(ctx["expected"]).replace(chr(39), "")},
        )
    elif err.get("type") == "string_pattern_mismatch":
        fix = _pattern_fix(path)
    elif "date" in err.get("type", ""):
        fix = N_("Write the date as YYYY-MM-DD (e.g. 2024-03-31).")
    elif err.get("type", "").startswith("bool"):
        fix = N_("Write true or false.")
    elif err.get("type", "").startswith(("int", "float")):
        fix = N_("Write a number.")
    elif err.get("type") == "literal_error":
        fix, params = N_("Use one of: {allowed}."), {"allowed": ctx.get("expected", "")}
    elif err.get("type") in ("list_type", "model_type", "dict_type"):
        fix = N_("See metadata_templates/cgd-quality.yaml for this field's shape.")
    return Finding.of(
        INVALID_VALUE,
        Severity.ERROR,
        N_("{value} is not valid here: {reason}"),
        fix,
        {
            "value": repr(shown),
            "reason": pydantic_reason(err.get("type", ""), said, ctx, allowed=False),
            **params,
        },
        target="metadata",
        file=loaded.file,
        field=dotted,
        value=None if isinstance(value, dict | list) else str(value),
        line=loaded.line_of(path),
    )


#: pydantic's error types in our own words (composed messages, so each reads in the page's
#: language), each with the values of the error's ``ctx`` it names: every type pydantic 2 can
#: raise for the field types of our models and requests (texts, numbers, dates and times,
#: enums and literals, lists, dicts, booleans, unions, unknown and missing fields) and for the
#: web addresses and UUIDs a request may carry. A type not listed keeps pydantic's English.
_SHAPE = N_("it has the wrong shape for this field")
_NOT_A_DATE = N_("it is not a date")
_NOT_A_MOMENT = N_("it is not a date and time")
_NOT_ALLOWED = N_("it is not one of the values this field allows")
_NOT_A_URL = N_("it is not a web address")
_NOT_A_UUID = N_("it is not a UUID")
_REASONS: dict[str, str] = {
    "missing": N_("it is missing"),
    "extra_forbidden": N_("it is not a field this takes"),
    "json_invalid": N_("it is not valid JSON"),
    "json_type": N_("it is not JSON text"),
    "none_required": N_("it must be empty (null)"),
    "string_type": N_("it is not a text"),
    "string_unicode": N_("it is not valid Unicode text"),
    "string_not_ascii": N_("it must hold only ASCII characters"),
    "string_pattern_mismatch": N_("it does not have the form this field needs"),
    "int_type": N_("it is not a whole number"),
    "int_parsing": N_("it is not a whole number"),
    "int_from_float": N_("it is not a whole number"),
    "int_parsing_size": N_("it is too large a number"),
    "float_type": N_("it is not a number"),
    "float_parsing": N_("it is not a number"),
    "finite_number": N_("it is not a finite number"),
    "greater_than": N_("it must be greater than {gt}"),
    "greater_than_equal": N_("it must be {ge} or more"),
    "less_than": N_("it must be less than {lt}"),
    "less_than_equal": N_("it must be {le} or less"),
    "multiple_of": N_("it must be a multiple of {multiple_of}"),
    "bool_type": N_("it is not true or false"),
    "bool_parsing": N_("it is not true or false"),
    "date_type": _NOT_A_DATE,
    "date_parsing": _NOT_A_DATE,
    "date_from_datetime_parsing": _NOT_A_DATE,
    "date_from_datetime_inexact": N_("it has a time of day: give the date alone"),
    "date_past": N_("it must be a date in the past"),
    "date_future": N_("it must be a date in the future"),
    "time_type": N_("it is not a time of day"),
    "time_parsing": N_("it is not a time of day"),
    "datetime_type": _NOT_A_MOMENT,
    "datetime_parsing": _NOT_A_MOMENT,
    "datetime_from_date_parsing": _NOT_A_MOMENT,
    "datetime_object_invalid": _NOT_A_MOMENT,
    "datetime_past": N_("it must be a moment in the past"),
    "datetime_future": N_("it must be a moment in the future"),
    "timezone_naive": N_("it must not give a time zone"),
    "timezone_aware": N_("it must give its time zone, e.g. 2025-01-31T09:00Z"),
    "enum": _NOT_ALLOWED,
    "literal_error": _NOT_ALLOWED,
    "list_type": _SHAPE,
    "tuple_type": _SHAPE,
    "set_type": _SHAPE,
    "frozen_set_type": _SHAPE,
    "dict_type": _SHAPE,
    "mapping_type": _SHAPE,
    "model_type": _SHAPE,
    "model_attributes_type": _SHAPE,
    "dataclass_type": _SHAPE,
    "iterable_type": _SHAPE,
    "set_item_not_hashable": N_("it holds an item that cannot be one of a set"),
    "union_tag_invalid": N_("its {discriminator} is '{tag}', which is not one of {expected_tags}"),
    "union_tag_not_found": N_("it lacks {discriminator}, which says what kind of entry it is"),
    "url_type": _NOT_A_URL,
    "url_parsing": _NOT_A_URL,
    "url_syntax_violation": _NOT_A_URL,
    "url_scheme": N_("its address must begin with {expected_schemes}"),
    "uuid_type": _NOT_A_UUID,
    "uuid_parsing": _NOT_A_UUID,
    "uuid_version": N_("it is not a UUID of version {expected_version}"),
}
#: the types whose limit is a count (the ``ctx`` key), written with the language's plural forms
_COUNTED: dict[str, tuple[str, Callable[[int], Any]]] = {
    "string_too_short": (
        "min_length",
        lambda n: nmsg("it must have at least {n} character", "it must have at least {n} characters", n),
    ),
    "string_too_long": (
        "max_length",
        lambda n: nmsg("it must have at most {n} character", "it must have at most {n} characters", n),
    ),
    "url_too_long": (
        "max_length",
        lambda n: nmsg("it must have at most {n} character", "it must have at most {n} characters", n),
    ),
    "too_short": (
        "min_length",
        lambda n: nmsg("it must have at least {n} item", "it must have at least {n} items", n),
    ),
    "too_long": (
        "max_length",
        lambda n: nmsg("it must have at most {n} item", "it must have at most {n} items", n),
    ),
}
#: the types that list the values allowed (pydantic's ``expected``) or the form (``pattern``)
_ALLOWING = {"enum", "literal_error", "string_pattern_mismatch"}


def pydantic_reason(
    kind: str, english: str, ctx: Mapping[str, Any] | None = None, *, allowed: bool = True
) -> Any:
    """Why a value is not valid: a composed message of ours, with the limits the error's ``ctx``
    gives (a bound, a length, a discriminator), for every type of :data:`_REASONS` and
    :data:`_COUNTED`; else pydantic's English sentence as it is. ``allowed``: a value outside an
    enum or a literal, or a text of the wrong form, also names what is allowed (pydantic's list
    or pattern), unless the caller's fix does."""
    ctx = ctx or {}
    if kind in _COUNTED:
        key, counted = _COUNTED[kind]
        limit = ctx.get(key)
        if isinstance(limit, int):
            return counted(limit)
    words = _REASONS.get(kind)
    if words is None:
        return english[:1].lower() + english[1:]
    reason = msg(words, **{k: _ctx_value(v) for k, v in ctx.items() if "{" + k + "}" in words})
    expected = ctx.get("expected") or ctx.get("pattern")
    if allowed and expected and kind in _ALLOWING:
        return msg(N_("{reason} (allowed: {allowed})"), reason=reason, allowed=_ctx_value(expected))
    return reason


#: the English "or" pydantic puts before the last of the values it lists (``'a', 'b' or 'c'``)
_LAST_OR = re.compile(r"(?<=')\s+or\s+(?=')")


def _ctx_value(value: Any) -> Any:
    """A value of an error's ``ctx`` as a message shows it: a number in the locale's way, a list
    of quoted values with commas only (pydantic's English "or" would stay English)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return num(value)
    return _LAST_OR.sub(", ", value if isinstance(value, str) else str(value))


def _pattern_fix(path: tuple[str, ...]) -> str:
    fixes = {
        "id": N_("Use lower-case letters, digits, - and _ only, 3 to 64 characters (e.g. ke-health-2024)."),
        "version": N_("Write the version as MAJOR.MINOR.PATCH, e.g. 1.0.0."),
        "contact_email": N_("Write a full e-mail address, e.g. data@example.org."),
        "profile": N_("Write profile: cgd-quality/1.0"),
    }
    return fixes.get(path[-1] if path else "", N_("Correct the value's format."))


def _unknown_fields(loaded: LoadedMetadata, model: BaseModel, path: tuple[str, ...]) -> list[Finding]:
    out: list[Finding] = []
    known = list(type(model).model_fields)
    for key in model.model_extra or {}:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        out.append(
            Finding.of(
                UNKNOWN_FIELD,
                Severity.WARNING,
                N_("'{key}' is not a field of the cgd-quality/1.0 template"),
                N_("Check the spelling against metadata_templates/cgd-quality.yaml. Did you mean '{close}'?")
                if close
                else N_("Check the spelling against metadata_templates/cgd-quality.yaml."),
                {"key": key, "close": close[0] if close else ""},
                target="metadata",
                file=loaded.file,
                field=".".join((*path, key)),
                line=loaded.line_of((*path, key)),
            )
        )
    for name in known:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out.extend(_unknown_fields(loaded, value, (*path, name)))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out.extend(_unknown_fields(loaded, item, (*path, name, str(i))))
    return out
