"""``--help`` and click's own usage errors in the person's language (#17).

The language is chosen before click parses (``--lang X`` anywhere, ``--lang=X``, else
``CGD_BRIDGE_LANG``, else the locale); the help's texts (docstrings, options' help, headings,
type metavars) and click's messages come from our catalogues. What may stay English is what a
person types: option and command names, choice values, identifiers in capitals (``DATA``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cgd_bridge import cli_i18n, i18n
from cgd_bridge.cli import cli
from tests.support.paths import ROOT
from tests.support.untranslated import EnglishFinder

SHIPPED = ("sw", "ne", "bn")

#: click's texts no person meets: errors in how a command is defined, Windows console and editor
#: failures, shell completion, click's own ``--version`` (ours has its own text)
NOT_FOR_PEOPLE = {
    "d",
    "{editor}: Editing failed",
    "{editor}: Editing failed: {e}",
    "Windows error: {error}",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}",
    "Name '{name}' defined twice",
    "Boolean option {decl!r} cannot use the same flag for true/false.",
    "Could not determine name for option with declarations {decls!r}",
    "No options defined but a name was passed ({name}). Did you mean to declare an argument instead? "
    "Did you mean to pass '--{name}'?",
    "Arguments take exactly one parameter declaration, got {length}: {decls}.",
    "Confirm the action without prompting.",
    "%(prog)s, version %(version)s",
    "Invalid start character for option ({option})",
    "Shell completion is not supported for Bash versions older than 4.4.",
    "Couldn't detect Bash version, shell completion is not supported.",
    "Unknown color {colour!r}",
    "Unknown standard stream '{name}'",
    "Choice({choices})",
}


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``cgd-bridge ARGS`` in a fresh process, in a C locale unless ``env`` says otherwise."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *args],
        capture_output=True, text=True, timeout=120, env={**base, **(env or {})}, check=False,
    )  # fmt: skip


def typed(command: click.Command) -> set[str]:
    """What the help of ``command`` rightly shows as it is: the names a person types (commands,
    options, choices, defaults) and the identifiers in capitals (arguments, named metavars)."""
    names = {"cgd-bridge", command.name or ""}
    for sub in getattr(command, "commands", {}).values():
        names.add(sub.name or "")
    for param in command.params:
        names.update(param.opts)
        names.update(param.secondary_opts)
        # a flag's default is shown as its name ("no-raw-files"), which a line may break at "-"
        names.update(o.lstrip("-") for o in [*param.opts, *param.secondary_opts])
        if isinstance(param.type, click.Choice):
            names.update(str(c) for c in param.type.choices)
        if param.default is not None and not callable(param.default):
            names.add(str(param.default))
        if param.metavar:
            names.add(param.metavar)
    return {n for n in names if n}


def typed_anywhere(command: click.Command) -> set[str]:
    """:func:`typed` of ``command`` and of every command under it."""
    names = typed(command)
    for sub in getattr(command, "commands", {}).values():
        names |= typed_anywhere(sub)
    return names


def english_left(lang: str, text: str, command: click.Command) -> list[str]:
    return EnglishFinder(lang, data=typed(command)).english_in(text)


def test_validate_help_in_swahili_with_lang_before_the_command() -> None:
    p = run("--lang", "sw", "validate", "--help")
    assert p.returncode == 0, p.stderr
    sw = i18n.translator("sw")
    assert p.stdout.startswith(f"{sw('Usage:')} cgd-bridge validate {sw('[OPTIONS]')} DATA")
    assert sw("Check DATA and its quality metadata before submission; report what to fix.")[:30] in p.stdout
    assert sw("Show this message and exit.") in p.stdout
    assert "--threshold " + sw("INTEGER RANGE") in p.stdout  # a type metavar
    left = english_left("sw", p.stdout, cli.commands["validate"])
    assert not left, "English in `cgd-bridge --lang sw validate --help`:\n" + "\n".join(left)


def test_lang_after_the_command_and_with_an_equals_sign() -> None:
    sw = i18n.translator("sw")
    for args in (("validate", "--help", "--lang", "sw"), ("validate", "--lang=sw", "--help")):
        p = run(*args)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(sw("Usage:")), args


def test_top_level_help_in_nepali_from_the_environment() -> None:
    p = run("--help", env={"CGD_BRIDGE_LANG": "ne"})
    assert p.returncode == 0, p.stderr
    ne = i18n.translator("ne")
    assert p.stdout.startswith(f"{ne('Usage:')} cgd-bridge {ne('[OPTIONS]')} {ne('COMMAND [ARGS]...')}")
    assert f"{ne('Commands')}:" in p.stdout
    left = english_left("ne", p.stdout, cli)
    assert not left, "English in `CGD_BRIDGE_LANG=ne cgd-bridge --help`:\n" + "\n".join(left)


def test_a_group_and_a_subcommand_help_in_the_locales_language() -> None:
    """No --lang and no CGD_BRIDGE_LANG: the system's locale, as for the bridge's messages."""
    p = run("admin", "mou", "create", "--help", env={"LANG": "bn_BD.UTF-8"})
    assert p.returncode == 0, p.stderr
    command = cli.commands["admin"].commands["mou"].commands["create"]  # type: ignore[attr-defined]
    assert p.stdout.startswith(i18n.translator("bn")("Usage:"))
    left = english_left("bn", p.stdout, command)
    assert not left, "\n".join(left)


def test_a_usage_error_in_bangla() -> None:
    p = run("--lang", "bn", "validate", "--no-such-option")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    bn = i18n.translator("bn")
    assert bn("No such option {name!r}.").format(name="--no-such-option") in p.stderr
    assert bn("Try '{command} {option}' for help.").format(
        command="cgd-bridge validate", option="--help"
    ) in (p.stderr)
    assert bn("Error: {message}").split("{")[0] in p.stderr
    left = EnglishFinder("bn", data=typed(cli.commands["validate"]) | {"--no-such-option"}).english_in(
        p.stderr
    )
    assert not left, "English in a Bangla usage error:\n" + "\n".join(left)


@pytest.mark.parametrize(
    ("args", "english"),
    [
        (("validate",), "Missing argument"),
        (("validate", "x", "--format", "xml"), "is not one of"),
        (("validate", "x", "--threshold", "99"), "is not in the range"),
        (("validate", "x", "--formt", "json"), "Did you mean"),
        (("checks", "extra"), "unexpected extra argument"),
        (("no-such-command",), "No such command"),
        (("serve", "--port", "abc"), "integer"),
        (("admin", "official", "load", "/no/such/file", "--nso", "n", "--dataflow", "d"), "File"),
    ],
)
def test_clicks_usage_errors_in_swahili(args: tuple[str, ...], english: str) -> None:
    p = run("--lang", "sw", *args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    assert english not in p.stderr, p.stderr
    left = EnglishFinder("sw", data=typed_anywhere(cli) | set(args)).english_in(p.stderr)
    assert not left, "\n".join(left)
    assert p.stderr.startswith(i18n.translator("sw")("Usage:")), p.stderr


def test_english_help_and_errors_are_as_click_writes_them() -> None:
    p = run("validate", "--help")
    assert p.returncode == 0
    assert p.stdout.startswith("Usage: cgd-bridge validate [OPTIONS] DATA\n")
    assert "Check DATA and its quality metadata before submission; report what to fix." in p.stdout
    assert "  -h, --help " in p.stdout
    assert "Show this message and exit." in p.stdout
    assert "--threshold INTEGER RANGE" in p.stdout
    assert "[default: 5; 1<=x<=50]" in p.stdout
    bad = run("validate", "--no-such-option")
    assert bad.returncode == 2
    assert bad.stderr.endswith("Error: No such option '--no-such-option'.\n"), bad.stderr
    assert "Try 'cgd-bridge validate --help' for help." in bad.stderr


def test_english_after_another_language_in_the_same_process() -> None:
    """Click builds each command's --help option once and keeps it; the language of the first
    run must not stay in it, and click's gettext names are given back after each run."""
    import click.core
    import click.exceptions

    originals = (click.core._, click.core.ngettext, click.exceptions._)
    runner = CliRunner()
    swahili = runner.invoke(cli, ["--lang", "sw", "validate", "--help"], prog_name="cgd-bridge")
    assert swahili.output.startswith(i18n.translator("sw")("Usage:"))
    english = runner.invoke(cli, ["validate", "--help"], prog_name="cgd-bridge", env={"CGD_BRIDGE_LANG": ""})
    assert english.output.startswith("Usage: cgd-bridge validate [OPTIONS] DATA")
    assert "Show this message and exit." in english.output
    assert (click.core._, click.core.ngettext, click.exceptions._) == originals


