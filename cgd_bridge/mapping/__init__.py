"""Declarative mappings (``mappings/*.yaml``, profile ``cgd-mapping/1.0``).

A mapping describes a CSO dataset and how it becomes SDMX. This module reads its ``schema``
section: the Table Schema (with cgd-bridge roles) that validation checks the data against.
The dimension/code/attribute sections are read by the mapping engine.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from cgd_bridge import safeyaml
from cgd_bridge.errors import MappingError, what_is_not_a_file
from cgd_bridge.findings import InputInfo
from cgd_bridge.i18n import N_, msg, nmsg, num
from cgd_bridge.ingest.schema import TableSchema, schema_from_descriptor
from cgd_bridge.ingest.table import file_digest
from cgd_bridge.mapping.model import Mapping

PROFILE = "cgd-mapping/1.0"


@lru_cache(maxsize=4)
def _parsed(text: str) -> Any:
    """The YAML document in ``text``, parsed once: a validate or convert reads its mapping up
    to three times (its schema, the mapping, harmonise), each parse about 0.1 s of CPU for the
    bundled Kenya mapping. Callers get a deep copy (:func:`read_mapping_file`), never the kept
    value; a document that fails to parse raises every time (nothing is kept)."""
    return safeyaml.load(text)


def read_mapping_file(path: str | Path) -> tuple[dict[str, Any], InputInfo]:
    """Parse a mapping file (YAML or JSON) into a dict, with clear errors."""
    p = Path(path)
    if not p.is_file():
        what = what_is_not_a_file(p)
        if what == N_("the file does not exist"):
            what = N_("the mapping file does not exist")
        raise MappingError(what, fix=N_("Check the path and the file name."), file=str(path))
    try:
        data = copy.deepcopy(_parsed(p.read_text(encoding="utf-8-sig")))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = msg(N_(" (line {line})"), line=num(mark.line + 1)) if mark else ""
        if isinstance(exc, safeyaml.YamlLimitError):
            raise MappingError(
                N_("the mapping is refused: {reason}{where}"),
                fix=N_("Write the mapping out plainly, without YAML anchors and aliases."),
                file=p.name,
                params={"reason": exc.problem, "where": where},
            ) from exc
        if isinstance(exc, UnicodeDecodeError):
            raise MappingError(
                N_("the mapping file is not UTF-8 text"),
                fix=N_("Save it as UTF-8 text (YAML), not as a Word or Excel file."),
                file=p.name,
            ) from exc
        raise MappingError(
            N_("the mapping cannot be read as YAML{where}"),
            fix=N_("Check the indentation (spaces, not tabs) and the 'key: value' syntax."),
            file=p.name,
            params={"where": where},
        ) from exc
    if not isinstance(data, dict):
        raise MappingError(
            N_("the mapping is not a set of 'key: value' entries"),
            fix=N_("Start from one of the mappings in mappings/."),
            file=p.name,
        )
    digest, size = file_digest(p)
    return data, InputInfo(file=p.name, kind="mapping", format="yaml", sha256=digest, bytes=size)


def load_mapping(path: str | Path) -> tuple[Mapping, InputInfo]:
    """Read and check a whole mapping file; a broken one is a MappingError naming the key."""
    from pydantic import ValidationError

    data, info = read_mapping_file(path)
    try:
        return Mapping.model_validate(data), info
    except ValidationError as exc:
        from cgd_bridge.metadata.load import pydantic_reason

        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        reason: Any = pydantic_reason(err["type"], err["msg"].removeprefix("Value error, "), err.get("ctx"))
        fix = N_("See docs/mapping.md for the mapping format.")
        if err["type"] == "extra_forbidden":
            reason = msg(N_("'{key}' is not a key of a mapping"), key=where)
            fix = N_("Check its spelling and indentation against docs/mapping.md.")
        elif err["type"] == "missing":
            reason = msg(N_("this key is required and missing"))
            fix = N_("Add it: see docs/mapping.md for what it holds.")
        more = len(exc.errors()) - 1
        raise MappingError(
            N_("the mapping is not valid at '{where}': {reason}{more}")
            if where
            else N_("the mapping is not valid: {reason}{more}"),
            fix=fix,
            file=info.file,
            # a key inside a section (dimensions.SEX); a top-level key is named in the problem
            # (format_message would call it a column)
            field=where if "." in where else None,
            params={
                "where": where,
                "reason": reason,
                "more": nmsg(" (and {n} more problem)", " (and {n} more problems)", more) if more else "",
            },
        ) from exc


def load_mapping_schema(path: str | Path) -> tuple[TableSchema, InputInfo]:
    """The Table Schema a mapping declares for its source data."""
    data, info = read_mapping_file(path)
    profile = data.get("profile", PROFILE)
    if str(profile).split("/")[0] != PROFILE.split("/")[0]:
        raise MappingError(
            N_("the mapping's profile is '{profile}', not {expected}"),
            fix=N_("Write profile: {expected}"),
            file=info.file,
            params={"profile": profile, "expected": PROFILE},
        )
    schema = data.get("schema")
    if schema is None:
        raise MappingError(
            N_("the mapping has no 'schema' section describing the data's columns"),
            fix=N_("Add 'schema:' with the Table Schema of the data (fields with name, type, role)."),
            file=info.file,
        )
    table_schema = schema_from_descriptor(schema, file=info.file, source="mapping")
    _wg_words(table_schema, data.get("derive"))
    return table_schema, info


def _wg_words(schema: TableSchema, derive: Any) -> None:
    """The words a ``derive: washington_group`` adds for the answers, known to validation too.

    They join the fields' label map (label -> choice name), so the WG check reads them as the
    derivation does; a malformed section is left to :func:`load_mapping` to report.
    """
    if not isinstance(derive, dict):
        return
    for spec in derive.values():
        wg = spec.get("washington_group") if isinstance(spec, dict) else None
        if not isinstance(wg, dict) or not isinstance(wg.get("columns"), dict):
            continue
        answers = wg.get("answers")
        if not isinstance(answers, dict):
            continue
        words = {
            str(label).lower(): "dont_know" if category == "missing" else str(category)
            for category, labels in answers.items()
            for label in (labels if isinstance(labels, list) else [labels])
        }
        for column in wg["columns"].values():
            f = schema.field(str(column))
            if f is not None and words:
                f.label_map = {**f.label_map, **words}
