"""The ``cgd-bridge admin ... list`` tables in the operator's language (#17).

Run as the real command (a subprocess, ``CGD_BRIDGE_LANG``: the admin commands have no
``--lang``): the column headings, the words in the cells (yes/no, a MoU in force or revoked, an
official series public or private, loaded from the command line), the dates (the locale's,
:meth:`cgd_bridge.i18n.Translator.date`) and the sentence an empty list prints are catalogue
messages; what the operator typed (slugs, names, labels, conditions, URLs), the codes the
commands take (``--kind cso``, ``--role reviewer``, events) and the key prefixes stay as they are.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgd_bridge.cli import cli
from cgd_bridge.i18n import translator
from tests.support.untranslated import EnglishFinder

LISTS = {
    ("org", "list"): ("SLUG", "KIND", "NAME", "CREATED"),
    ("user", "list"): ("USERNAME", "ORG", "ROLE", "ACTIVE", "PASSWORD", "NAME"),
    ("key", "list"): ("PREFIX", "USER", "LABEL", "CREATED", "LAST USED", "EXPIRES", "REVOKED"),
    ("mou", "list"): ("ID", "CSO", "NSO", "DATAFLOWS", "FROM", "UNTIL", "STATUS", "RAW FILES", "CONDITIONS"),
    ("official", "list"): ("ID", "NSO", "DATAFLOW", "LABEL", "OBS", "SEEN BY", "LOADED", "BY", "SHA-256"),
    ("webhook", "list", "knbs"): ("ID", "URL", "EVENTS", "CREATED", "DESCRIPTION"),
    ("webhook", "deliveries", "knbs"): ("CREATED", "EVENT", "TO", "STATE", "ATTEMPTS", "LAST ERROR"),
}
#: what the operator typed and the codes the commands take: shown as they are
TYPED = {
    "Sauti ya Walemavu", "Kenya National Bureau of Statistics", "Wanjiru K.", "KNBS ETL", "simu",
    "statistical_purposes_only; cite_source", "KNBS KDHS 2022", "submitter", "reviewer", "cso", "nso",
    "Nakuru county pulls", "version.published",
}  # fmt: skip


def _run(url: str, data_dir: Path, lang: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CGD_BRIDGE_", "LC_", "LANG"))}
    env |= {"CGD_BRIDGE_DATABASE_URL": url, "CGD_BRIDGE_DATA_DIR": str(data_dir), "LANG": "C.UTF-8"}
    if lang:
        env["CGD_BRIDGE_LANG"] = lang
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "admin", *args], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A database with an organisation of each kind, users, a key, two MoUs (one revoked), an
    official series and a webhook, made by the commands themselves (in English)."""
    from tests.support.official import DATAFLOW, official_csv

    tmp = tmp_path_factory.mktemp("admin-lists")
    url = f"sqlite:///{tmp / 'bridge.sqlite'}"
    runner = CliRunner(env={"CGD_BRIDGE_LANG": "en", "CGD_BRIDGE_WEBHOOK_ALLOW_PRIVATE": "true"})

    def ok(*args: str) -> None:
        result = runner.invoke(cli, ["--data-dir", str(tmp), *args, "--database-url", url])
        assert result.exit_code == 0, (args, result.output, result.exception)

    ok("db", "upgrade")
    ok("admin", "org", "create", "sauti", "--name", "Sauti ya Walemavu", "--kind", "cso")
    ok("admin", "org", "create", "knbs", "--name", "Kenya National Bureau of Statistics", "--kind", "nso")
    ok("admin", "user", "create", "wanjiru", "--org", "knbs", "--role", "reviewer", "--name", "Wanjiru K.")
    ok("admin", "user", "create", "amina", "--org", "sauti", "--role", "submitter")
    ok("admin", "key", "create", "wanjiru", "--label", "KNBS ETL", "--expires", "2099-12-31")
    for raw in ("--raw-files", "--no-raw-files"):
        ok("admin", "mou", "create", "--cso", "sauti", "--nso", "knbs", "--dataflow", "*", "--until",
           "2030-06-30", "--condition", "statistical_purposes_only", "--condition", "cite_source",
           raw)  # fmt: skip
    ok("admin", "mou", "revoke", "2")
    csv = tmp / "kdhs.csv"
    csv.write_bytes(official_csv())
    ok("admin", "official", "load", "--nso", "knbs", "--dataflow", DATAFLOW, "--label", "KNBS KDHS 2022",
       str(csv))  # fmt: skip
    ok("admin", "webhook", "create", "knbs", "--url", "http://127.0.0.1:9/hook", "--event",
       "version.published", "--description", "Nakuru county pulls")  # fmt: skip
    _a_delivery(url)
    return url, tmp


