"""`cgd-bridge db` and `cgd-bridge admin`, through click's CliRunner and one real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgd_bridge.cli import cli
from cgd_bridge.errors import Conflict, StoreError, UsageError
from cgd_bridge.store import orgs
from cgd_bridge.store.db import head, make_engine, make_sessionmaker


def invoke(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=True)


def test_db_upgrade_creates_and_migrates_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'cgd.sqlite'}"
    result = invoke("db", "current", "--database-url", url)
    assert result.exit_code == 1
    assert "revision (empty)" in result.stdout
    assert "cgd-bridge db upgrade" in result.stderr
    result = invoke("db", "upgrade", "--database-url", url)
    assert result.exit_code == 0, result.output
    assert f"is at revision {head()} (the newest)" in result.stdout
    result = invoke("db", "current", "--database-url", url)
    assert (result.exit_code, f"revision {head()}" in result.stdout) == (0, True)


def test_the_data_dir_and_environment_choose_the_database(tmp_path, monkeypatch):
    monkeypatch.delenv("CGD_BRIDGE_DATABASE_URL", raising=False)
    assert invoke("--data-dir", str(tmp_path), "db", "upgrade").exit_code == 0
    assert (tmp_path / "cgd-bridge.sqlite").is_file()
    other = tmp_path / "env.sqlite"
    monkeypatch.setenv("CGD_BRIDGE_DATABASE_URL", f"sqlite:///{other}")
    from cgd_bridge.settings import get_settings

    get_settings.cache_clear()
    try:
        assert invoke("db", "upgrade").exit_code == 0
    finally:
        get_settings.cache_clear()
    assert other.is_file()


def test_admin_commands_manage_orgs_users_keys_and_mous(db_url):
    def ok(*args: str, input: str | None = None):
        result = invoke(*args, "--database-url", db_url, input=input)
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    ok("admin", "org", "create", "sauti", "--name", "Sauti ya Walemavu", "--kind", "cso")
    ok("admin", "org", "create", "knbs", "--name", "Kenya National Bureau of Statistics", "--kind", "nso")
    listing = ok("admin", "org", "list").stdout.splitlines()
    assert listing[0].split() == ["SLUG", "KIND", "NAME", "CREATED"]
    assert [line.split()[:2] for line in listing[1:]] == [["knbs", "nso"], ["sauti", "cso"]]

    ok("admin", "user", "create", "amina", "--org", "sauti", "--role", "submitter", "--password-stdin",
       input="a long password\n")  # fmt: skip
    ok("admin", "user", "create", "wanjiru", "--org", "knbs", "--role", "reviewer", "--name", "Wanjiru K.",
       "--email", "Wanjiru@KNBS.or.ke")  # fmt: skip
    users = ok("admin", "user", "list").stdout
    assert "amina" in users
    assert "Wanjiru K." in users

    created = ok("admin", "key", "create", "wanjiru", "--label", "KNBS ETL", "--expires", "2099-12-31")
    key = created.stdout.strip()
    assert key.startswith("cgdb_")
    assert "only time" in created.stderr
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        assert orgs.authenticate_key(session, key).username == "wanjiru"
        assert orgs.get_user(session, username="wanjiru").email == "wanjiru@knbs.or.ke"
        assert orgs.authenticate_password(session, username="amina", password="a long password") is not None
        expires = orgs.list_keys(session)[0].expires_at
        assert (expires.year, expires.month, expires.day) == (2100, 1, 1)  # through 2099-12-31
    prefix = key.split("_")[1]
    keys = ok("admin", "key", "list").stdout
    assert prefix in keys
    assert key.split("_", 2)[2] not in keys  # never the secret
    ok("admin", "key", "revoke", prefix)
    with make_sessionmaker(engine)() as session:
        assert orgs.authenticate_key(session, key) is None

    flows = ("--dataflow", "CGD_BRIDGE:DF_CGD_KE(1.0)", "--dataflow", "IAEG-SDGs,DF_SDG_GLH")
    conditions = ("--condition", "statistical_purposes_only", "--condition", "cite_source")
    out = ok(
        "admin",
        "mou",
        "create",
        "--cso",
        "sauti",
        "--nso",
        "knbs",
        *flows,
        "--until",
        "2030-06-30",
        *conditions,
    )
    out = out.stdout
    assert out.startswith("MoU 1: 'knbs' may read CGD_BRIDGE:DF_CGD_KE(1.0), IAEG-SDGs:DF_SDG_GLH of 'sauti'")
    assert "'knbs' may not download the files the CSO uploaded" in out  # off unless granted (#12)
    granted = ok("admin", "mou", "create", "--cso", "sauti", "--nso", "knbs", "--dataflow", "*",
                 "--until", "2030-06-30", "--raw-files").stdout  # fmt: skip
    assert "'knbs' may download the files the CSO uploaded (never those of microdata)" in granted
    mous = ok("admin", "mou", "list").stdout
    assert "in force" in mous
    assert "statistical_purposes_only; cite_source" in mous
    header, *rows = mous.splitlines()
    assert "RAW FILES" in header
    assert [re.search(r"\b(yes|no)\b", r).group(1) for r in rows if r.strip()[:1].isdigit()] == ["yes", "no"]
    ok("admin", "mou", "revoke", "1")
    assert "revoked" in ok("admin", "mou", "list", "--org", "knbs").stdout
    engine.dispose()


def test_admin_errors_say_what_to_do(db_url):
    invoke("admin", "org", "create", "sauti", "--name", "S", "--kind", "cso", "--database-url", db_url)
    result = invoke(
        "admin", "org", "create", "sauti", "--name", "S", "--kind", "cso", "--database-url", db_url
    )
    assert isinstance(result.exception, Conflict)
    assert "Choose another slug" in result.exception.message
    result = invoke("admin", "mou", "create", "--cso", "sauti", "--nso", "sauti", "--dataflow", "X",
                    "--until", "2030-01-01", "--database-url", db_url)  # fmt: skip
    assert isinstance(result.exception, UsageError)
    result = invoke("admin", "org", "create", "x", "--name", "X", "--kind", "ngo", "--database-url", db_url)
    assert result.exit_code == 2  # click's own usage error
    assert "'ngo' is not one of" in result.stderr


def test_admin_refuses_an_unmigrated_database(tmp_path):
    result = invoke("admin", "org", "list", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert isinstance(result.exception, StoreError)
    assert "cgd-bridge db upgrade" in result.exception.message


@pytest.mark.e2e
def test_the_real_command_migrates_and_fails_cleanly(tmp_path: Path):
    exe = Path(sys.executable).with_name("cgd-bridge")
    env = {k: v for k, v in os.environ.items() if k != "CGD_BRIDGE_DATABASE_URL"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), "--data-dir", str(tmp_path), *args], capture_output=True, text=True,
                              env=env, timeout=120, check=False)  # fmt: skip

    done = run("db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cgd-bridge.sqlite").is_file()
    assert run("admin", "org", "create", "sauti", "--name", "Sauti", "--kind", "cso").returncode == 0
    again = run("admin", "org", "create", "sauti", "--name", "Sauti", "--kind", "cso")
    assert again.returncode == 2
    assert again.stderr.strip() == "Error: An organisation 'sauti' already exists. Choose another slug."


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_operator_lines_follow_cgd_bridge_lang(tmp_path, monkeypatch, lang):
    """#17: the success lines of `db` and `admin` are in CGD_BRIDGE_LANG's language (they have no
    --lang of their own); what they quote (slugs, names, URLs, revisions) stays as it is. The
    next command without the variable is English again: the language is read per command."""
    from cgd_bridge.i18n import translator
    from tests.support.untranslated import EnglishFinder

    url = f"sqlite:///{tmp_path / 'cgd.sqlite'}"
    monkeypatch.setenv("CGD_BRIDGE_LANG", lang)
    said = [invoke("db", "current", "--database-url", url)]
    said.append(invoke("db", "upgrade", "--database-url", url))
    said.append(invoke("admin", "org", "create", "sauti", "--name", "Sauti ya Walemavu", "--kind", "cso",
                       "--database-url", url))  # fmt: skip
    said.append(
        invoke(
            "admin", "user", "create", "amina", "--org", "sauti", "--role", "submitter", "--database-url", url
        )
    )
    said.append(invoke("admin", "key", "create", "amina", "--label", "simu", "--database-url", url))
    contact = ("admin", "user", "contact", "amina", "--email", "amina@sauti.example", "--language", lang)
    said.append(invoke(*contact, "--database-url", url))
    said.append(invoke("admin", "org", "digest", "sauti", "--off", "--database-url", url))
    assert [r.exit_code for r in said] == [1, 0, 0, 0, 0, 0, 0], [r.output for r in said]
    t = translator(lang)
    assert (
        t("The database {url} is at revision {revision} (the newest).", url=url, revision=head())
        in said[1].stdout
    )
    text = "\n".join(r.stdout + r.stderr for r in said)
    prefix = said[4].stdout.strip().split("_")[1]  # the key is printed alone, cgdb_<prefix>_<secret>
    command = f"`cgd-bridge admin key revoke {prefix}`"
    assert command in said[4].stderr
    finder = EnglishFinder(lang, data={"Sauti ya Walemavu", "submitter", "simu", command})
    assert not finder.english_in(text), finder.english_in(text)
    monkeypatch.delenv("CGD_BRIDGE_LANG")
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert "is at revision" in invoke("db", "upgrade", "--database-url", url).stdout
