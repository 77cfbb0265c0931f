"""The one way cgd-bridge reads YAML (and metadata JSON) that anyone may send: bounded first.

A YAML document is a graph: an alias points at an anchored node, so 342 bytes of nested aliases
stand for billions of values ("billion laughs"). PyYAML builds such a graph quickly, but anything
that walks or constructs it expanded (the line map of the metadata, the Python objects, a
pydantic model) takes gigabytes and minutes. So :func:`load` composes the node graph, measures it
*as it would be expanded* in one pass over the graph (each node once, whatever points at it), and
refuses, before anything is built, a document that passes :data:`LIMITS`: more values than
``nodes`` once aliases are expanded, nesting deeper than ``depth``, a value longer than
``scalar`` characters, or an alias that contains itself. Nesting too deep even to compose is
refused the same way. Every refusal is a :class:`YamlLimitError`: a ``yaml.YAMLError`` with the
line, so each caller's existing "cannot be read as YAML (line N)" path names the file and the place.

Every YAML the bridge reads goes through here: metadata and mapping files (CLI, API, web
pages), and the stored mappings the server reads back (so a bomb stored before this existed is
refused at load, not served).

The node graph is composed by libyaml (PyYAML's C parser, about 7x less CPU than its pure-Python
one on a mapping file: #16) when PyYAML has it; the same safe constructor builds the values, so
the result is the same. A document the C parser refuses is read again by the pure-Python
parser, so what a person is told about a broken file (its message and line) does not depend on
how PyYAML was built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class YamlLimits:
    """What one YAML or JSON document may hold (generous for any real metadata or mapping file)."""

    nodes: int = 200_000  # values, keys included, with every alias expanded
    depth: int = 64  # nesting of mappings and lists
    scalar: int = 1_000_000  # characters in one value


LIMITS = YamlLimits()


class YamlLimitError(yaml.YAMLError):
    """A document refused by :data:`LIMITS`; ``problem_mark`` says where (as PyYAML's errors do)."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark

    def __str__(self) -> str:
        return self.problem


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (only plain data types), used one document at a time."""


#: PyYAML's safe loader on libyaml's parser (the same safe constructor), when PyYAML was built
#: with libyaml; libyaml itself refuses nesting deeper than 1,000 levels before composing it
_FastLoader: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def load(text: str, *, limits: YamlLimits = LIMITS) -> Any:
    """The document in ``text`` as plain Python data, or a ``yaml.YAMLError`` (a
    :class:`YamlLimitError` when it passes ``limits``)."""
    return load_with_lines(text, limits=limits)[0]


def load_with_lines(text: str, *, limits: YamlLimits = LIMITS) -> tuple[Any, dict[tuple[str, ...], int]]:
    """:func:`load`, plus the line of every key path (``("dataset", "title")`` -> 3)."""
    if _FastLoader is not None:
        try:
            return _load_with(_FastLoader, text, limits)
        except yaml.YAMLError as exc:
            if isinstance(exc, YamlLimitError):
                raise
            # refused by libyaml: the pure-Python parser says why, as it always has
    return _load_with(_Loader, text, limits)


def _load_with(
    loader_class: type[yaml.SafeLoader], text: str, limits: YamlLimits
) -> tuple[Any, dict[tuple[str, ...], int]]:
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(
                f"the document is nested too deeply (more than {limits.depth} levels)", None
            ) from None
        if node is None:
            return None, {}
        _measure(node, limits)
        return loader.construct_document(node), _lines(node)
    finally:
        loader.dispose()


def load_json(text: str, *, limits: YamlLimits = LIMITS) -> Any:
    """JSON text as Python data, refused like YAML when it passes ``limits`` (json.JSONDecodeError
    for bad syntax, :class:`YamlLimitError` for size)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise YamlLimitError(
            f"the document is nested too deeply (more than {limits.depth} levels)", None
        ) from None
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > limits.nodes:
            raise YamlLimitError(f"the document holds more than {limits.nodes:,} values", None)
        if depth > limits.depth:
            raise YamlLimitError(f"the document is nested more than {limits.depth} levels deep", None)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
            count += len(value)
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and len(value) > limits.scalar:
            raise YamlLimitError(f"a value is longer than {limits.scalar:,} characters", None)
    return data


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node, limits: YamlLimits) -> None:
    """Refuse ``root`` if its expansion passes ``limits``; each node is visited once (memoised
    sizes and depths), so a billion-laughs graph costs as little as its text."""
    size: dict[int, int] = {}  # id(node) -> values in its expansion
    depth: dict[int, int] = {}  # id(node) -> levels below and including it
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > limits.nodes:
                raise YamlLimitError(
                    f"the document stands for more than {limits.nodes:,} values once its anchors (&) and "
                    "aliases (*) are expanded; write the values out instead of repeating them by alias",
                    node.start_mark,
                )
            if depth[key] > limits.depth:
                raise YamlLimitError(
                    f"the document is nested more than {limits.depth} levels deep", node.start_mark
                )
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError("an alias (*) refers to a value that contains it", node.start_mark)
        if isinstance(node, yaml.ScalarNode) and len(node.value) > limits.scalar:
            raise YamlLimitError(f"a value is longer than {limits.scalar:,} characters", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _lines(root: yaml.Node) -> dict[tuple[str, ...], int]:
    """The line of every key path; the graph is known to be small once expanded (``_measure``)."""
    lines: dict[tuple[str, ...], int] = {}
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = str(k.value)
                lines[(*path, key)] = k.start_mark.line + 1
                stack.append((v, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node.value))
    return lines
