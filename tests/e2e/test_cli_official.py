"""``cgd-bridge admin official load|list|delete`` in a real subprocess (#5): a file made by
``cgd-bridge convert`` from the Kenya example loads; a bad one names its rows and columns, exits 2
and stores nothing; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.official import DATAFLOW, broken_csv, official_csv
from tests.support.postgres import fresh_schema

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.sqlite'}"
        return
    with fresh_schema("cgdb_cli_official") as url:
        yield url


def cli(tmp_path: Path, db_url: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CGD_BRIDGE_DATABASE_URL": db_url, "CGD_BRIDGE_DATA_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *map(str, args)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def test_load_list_and_delete_an_official_series(tmp_path: Path, db_url: str) -> None:
    def ok(*args: str | Path) -> str:
        p = cli(tmp_path, db_url, *args)
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout

    ok("db", "upgrade")
    ok("admin", "org", "create", "knbs", "--name", "Kenya National Bureau of Statistics", "--kind", "nso")
    ok("admin", "org", "create", "sauti", "--name", "Sauti", "--kind", "cso")
    good = tmp_path / "kdhs-2022.csv"
    good.write_bytes(official_csv())
    out = ok(
        "admin",
        "official",
        "load",
        "--nso",
        "knbs",
        "--dataflow",
        DATAFLOW,
        "--label",
        "KNBS KDHS 2022",
        good,
    )
    assert "Official series 1 'KNBS KDHS 2022' of 'knbs': 60 observations of CGD_BRIDGE:DF_CGD_KE(1.0)" in out
    assert "seen by the NSO and admins only" in out

    bad = tmp_path / "broken.csv"
    bad.write_bytes(broken_csv())
    p = cli(tmp_path, db_url, "admin", "official", "load", "--nso", "knbs", "--dataflow", DATAFLOW, bad)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "broken.csv: 2 problems, nothing was stored" in p.stderr
    assert "row 2, column 'SEX': 'Femme' is not a code of IAEG-SDGs:CL_SEX(1.1)" in p.stderr
    assert "row 4, column 'OBS_VALUE': 'n/a' is not a number" in p.stderr

    p = cli(tmp_path, db_url, "admin", "official", "load", "--nso", "sauti", "--dataflow", DATAFLOW, good)
    assert p.returncode == 2
    assert "'sauti' is a cso, not an NSO" in p.stderr
    p = cli(
        tmp_path, db_url, "admin", "official", "load", "--nso", "knbs", "--dataflow", "X:DF_NONE(1.0)", good
    )
    assert p.returncode == 2
    assert "DF_NONE" in p.stderr
    assert "Traceback" not in p.stderr

    listing = ok("admin", "official", "list").splitlines()
    assert listing[0].split()[:4] == ["ID", "NSO", "DATAFLOW", "LABEL"]
    assert len(listing) == 2  # the broken file stored nothing
    assert "KNBS KDHS 2022" in listing[1]
    assert "private" in listing[1]
    assert "Official series 1 'KNBS KDHS 2022' is deleted." in ok("admin", "official", "delete", "1")
    assert len(ok("admin", "official", "list").splitlines()) == 1
    p = cli(tmp_path, db_url, "admin", "official", "delete", "1")
    assert p.returncode == 2
    assert "there is no official series 1" in p.stderr.lower()
