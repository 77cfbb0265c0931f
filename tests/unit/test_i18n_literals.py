"""No text a person reads is left out of the catalogues (#17): a finding's problem and fix, and an
error's, are message ids (``N_``) or composed messages (``msg``), never bare English literals or
f-strings, which Babel cannot extract and no catalogue can translate.

The scan reads the code's syntax (AST): every ``Finding(...)``, ``Finding.of(...)``, finding
helper (``ctx.finding``, ``metadata.finding``, ``_finding``, ``_f``) and constructor of the
``CgdBridgeError`` tree, and their ``problem``/``fix`` arguments; a variable passed there is
followed to its assignments in the same function.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from tests.support.paths import ROOT

PACKAGE = ROOT / "cgd_bridge"

#: modules whose errors are not yet message templates: a debt of #17 that may only shrink (the
#: count of bare texts each may hold). The findings of every check, the file errors of ingest/,
#: the cause first, and the errors people meet on the server (the store's workflow, accounts,
#: MoUs, drafts, official series and notifications; the JSON API, web pages and SDMX REST
#: queries; the database, backups, worker jobs and the identity provider), the SDMX wing's, the
#: structure store's, the CLI's, the mappings' and the metadata files' are translated. Nothing is
#: left: a module named here could hold that many bare texts, and none may be added.
NOT_YET: dict[str, int] = {}

#: never for people: the texts of programming errors (a wrong call in the code itself)
NOT_FOR_PEOPLE = {"ValueError", "TypeError", "AssertionError", "KeyError", "RuntimeError"}


def _error_classes() -> set[str]:
    """The names of CgdBridgeError and every class derived from it in the package."""
    names = {"CgdBridgeError"}
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in PACKAGE.rglob("*.py")]
    grew = True
    while grew:
        grew = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _texts(call: ast.Call, errors: set[str]) -> list[ast.expr]:
    """The problem and fix arguments of a finding or error constructor (else none)."""
    name = _name(call.func)
    keywords = [k.value for k in call.keywords if k.arg in ("problem", "fix")]
    if name in errors:
        return call.args[:2] + keywords
    if name == "Finding" or (name == "of" and _name(getattr(call.func, "value", call.func)) == "Finding"):
        return call.args[2:4] + keywords
    if name == "finding":
        receiver = _name(getattr(call.func, "value", call.func))
        # ctx.finding(code, problem, fix); a metadata file's finding(code, path, problem, fix)
        return (call.args[1:3] if receiver == "ctx" else call.args[2:4]) + keywords
    if name == "_finding":
        return call.args[1:3] + keywords
    if name == "_f":  # checks/metadata.py: _f(md, code, path, problem, fix)
        return call.args[3:5] + keywords
    return []


def _bare(node: ast.expr, assigned: dict[str, list[ast.expr]], seen: frozenset[str] = frozenset()) -> bool:
    """A text no catalogue can hold: a string literal, an f-string, a concatenation or a
    ``.format`` of one, or a variable assigned one of those."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(node.value.strip())
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _bare(node.left, assigned, seen) or _bare(node.right, assigned, seen)
    if isinstance(node, ast.IfExp):
        return _bare(node.body, assigned, seen) or _bare(node.orelse, assigned, seen)
    if isinstance(node, ast.Call) and _name(node.func) in ("format", "join", "replace"):
        return isinstance(getattr(node.func, "value", None), ast.Constant | ast.JoinedStr)
    if isinstance(node, ast.Name) and node.id not in seen:
        return any(_bare(v, assigned, seen | {node.id}) for v in assigned.get(node.id, []))
    return False


def _own(scope: ast.AST) -> list[ast.AST]:
    """The nodes of ``scope`` outside the functions nested in it (which are scopes of their own)."""
    out: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return out


def bare_texts(path: Path, errors: set[str]) -> list[int]:
    """The lines of ``path`` where a finding or an error gets a bare English text."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)]
    for scope in [tree, *scopes]:
        nodes = _own(scope)
        assigned: dict[str, list[ast.expr]] = {}
        for node in nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).append(node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                assigned.setdefault(node.target.id, []).append(node.value)
        for node in nodes:
            if isinstance(node, ast.Call) and _name(node.func) not in NOT_FOR_PEOPLE:
                if any(_bare(a, assigned) for a in _texts(node, errors)):
                    found.append(node.lineno)
    return sorted(set(found))


def test_the_scan_finds_a_bare_text() -> None:
    """The scan itself: each way of writing an untranslatable text is caught, and N_/msg pass."""
    import tempfile

    code = """
from cgd_bridge.errors import InputError
from cgd_bridge.findings import Finding
class MyError(InputError): ...
def f(ctx, n, name):
    ctx.finding("x", "the column is empty", N_("Fill it."))
    ctx.finding("x", N_("the column '{c}' is empty"), N_("Fill it."), {"c": name})
    raise InputError(f"the file has {n} columns", fix=N_("Split it."))
def g(name):
    problem = "the value " + name + " is wrong"
    return Finding("x", "error", problem, N_("Fix it."))
def h(name):
    raise MyError(N_("the sheet '{s}' is missing"), fix="Use another.", params={"s": name})
def ok(name):
    raise InputError(N_("the sheet '{s}' is missing"), fix=N_("Use another."), params={"s": name})
def ok2(what):
    problem = msg(N_("the sheet '{s}' is missing"), s=what)
    return Finding.of("x", "error", problem, N_("Fix it."), {})
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.py"
        path.write_text(code, encoding="utf-8")
        assert bare_texts(path, _error_classes() | {"MyError"}) == [6, 8, 11, 13]


def test_no_finding_or_error_gets_a_bare_english_text() -> None:
    errors = _error_classes()
    counts: Counter[str] = Counter()
    lines: dict[str, list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        found = bare_texts(path, errors)
        if found:
            counts[rel] = len(found)
            lines[rel] = found
    new = {rel: lines[rel] for rel, n in counts.items() if n > NOT_YET.get(rel, 0)}
    assert not new, (
        "these findings or errors get English texts no catalogue can hold; write them as message "
        "templates: N_('... {name} ...') with params={'name': ...} (or msg(...)), then run "
        f"python -m cgd_bridge.i18n_tools extract and translate: {new}"
    )
    # the debt only shrinks: lower NOT_YET when a module is translated
    stale = {rel: (n, counts.get(rel, 0)) for rel, n in NOT_YET.items() if counts.get(rel, 0) < n}
    assert not stale, f"lower NOT_YET to the counts found (module: (allowed, found)): {stale}"