def _a_delivery(url: str) -> None:
    """One webhook delivery in the log, waiting for its first attempt."""
    from cgd_bridge.store.db import make_engine, make_sessionmaker
    from cgd_bridge.store.models import Channel, utcnow
    from cgd_bridge.store.orgs import get_organisation
    from cgd_bridge.store.outbox import _row

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            org = get_organisation(session, slug="knbs")
            item = _row(
                "version.published", Channel.WEBHOOK, {}, utcnow(), organisation_id=org.id, webhook_id=1
            )
            session.add(item)
            session.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_every_admin_list_is_in_the_language(filled: tuple[str, Path], lang: str) -> None:
    url, data_dir = filled
    t = translator(lang)
    finder = EnglishFinder(lang, data=TYPED | {url, "http://127.0.0.1:9/hook"})
    for args, headings in LISTS.items():
        p = _run(url, data_dir, lang, *args)
        assert p.returncode == 0, p.stderr
        header, *rows = p.stdout.splitlines()
        for heading in headings:
            assert t(heading) in header, (args, heading, header)
            if t(heading) != heading:
                assert heading not in header.split("  "), (args, heading, header)
        left = finder.english_in(p.stdout)
        assert not left, (args, left, p.stdout)
        if args[0] == "mou":  # the dates of the MoU (through 2030-06-30) as the locale writes them
            assert t.date(dt.datetime(2030, 7, 1)) in p.stdout, p.stdout
            words = " ".join(rows).split()
            assert t("yes") in words
            assert t("no") in words
            assert t("in force") in p.stdout
            assert t("revoked") in p.stdout
        if args[1] == "deliveries":
            assert t("pending") in p.stdout
        if args[0] == "official":
            assert t("private") in p.stdout
            assert t("(command line)") in p.stdout


@pytest.mark.parametrize("lang", ["sw", "bn"])
def test_an_empty_list_says_so_in_the_language(tmp_path: Path, lang: str) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert CliRunner().invoke(cli, ["db", "upgrade", "--database-url", url]).exit_code == 0
    for args in (("org", "list"), ("official", "list")):
        p = _run(url, tmp_path, lang, *args)
        assert p.returncode == 0, p.stderr
        said = p.stdout.strip()
        assert said, args
        assert len(said.splitlines()) == 1, said  # one sentence, no table of headings alone
        commands = {"`cgd-bridge admin org create`", "`cgd-bridge admin official load`"}
        left = EnglishFinder(lang, data=commands).english_in(said)
        assert not left, (args, left)
    english = _run(url, tmp_path, None, "org", "list").stdout
    assert "No organisations yet" in english, english


def test_english_lists_keep_their_headings_and_words(filled: tuple[str, Path]) -> None:
    url, data_dir = filled
    listing = _run(url, data_dir, None, "mou", "list").stdout
    header = listing.splitlines()[0]
    assert header.split("  ")[0] == "ID"
    assert "RAW FILES" in header
    assert "in force" in listing
    assert "revoked" in listing
    assert "Jul 1, 2030" in listing  # the date as English writes it