def test_an_unknown_lang_is_refused_and_leaves_the_help_readable() -> None:
    p = run("--lang", "xx", "checks")
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "en, bn, ne, sw" in p.stderr
    helped = run("validate", "--lang", "xx", "--help")
    assert helped.returncode == 0
    assert helped.stdout.startswith("Usage: cgd-bridge validate")


def test_the_groups_lang_reaches_the_command_and_the_commands_own_wins(tmp_path: Path) -> None:
    sw, ne = i18n.translator("sw"), i18n.translator("ne")
    title = "Blank column name"
    assert sw(title) != title
    assert ne(title) != title
    group = run("--lang", "sw", "checks")
    assert group.returncode == 0, group.stderr
    assert sw(title) in group.stdout
    own = run("--lang", "sw", "checks", "--lang", "ne", env={"CGD_BRIDGE_LANG": "bn"})
    assert ne(title) in own.stdout
    env_only = run("--lang", "sw", "checks", env={"CGD_BRIDGE_LANG": "bn"})
    assert sw(title) in env_only.stdout  # typed on the command line beats the environment


def _every_text(command: click.Command) -> list[tuple[str, str]]:
    """(where, text) for each help text of ``command`` and its subcommands, found independently
    of cgd_bridge.cli_i18n.texts_of."""
    import inspect

    found = []
    path = command.name or "cgd-bridge"
    if command.help:
        found.append((path, inspect.cleandoc(command.help)))
    for param in command.params:
        if param.help:
            found.append((f"{path} {param.opts[0] if param.opts else param.name}", param.help))
    for sub in getattr(command, "commands", {}).values():
        found.extend((f"{path} {where}", text) for where, text in _every_text(sub))
    return found


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_commands_help_is_translated(lang: str) -> None:
    t = i18n.translator(lang)
    texts = _every_text(cli)
    assert len(texts) > 100  # the walk saw the whole tree
    untranslated = [f"{where}: {text[:60]!r}" for where, text in texts if t.catalogue.gettext(text) == text]
    assert not untranslated, f"{lang}: help without a translation:\n" + "\n".join(untranslated[:10])
    assert {text for _, text in texts} <= set(cli_i18n.texts_of(cli))


