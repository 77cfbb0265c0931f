"""The shipped cgd-quality/1.0 template and JSON Schema, and the examples' quality metadata."""

from __future__ import annotations

import csv
import json
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from python_calamine import CalamineWorkbook

from cgd_bridge.checks.metadata import metadata_findings
from cgd_bridge.findings import Severity
from cgd_bridge.metadata import PROFILE, QualityMetadata, load_metadata
from cgd_bridge.metadata.template import (
    SCHEMA_FILE,
    SCHEMA_ID,
    TEMPLATE_FILE,
    json_schema,
    render_template,
    write_templates,
)

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "metadata_templates"
EXAMPLES = ROOT / "examples"
EXAMPLE_METADATA = sorted(EXAMPLES.glob("*/quality.yaml"))
REGENERATE = (
    'python -c "from cgd_bridge.metadata.template import write_templates; '
    "from pathlib import Path; write_templates(Path('metadata_templates'))\""
)


def _section_class(annotation: Any) -> type[BaseModel] | None:
    """The model class behind ``X | None``, ``list[X] | None`` or ``X``, if X is a model."""
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return None
            annotation = args[0]
        elif origin in (list, typing.Annotated):
            annotation = typing.get_args(annotation)[0]
        else:
            break
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def field_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every field of the model, as a path of names (list items are not numbered)."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path
        section = _section_class(info.annotation)
        if section is not None:
            yield from field_paths(section, path)


def _lookup(data: Any, path: tuple[str, ...]) -> bool:
    """Whether ``path`` exists in loaded YAML (a list stands for its first entry)."""
    node = data
    for key in path:
        if isinstance(node, list):
            if not node:
                return False
            node = node[0]
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _leaves(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)))
    elif isinstance(data, list) and data:
        for item in data:
            yield from _leaves(item, path)
    else:
        yield path, data


def _extra_keys(model: BaseModel, path: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths of keys the model does not define, at any depth."""
    out = [".".join((*path, key)) for key in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            out += _extra_keys(value, (*path, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += _extra_keys(item, (*path, name, str(i)))
    return out


# -- the shipped template and schema -----------------------------------------------------------


def test_shipped_template_is_current() -> None:
    shipped = (TEMPLATES / TEMPLATE_FILE).read_text(encoding="utf-8")
    assert shipped == render_template(), (
        f"metadata_templates/{TEMPLATE_FILE} is out of date with cgd_bridge/metadata/model.py; "
        f"regenerate it from the repository root with: {REGENERATE}"
    )


def test_shipped_schema_is_current() -> None:
    shipped = json.loads((TEMPLATES / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert shipped == json_schema(), (
        f"metadata_templates/{SCHEMA_FILE} is out of date with cgd_bridge/metadata/model.py; "
        f"regenerate it from the repository root with: {REGENERATE}"
    )


def test_template_loads_with_empty_values() -> None:
    data = yaml.safe_load(render_template())
    assert isinstance(data, dict)
    assert data["profile"] == PROFILE
    filled = {path: value for path, value in _leaves(data) if value not in (None, [])}
    assert filled == {("profile",): PROFILE}


def test_template_has_every_model_field() -> None:
    data = yaml.safe_load(render_template())
    missing = [".".join(p) for p in field_paths(QualityMetadata) if not _lookup(data, p)]
    assert missing == []


def test_template_has_no_unknown_fields() -> None:
    model = QualityMetadata.model_validate(yaml.safe_load(render_template()))
    assert _extra_keys(model) == []


def test_template_comments_every_field() -> None:
    lines = render_template().splitlines()
    assert lines[0].startswith("# ")
    body = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert body[0] == f"profile: {PROFILE}"
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            assert lines[i - 1].lstrip().startswith("#"), f"no comment before {line!r}"
    text = render_template()
    assert "# Template version: Always 'cgd-quality/1.0'. [required at submission]" in text
    assert "[required before release]" in text
    assert "[optional]" in text


@pytest.mark.parametrize(
    "expected",
    [
        "# One of: CSO, CBO, coalition, NHRI, academia, other.",
        "# Any of: design, collection, analysis, validation, dissemination.",
        "# One of: yes, no.",
        "# One of: WG-SS, WG-SS-enhanced, self-report-yes/no, card/registry, other.",
    ],
)
def test_template_lists_allowed_values(expected: str) -> None:
    assert expected in render_template()


def test_template_indents_sections_and_list_entries() -> None:
    lines = render_template().splitlines()
    assert "dataset:" in lines
    assert "  id:" in lines
    assert "    - code:" in lines
    assert "      label:" in lines
    assert "      benefit:" in lines
    assert "  sdg_targets: []" in lines
    assert max(len(line) for line in lines) <= 100


def test_json_schema_identifies_itself() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"]
    assert set(QualityMetadata.model_fields) <= set(schema["properties"])


def test_write_templates(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    written = write_templates(folder)
    assert written == [folder / TEMPLATE_FILE, folder / SCHEMA_FILE]
    assert written[0].read_text(encoding="utf-8") == render_template()
    text = written[1].read_text(encoding="utf-8")
    assert text == json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# -- the examples' quality metadata ------------------------------------------------------------


def test_there_are_examples() -> None:
    names = {p.parent.name for p in EXAMPLE_METADATA}
    assert {"kenya-health-scorecard", "nepal-youth-survey"} <= names


@pytest.mark.parametrize("path", EXAMPLE_METADATA, ids=lambda p: p.parent.name)
def test_example_metadata_validates_without_unknown_keys(path: Path) -> None:
    model = QualityMetadata.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert model.profile == PROFILE
    assert _extra_keys(model) == []


@pytest.mark.parametrize("path", EXAMPLE_METADATA, ids=lambda p: p.parent.name)
def test_example_metadata_is_ready_for_release(path: Path) -> None:
    md = load_metadata(path)
    assert md.findings == []
    findings = metadata_findings(md, stage="release")
    problems = [f"{f.code} {f.field}: {f.problem}" for f in findings if f.severity == Severity.ERROR]
    assert problems == []


def test_kenya_metadata_agrees_with_the_data() -> None:
    folder = EXAMPLES / "kenya-health-scorecard"
    model = QualityMetadata.model_validate(yaml.safe_load((folder / "quality.yaml").read_text("utf-8")))
    with (folder / "data.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    totals = [r for r in rows if r["sex"] == r["age_group"] == r["disability_status"] == "Total"]
    assert model.sampling is not None
    assert model.geography is not None
    assert model.sampling.n_achieved == sum(int(r["respondents"]) for r in totals)
    assert model.geography.ref_areas == list(dict.fromkeys(r["county"] for r in rows))


def test_nepal_metadata_agrees_with_the_data() -> None:
    folder = EXAMPLES / "nepal-youth-survey"
    model = QualityMetadata.model_validate(yaml.safe_load((folder / "quality.yaml").read_text("utf-8")))
    workbook = CalamineWorkbook.from_path(str(folder / "data.xlsx"))
    rows = workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()
    header, data = rows[0], rows[1:]
    district = header.index("respondent/district")
    assert model.sampling is not None
    assert model.geography is not None
    assert model.method is not None
    assert model.sampling.n_achieved == len(data)
    assert set(model.geography.ref_areas or []) == {r[district] for r in data}
    assert model.method.instrument == "form.xlsx"
    assert (folder / model.method.instrument).is_file()
