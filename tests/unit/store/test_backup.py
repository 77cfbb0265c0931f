"""``store/backup.py``: the bundle, its checks and the all-or-nothing restore (#19).

The round trip of a served demo database (both databases, a pull compared) is in
``tests/e2e/test_backup_live.py``; these tests take the bundle apart.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from cgd_bridge.errors import InputError, StoreError, UsageError
from cgd_bridge.store import backup as bk
from cgd_bridge.store import orgs
from cgd_bridge.store.db import head, make_engine, make_sessionmaker, upgrade


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    con = sqlite3.connect(path)
    try:
        names = [
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {n: sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        con.close()


@pytest.fixture
def source(tmp_path: Path, sqlite_template: Path) -> Path:
    """A data folder with a migrated database holding two organisations and a structure file."""
    data = tmp_path / "src"
    data.mkdir()
    shutil.copy(sqlite_template, data / "cgd-bridge.sqlite")
    engine = make_engine(f"sqlite:///{data / 'cgd-bridge.sqlite'}")
    with make_sessionmaker(engine)() as session:
        orgs.create_organisation(session, slug="knbs", name="Kenya NBS", kind="nso")
        orgs.create_organisation(session, slug="sauti", name="Sauti ya Wananchi", kind="cso")
        session.commit()
    engine.dispose()
    (data / "structures" / "files").mkdir(parents=True)
    (data / "structures" / "index.json").write_text('{"artefacts": []}\n')
    (data / "structures" / "files" / "NSO_CL.xml").write_bytes(b"<Structure/>\n")
    return data


def _url(folder: Path) -> str:
    return f"sqlite:///{folder / 'cgd-bridge.sqlite'}"


def test_round_trip_restores_every_row_and_the_structures(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    manifest = bk.backup(_url(source), source, bundle)
    assert manifest.revision == head()
    assert manifest.database == "sqlite"
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    assert set(names) == {
        "manifest.json",
        "database.sqlite",
        "structures/index.json",
        "structures/files/NSO_CL.xml",
    }
    target = tmp_path / "dst"
    done = bk.restore(_url(target), target, bundle)
    assert done.migrated_to is None
    assert _rows(target / "cgd-bridge.sqlite") == _rows(source / "cgd-bridge.sqlite")
    assert (target / "structures" / "files" / "NSO_CL.xml").read_bytes() == b"<Structure/>\n"
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_gzip_bundle_by_suffix(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    bk.backup(_url(source), source, bundle)
    assert bundle.read_bytes()[:2] == b"\x1f\x8b"
    bk.restore(_url(tmp_path / "dst"), tmp_path / "dst", bundle)
    assert _rows(tmp_path / "dst" / "cgd-bridge.sqlite") == _rows(source / "cgd-bridge.sqlite")


def test_backup_is_consistent_while_a_writer_writes(source: Path, tmp_path: Path) -> None:
    """The online backup API copies one snapshot, whatever a writer does meanwhile."""
    stop = threading.Event()

    def write() -> None:
        con = sqlite3.connect(source / "cgd-bridge.sqlite", timeout=10)
        i = 0
        while not stop.is_set():
            con.execute(
                "INSERT INTO organisations (slug, name, kind, created_at) VALUES (?, ?, 'cso', ?)",
                (f"cso-{i}", f"CSO {i}", "2026-01-01 00:00:00.000000"),
            )
            con.commit()
            i += 1
        con.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for n in range(3):
            bk.backup(_url(source), source, tmp_path / f"b{n}.tar")
    finally:
        stop.set()
        thread.join()
    for n in range(3):
        target = tmp_path / f"dst{n}"
        bk.restore(_url(target), target, tmp_path / f"b{n}.tar")
        con = sqlite3.connect(target / "cgd-bridge.sqlite")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()


def test_restore_refuses_a_non_empty_target_unless_forced(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    bk.backup(_url(source), source, bundle)
    with pytest.raises(UsageError, match=r"is not empty.*--force"):
        bk.restore(_url(source), source, bundle)
    only_structures = tmp_path / "dst"
    (only_structures / "structures").mkdir(parents=True)
    (only_structures / "structures" / "mine.xml").write_text("x")
    with pytest.raises(UsageError, match=r"structures folder .* is not empty"):
        bk.restore(_url(only_structures), only_structures, bundle)
    # forced: the target becomes the bundle, the structures it had and the bundle lacks are gone
    bk.restore(_url(only_structures), only_structures, bundle, force=True)
    assert not (only_structures / "structures" / "mine.xml").exists()
    assert _rows(only_structures / "cgd-bridge.sqlite") == _rows(source / "cgd-bridge.sqlite")


def _rewrite(
    bundle: Path, out: Path, change: dict[str, bytes | None], manifest: dict[str, object] | None = None
) -> None:
    """A copy of ``bundle`` with members replaced (``None`` drops one) or added."""
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    for name, data in change.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    if manifest is not None:
        members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(out, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_damaged_or_foreign_bundle_changes_nothing(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    bk.backup(_url(source), source, bundle)
    target = tmp_path / "dst"
    bad = tmp_path / "bad.tar"
    _rewrite(bundle, bad, {"structures/index.json": b'{"artefacts": ["changed"]}\n'})
    with pytest.raises(InputError, match=r"structures/index.json' does not match its SHA-256"):
        bk.restore(_url(target), target, bad)
    _rewrite(bundle, bad, {"../evil.txt": b"x"})
    with pytest.raises(InputError, match=r"holds '\.\./evil\.txt'"):
        bk.restore(_url(target), target, bad)
    _rewrite(bundle, bad, {"database.sqlite": None})
    with pytest.raises(InputError, match=r"members missing"):
        bk.restore(_url(target), target, bad)
    (tmp_path / "not.tar").write_bytes(b"hello, not a tar file" * 100)
    with pytest.raises(InputError, match=r"cannot be read as a tar file"):
        bk.restore(_url(target), target, tmp_path / "not.tar")
    # truncated in transfer
    (tmp_path / "cut.tar").write_bytes(bundle.read_bytes()[: bundle.stat().st_size // 2])
    with pytest.raises(InputError):
        bk.restore(_url(target), target, tmp_path / "cut.tar")
    assert not (target / "cgd-bridge.sqlite").exists()
    assert not (target / "structures").exists()
    assert [p.name for p in target.iterdir()] == []


def test_a_bundle_from_a_newer_version_is_refused(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    manifest = bk.backup(_url(source), source, bundle)
    changed = {**manifest.__dict__, "revision": "9999", "bridge_version": "9.0.0"}
    _rewrite(bundle, tmp_path / "new.tar", {}, manifest=changed)
    with pytest.raises(UsageError, match=r"cgd-bridge 9\.0\.0.*revision 9999.*Install cgd-bridge 9\.0\.0"):
        bk.restore(_url(tmp_path / "dst"), tmp_path / "dst", tmp_path / "new.tar")


def test_an_older_bundle_is_restored_and_migrated(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    upgrade(_url(old), "0005")
    bundle = tmp_path / "b.tar"
    assert bk.backup(_url(old), old, bundle).revision == "0005"
    done = bk.restore(_url(tmp_path / "dst"), tmp_path / "dst", bundle)
    assert done.migrated_to == head()
    con = sqlite3.connect(tmp_path / "dst" / "cgd-bridge.sqlite")
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head()
    con.close()


def test_the_other_kind_of_database_is_refused(source: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar"
    bk.backup(_url(source), source, bundle)
    with pytest.raises(UsageError, match=r"backup is of a sqlite database"):
        bk.restore("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path / "dst", bundle)


def test_an_empty_database_is_not_backed_up(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "cgd-bridge.sqlite").close()
    with pytest.raises(UsageError, match=r"is empty"):
        bk.backup(_url(tmp_path), tmp_path, tmp_path / "b.tar")
    assert not (tmp_path / "b.tar").exists()


def test_output_through_a_symlink_and_a_fifo(source: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.tar"
    real.write_bytes(b"old")
    link = tmp_path / "link.tar"
    link.symlink_to(real)
    bk.backup(_url(source), source, link)
    assert link.is_symlink()
    assert tarfile.is_tarfile(real)

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    bk.backup(_url(source), source, fifo)
    reader.join(10)
    assert fifo.exists()
    assert not fifo.is_file()
    (tmp_path / "from-fifo.tar").write_bytes(got[0])
    bk.restore(_url(tmp_path / "dst"), tmp_path / "dst", tmp_path / "from-fifo.tar")
    assert _rows(tmp_path / "dst" / "cgd-bridge.sqlite") == _rows(source / "cgd-bridge.sqlite")


def test_missing_postgresql_tools_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bk.shutil, "which", lambda name: None)
    monkeypatch.setattr(bk, "PG_LIB", Path("/nonexistent-cgdb"))
    with pytest.raises(StoreError, match=r"(?i)pg_dump is not installed") as caught:
        bk.pg_tool("pg_dump")
    assert "apt-get install postgresql-client" in caught.value.message


def test_postgresql_schema_round_trip_refusal_and_force(tmp_path: Path) -> None:
    """A URL naming a schema (search_path) dumps that schema; the restore re-creates it, refuses
    it once it has tables, and replaces it under ``force`` (pg_restore in one transaction)."""
    from sqlalchemy import create_engine, text

    from tests.support.postgres import fresh_database, fresh_schema

    with fresh_schema("cgdb_bk") as source:
        schema = source.rsplit("%3D", 1)[1]
        upgrade(source)
        engine = make_engine(source)
        with make_sessionmaker(engine)() as session:
            orgs.create_organisation(session, slug="knbs", name="Kenya NBS", kind="nso")
            session.commit()
        engine.dispose()
        bundle = tmp_path / "pg.tar"
        assert bk.backup(source, tmp_path / "src", bundle).database == "postgresql"
        with fresh_database("cgdb_bk") as database:
            target = f"{database}?options=-csearch_path%3D{schema}"
            bk.restore(target, tmp_path / "dst", bundle)
            with pytest.raises(UsageError, match="is not empty"):
                bk.restore(target, tmp_path / "dst2", bundle)
            check = create_engine(target)
            with check.begin() as c:
                c.execute(
                    text(
                        "INSERT INTO organisations (slug, name, kind, created_at) "
                        "VALUES ('x', 'X', 'cso', now())"
                    )
                )
            bk.restore(target, tmp_path / "dst2", bundle, force=True)
            with check.connect() as c:
                slugs = sorted(c.execute(text("SELECT slug FROM organisations")).scalars())
            check.dispose()
    assert slugs == ["knbs"]
