"""Hostile YAML and JSON are refused before anything is built: alias bombs, recursion, depth, size."""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest
import yaml

from cgd_bridge import safeyaml
from cgd_bridge.errors import MappingError, TemplateError
from cgd_bridge.mapping import load_mapping
from cgd_bridge.metadata.load import load_metadata
from tests.support.paths import ROOT

# 342 bytes that stand for 10**9 values once the aliases are expanded
BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{chr(c)}: &{chr(c)} [{','.join(['*' + chr(c - 1)] * 10)}]\n" for c in range(ord("b"), ord("j"))
    )
    + "dataset: {id: x}\n"
)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_billion_laughs_is_refused_at_once_naming_its_line() -> None:
    before = _peak_mb()
    with pytest.raises(safeyaml.YamlLimitError) as caught:
        safeyaml.load_with_lines(BILLION_LAUGHS)
    assert _peak_mb() - before < 50  # measured on the graph; expanded it is gigabytes
    assert "anchors (&) and aliases (*)" in caught.value.problem
    assert caught.value.problem_mark is not None
    assert 1 <= caught.value.problem_mark.line + 1 <= 10


def test_an_alias_inside_itself_is_refused() -> None:
    with pytest.raises(safeyaml.YamlLimitError, match="contains it"):
        safeyaml.load("a: &a [1, *a]\n")


@pytest.mark.parametrize("depth", [65, 5_000])
def test_deep_nesting_is_refused(depth: int) -> None:
    with pytest.raises(safeyaml.YamlLimitError, match="nested"):
        safeyaml.load("[" * depth + "]" * depth)
    with pytest.raises(safeyaml.YamlLimitError, match="nested"):
        safeyaml.load_json("[" * depth + "]" * depth)


def test_a_huge_value_is_refused() -> None:
    with pytest.raises(safeyaml.YamlLimitError, match="longer than"):
        safeyaml.load("a: " + "x" * (safeyaml.LIMITS.scalar + 1) + "\n")
    with pytest.raises(safeyaml.YamlLimitError, match="longer than"):
        safeyaml.load_json(json.dumps({"a": "x" * (safeyaml.LIMITS.scalar + 1)}))


def test_many_values_in_json_are_refused() -> None:
    with pytest.raises(safeyaml.YamlLimitError, match="more than"):
        safeyaml.load_json(json.dumps(list(range(safeyaml.LIMITS.nodes + 1))))


def test_harmless_aliases_still_work() -> None:
    data = safeyaml.load("base: &b {x: 1}\nother: *b\nmerged: {<<: *b, y: 2}\n")
    assert data == {"base": {"x": 1}, "other": {"x": 1}, "merged": {"x": 1, "y": 2}}


def test_every_bundled_yaml_reads_as_pyyaml_reads_it() -> None:
    files = [
        *ROOT.glob("mappings/*.yaml"),
        *ROOT.glob("examples/**/*.yaml"),
        *ROOT.glob("metadata_templates/*.yaml"),
    ]
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        assert safeyaml.load(text) == yaml.safe_load(text), path


def test_the_lines_of_keys() -> None:
    _, lines = safeyaml.load_with_lines("dataset:\n  id: x\n  title:\n    en: T\nlist:\n  - a: 1\n")
    assert lines[("dataset", "id")] == 2
    assert lines[("dataset", "title", "en")] == 4
    assert lines[("list", "0", "a")] == 6


def test_metadata_and_mapping_files_with_a_bomb_are_refused_with_the_file(tmp_path: Path) -> None:
    md = tmp_path / "quality.yaml"
    md.write_text(BILLION_LAUGHS, encoding="utf-8")
    with pytest.raises(TemplateError) as caught:
        load_metadata(md)
    assert caught.value.file == "quality.yaml"
    assert "refused" in caught.value.problem
    assert "line" in caught.value.problem
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "profile: cgd-mapping/1.0\nschema:\n"
        + "".join("  " + line + "\n" for line in BILLION_LAUGHS.splitlines()),
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as refused:
        load_mapping(mapping)
    assert refused.value.file == "mapping.yaml"
    assert "refused" in refused.value.problem


def test_the_c_parser_reads_every_bundled_yaml_as_the_python_parser_does() -> None:
    """libyaml composes the nodes when PyYAML has it (#16: about 7x less CPU): the values and the
    line of every key are those of the pure-Python parser, file by file."""
    assert safeyaml._FastLoader is not None, "PyYAML without libyaml: the YAML of every run is slow"
    files = [
        *ROOT.glob("mappings/*.yaml"),
        *ROOT.glob("examples/**/*.yaml"),
        *ROOT.glob("metadata_templates/*.yaml"),
    ]
    assert len(files) > 50
    for path in files:
        text = path.read_text(encoding="utf-8-sig")
        fast = safeyaml._load_with(safeyaml._FastLoader, text, safeyaml.LIMITS)
        assert fast == safeyaml._load_with(safeyaml._Loader, text, safeyaml.LIMITS), path


@pytest.mark.parametrize(
    "text",
    [
        "dataset:\n\tid: x\n",  # a tab in the indentation
        "a: [1, 2\nb: 3\n",  # an unclosed list
        "a: 1\n  b: 2\n",  # bad indentation
        "a: 'unclosed\n",
        "a: \x07\n",  # a control character
    ],
)
def test_a_broken_document_is_explained_by_the_python_parser(text: str) -> None:
    """What the C parser refuses is read again by the pure-Python one: the person is told what
    PyYAML's own parser says, at its line, however PyYAML was built."""
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.load(text, Loader=yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError) as caught:
        safeyaml.load(text)
    assert str(caught.value) == str(expected.value)
    assert type(caught.value) is type(expected.value)