def _clicks_messages() -> set[str | tuple[str, str]]:
    """The message ids of the installed click's ``_()`` and ``ngettext()`` calls."""
    from babel.messages.extract import extract_python

    found: set[str | tuple[str, str]] = set()
    for path in Path(click.__file__).parent.glob("*.py"):
        with path.open("rb") as fh:
            for _line, _func, message, _comments in extract_python(
                fh, {"_": None, "ngettext": (1, 2)}, [], {}
            ):
                if isinstance(message, str):
                    found.add(message)
                elif message and message[0]:
                    found.add((message[0], message[1]))
    return found


def test_every_text_of_click_a_person_reads_is_in_our_catalogue() -> None:
    ours: set[str | tuple[str, str]] = set(cli_i18n.CLICK_TEXTS) | set(cli_i18n.TYPE_WORDS)
    ours |= {(p["msg"], p["plural"]) for p in cli_i18n.CLICK_PLURALS}
    missing = sorted(map(str, {m for m in _clicks_messages() if m not in NOT_FOR_PEOPLE} - ours))
    assert not missing, f"click has texts cgd_bridge/cli_i18n.py does not list (a newer click?): {missing}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_clicks_texts_are_translated(lang: str) -> None:
    t = i18n.translator(lang)
    lacking = [m for m in (*cli_i18n.CLICK_TEXTS, *cli_i18n.TYPE_WORDS) if t.catalogue.gettext(m) == m]
    lacking += [
        p["msg"]
        for p in cli_i18n.CLICK_PLURALS
        if t.catalogue.ngettext(p["msg"], p["plural"], 2) == p["plural"]
    ]
    assert not lacking, f"{lang}: {lacking}"


def test_language_of_reads_the_last_lang_before_a_double_dash() -> None:
    assert cli_i18n.language_of(["--lang", "sw", "validate", "--lang=ne"]) == "ne"
    assert cli_i18n.language_of(["validate", "--", "--lang", "sw"]) is None
    assert cli_i18n.language_of(["validate", "--lang"]) is None


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> list[tuple[click.Command, tuple[str, ...]]]:
    found = [(command, path)]
    for name, sub in getattr(command, "commands", {}).items():
        found.extend(_commands(sub, (*path, name)))
    return found


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_commands_help_reads_in_the_language(lang: str) -> None:
    """The whole tree's --help, each page checked with EnglishFinder (lines not wrapped, so a
    flag's name is never cut at its hyphen); command paths (``db backup``) are names."""
    commands = _commands(cli)
    paths = {" ".join(path) for _, path in commands} | {name for _, path in commands for name in path}
    finder = EnglishFinder(lang, data=typed_anywhere(cli) | paths)  # reading the catalogues once
    runner = CliRunner()
    found = []
    for _command, path in commands:
        got = runner.invoke(
            cli, ["--lang", lang, *path, "--help"], prog_name="cgd-bridge",
            terminal_width=400, max_content_width=400,
        )  # fmt: skip
        assert got.exit_code == 0, got.output
        assert got.output.startswith(i18n.translator(lang)("Usage:"))
        found += [f"{' '.join(path)}: {line}" for line in finder.english_in(got.output)]
    assert len(commands) > 50
    assert not found, f"English left in the {lang} help:\n" + "\n".join(found[:20])


def test_the_version_line_in_the_language() -> None:
    english = run("--version")
    assert english.returncode == 0
    assert english.stdout.startswith("cgd-bridge, version ")
    version = english.stdout.strip().rsplit(" ", 1)[1]
    sw = run("--lang", "sw", "--version")
    assert sw.stdout.strip() == i18n.translator("sw")("cgd-bridge, version {version}", version=version)
    assert "version" not in sw.stdout


def test_the_groups_lang_reaches_a_command_without_its_own(tmp_path: Path) -> None:
    """`db current` has no --lang: `cgd-bridge --lang sw db current` speaks Swahili all the same."""
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    english = run("db", "current", "--database-url", url)
    swahili = run("--lang", "sw", "db", "current", "--database-url", url)
    assert english.returncode == swahili.returncode == 1
    assert "Run `cgd-bridge db upgrade` to migrate it." in english.stderr
    assert i18n.translator("sw")("Run `cgd-bridge db upgrade` to migrate it.") in swahili.stderr
    assert "Run " not in swahili.stderr
