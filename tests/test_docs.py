"""The docs stay true to the code (as datasette's test_docs does)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from cgd_bridge.cli import cli
from cgd_bridge.render import render_checks_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_findings_doc_is_generated_from_the_registry():
    assert (ROOT / "docs" / "findings.md").read_text(encoding="utf-8") == render_checks_markdown(), (
        "docs/findings.md is stale: run `cgd-bridge checks --markdown > docs/findings.md`"
    )


def test_every_cli_command_is_documented():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, cmd in cli.commands.items():
        assert f"cgd-bridge {name}" in text, f"docs/cli.md does not describe `cgd-bridge {name}`"
        sub = getattr(cmd, "commands", {})
        for subname in sub:
            assert f"cgd-bridge {name} {subname}" in text


def test_cli_reference_matches_help():
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", "--help"], prog_name="cgd-bridge")
    for option in re.findall(r"(--[a-z-]+)", result.output):
        assert option in text, f"docs/cli.md does not mention {option} of cgd-bridge validate"


def test_readme_has_exactly_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", quick, flags=re.S)
    commands = [line for b in blocks for line in b.strip().splitlines() if line.strip()]
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].strip() in ci, ".ci/run must call the README's test command"
