"""``cgd-bridge demo`` and ``cgd-bridge serve`` speak the operator's language (#17).

The demo's walk-through (what it converted and published, where the reports and the database
are, the keys, what to open and try) and the server's start-up lines (the address, the
database, the addresses to try, the hint when the database has no organisations) follow
``CGD_BRIDGE_LANG`` (neither command has ``--lang``). Uvicorn's own log lines ("Started server
process", "Uvicorn running on ...") are logs, not texts for the CSO: they stay as uvicorn writes
them, and the test leaves out the lines with uvicorn's ``INFO:`` prefix. What is quoted stays
as it is: paths, addresses, the keys, the commands, the examples' data and the SDMX names.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from cgd_bridge.i18n import translator
from cgd_bridge.server.demo import DEMO_PASSWORD
from tests.support.process import free_port, running
from tests.support.untranslated import EnglishFinder, shown_as_they_are

#: uvicorn's log lines: "INFO:     Started server process [123]"
UVICORN = re.compile(r"^(INFO|WARNING|ERROR|DEBUG|CRITICAL):\s")


def _said(log: Path) -> str:
    return "\n".join(line for line in log.read_text(encoding="utf-8").splitlines() if not UVICORN.match(line))


def _env(tmp_path: Path, lang: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CGD_BRIDGE_", "LC_", "LANG"))}
    return env | {"CGD_BRIDGE_DATA_DIR": str(tmp_path / "data"), "CGD_BRIDGE_LANG": lang, "LANG": "C.UTF-8"}


@pytest.mark.parametrize("lang", ["ne"])
def test_the_demo_walk_through_is_in_the_language(tmp_path: Path, lang: str) -> None:
    import subprocess

    out = tmp_path / "demo"
    p = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "demo", "--no-serve", "-o", str(out), "--port", "8123"],
        capture_output=True, text=True, env=_env(tmp_path, lang), timeout=600, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    t = translator(lang)
    keys = set(re.findall(r"cgdb_[\w-]+", p.stdout))
    assert len(keys) == 5, p.stdout
    base = "http://127.0.0.1:8123"
    quoted = shown_as_they_are(str(out), str((out / "demo.sqlite").resolve()), base, *keys)
    database = f"sqlite:///{(out / 'demo.sqlite').resolve()}"
    serve = f"cgd-bridge serve --port 8123 --database-url {database}"
    quoted |= {database, serve, repr(DEMO_PASSWORD), "amina", "kamau", "curl"}
    finder = EnglishFinder(lang, data=quoted)
    left = finder.english_in(p.stdout)
    assert not left, "\n".join(left)
    assert t("Reports written to {output}/ (open the .html files in a browser).", output=out) in p.stdout


def _serve(folder: Path, lang: str) -> tuple[str, str]:
    """What ``cgd-bridge serve`` says until it answers (uvicorn's log lines left out), and its address."""
    port = free_port()
    log = folder / "serve.log"
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "cgd_bridge", "serve", "--port", str(port)]
    env = _env(folder, lang)
    with running(command, ready=f"{url}/healthz", log=log, env=env, timeout=300, stop_timeout=20):
        return _said(log), url


@pytest.mark.parametrize("lang", ["sw"])
def test_the_servers_start_up_lines_are_in_the_language(tmp_path: Path, lang: str) -> None:
    said, url = _serve(tmp_path, lang)
    assert f"{url}/" in said, said
    database = f"sqlite:///{tmp_path / 'data' / 'cgd-bridge.sqlite'}"
    assert database in said, said
    assert "`cgd-bridge admin org create`" in said  # an empty database: how to begin
    finder = EnglishFinder(lang, data={database, "`cgd-bridge admin org create`"})
    left = finder.english_in(said)
    assert not left, (left, said)
    english = tmp_path / "english"
    english.mkdir()
    said, url = _serve(english, "en")
    assert f"cgd-bridge serving on {url}/" in said
    assert "The database has no organisations yet" in said
