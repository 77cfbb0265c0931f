"""The layers of docs/architecture.md ("Import rules"), held by reading every module's imports.

The rules are checked on the import graph of ``cgd_bridge`` built from the source with ``ast``:
every ``import`` and ``from ... import`` counts, at module level, inside functions (lazy
imports) and under ``if TYPE_CHECKING:`` alike, since each is a dependency a reader of the code
must follow. A failure lists each offending import as ``path:line imports module``, and each
circle as the chain of imports that closes it, so the fix is one look away. (An import-linter
contract would say the same, but needs a tool the test environment does not have; this test
runs wherever pytest does.)

One more test imports the pipeline in a fresh interpreter and checks that no web, database or
CLI library came with it: the rules above hold for our own modules, that one for third-party ones.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cgd_bridge"
#: the layers above the core: the core (every other module) imports none of them
OUTER = ("cgd_bridge.server", "cgd_bridge.store", "cgd_bridge.cli", "cgd_bridge.__main__")
#: the FastAPI dependency module, and the modules that may import it (routes and the app factory)
DEPS = "cgd_bridge.server.deps"
# bodylimit is wiring too: it reads a route's dependencies and runs get_principal before the body
DEPS_USERS = (
    "cgd_bridge.server.routes",
    "cgd_bridge.server.web",
    "cgd_bridge.server.app",
    "cgd_bridge.server.bodylimit",
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. cgd_bridge.store.official
    target: str  # the imported module of cgd_bridge, e.g. cgd_bridge.store.audit
    line: int

    def __str__(self) -> str:
        return f"{_path(self.source)}:{self.line} imports {self.target}"


def _path(module: str) -> str:
    found = _modules()[module]
    return str(found.relative_to(ROOT))


@cache
def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _resolve(name: str) -> str | None:
    """The module of cgd_bridge that ``name`` (a module or a name in one) is, or None."""
    modules = _modules()
    while name not in modules:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                yield Import(module, target, node.lineno)


@cache
def _graph() -> tuple[Import, ...]:
    return tuple(i for module, path in sorted(_modules().items()) for i in _imports_of(module, path))


def _offending(source: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        str(i) for i in _graph() if _within(i.source, source) and any(_within(i.target, f) for f in forbidden)
    ]


def _cycles(package: str) -> list[str]:
    """Every import circle among the modules of ``package`` (its sub-packages included), each as
    the chain of imports that closes it."""
    edges: dict[str, list[Import]] = {}
    for i in _graph():
        if _within(i.source, package) and _within(i.target, package):
            edges.setdefault(i.source, []).append(i)
    found, done = [], set()
    for start in sorted(edges):
        # depth-first from each module: a path back to the start is a circle (reported once)
        stack: list[tuple[str, list[Import]]] = [(start, [])]
        seen = set()
        while stack:
            node, chain = stack.pop()
            for step in edges.get(node, ()):
                if step.target == start:
                    circle = [*chain, step]
                    key = frozenset(s.source for s in circle)
                    if key not in done:
                        done.add(key)
                        found.append(" -> ".join(str(s) for s in circle))
                elif step.target not in seen and step.target > start:
                    seen.add(step.target)
                    stack.append((step.target, [*chain, step]))
    return found


def test_the_graph_is_read():
    imports = _graph()
    assert any(i.source == "cgd_bridge.pipeline" and i.target == "cgd_bridge.checks" for i in imports)
    assert any(i.source == "cgd_bridge.server.app" for i in imports)


def test_the_core_never_imports_server_store_or_cli():
    bad = [
        str(i)
        for i in _graph()
        if not any(_within(i.source, o) for o in OUTER) and any(_within(i.target, o) for o in OUTER)
    ]
    assert not bad, "the core imports an outer layer:\n" + "\n".join(bad)


def test_the_store_never_imports_the_server():
    bad = _offending("cgd_bridge.store", ("cgd_bridge.server", "cgd_bridge.cli"))
    assert not bad, "the store imports the server (it is below it):\n" + "\n".join(bad)


def test_the_store_parses_no_sdmx():
    """store/official.py gets its reader from its caller (cgd_bridge.sdmx.read.data); the store
    may use the wing's plain values (sdmx.refs.FlowRef) but none of its readers or writers."""
    bad = _offending(
        "cgd_bridge.store", ("cgd_bridge.sdmx.read", "cgd_bridge.sdmx.write", "cgd_bridge.sdmx.formats")
    )
    assert not bad, "the store imports the SDMX readers or writers:\n" + "\n".join(bad)


def test_only_routes_import_the_request_dependencies():
    """server/deps.py is FastAPI's dependency wiring, not a library (the SDMX service least of all)."""
    bad = [
        str(i)
        for i in _graph()
        if i.target == DEPS and i.source != DEPS and not any(_within(i.source, u) for u in DEPS_USERS)
    ]
    assert not bad, f"{DEPS} is imported outside the route modules:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "package",
    [
        "cgd_bridge.ingest",
        "cgd_bridge.store",
        "cgd_bridge.mapping",
        "cgd_bridge.sdmx",
        "cgd_bridge.checks",
        "cgd_bridge.metadata",
    ],
)
def test_no_import_circles_within(package):
    circles = _cycles(package)
    assert not circles, f"import circles in {package}:\n" + "\n".join(circles)


def test_pipeline_imports_no_fastapi_sqlalchemy_or_click():
    code = (
        "import sys, cgd_bridge.pipeline, cgd_bridge.render; "
        "bad = [m for m in ('fastapi', 'sqlalchemy', 'click', 'uvicorn') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _imports(path):
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_sdmx_writers_and_readers_never_import_each_other():
    """The SDMX wing's split (docs/architecture.md): write/ and read/ import the facts only."""
    from pathlib import Path

    wing = Path(__file__).resolve().parent.parent / "cgd_bridge" / "sdmx"
    for side, other in (("write", "read"), ("read", "write")):
        for path in (wing / side).glob("*.py"):
            bad = [m for m in _imports(path) if m.startswith(f"cgd_bridge.sdmx.{other}")]
            assert not bad, f"{path.name} in sdmx/{side}/ imports {bad}"
    for facts in ("formats.py", "target.py", "refs.py"):
        bad = [
            m
            for m in _imports(wing / facts)
            if m.startswith("cgd_bridge.")
            and m not in ("cgd_bridge.errors", "cgd_bridge.i18n", "cgd_bridge.sdmx.refs")
        ]
        assert not bad, f"sdmx/{facts} imports {bad}"
