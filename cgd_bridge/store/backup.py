"""``cgd-bridge db backup`` and ``db restore``: one bundle holds the database and the data folder's
structures, and a restore either puts all of it back or changes nothing.

**The bundle** is a tar file (gzipped when its name ends in ``.gz`` or ``.tgz``) holding, in order:

- ``manifest.json``: the format (:data:`FORMAT`), when it was made, the cgd-bridge version, the
  database kind (``sqlite`` or ``postgresql``), its migration revision, and the size and SHA-256
  of every other member;
- ``database.sqlite`` (SQLite: a copy made with SQLite's online backup API, consistent while the
  server writes: the copy is one read transaction, and in WAL mode readers do not stop writers)
  or ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom``, which reads one snapshot);
- ``structures/...``: the imported NSO structures (``{data_dir}/structures``).

Not in it: the web pages' signing secret (``web-secret``: people sign in again after a restore
onto a new host, unless ``CGD_BRIDGE_SECRET_KEY`` is set), the settings (environment variables)
and the server's logs. The manifest's revision is read from the copy itself (the dump's
``alembic_version`` rows), so it is the revision of the data in the bundle.

**A restore** reads the bundle into a staging folder in the data folder, checks every member's
SHA-256 against the manifest (and refuses any member that is not a plain file under the names
above), checks the revision (a revision this cgd-bridge does not know is refused: the bundle was
made by a newer version; an older one is restored and then migrated), and refuses a database or
structures folder that is not empty unless ``force``. Then:

- SQLite: the staged copy passes ``PRAGMA integrity_check`` and is migrated if older, then copied
  into the target with the backup API in one step under the bridge's write lock: one write
  transaction, so the target is the old database or the whole new one, never a mix;
- PostgreSQL: ``pg_restore --single-transaction --exit-on-error`` (with ``--clean --if-exists``
  under ``force``): a failure rolls everything back;
- the structures folder is swapped by renames: the old one is moved aside first and put back if
  the database restore fails.

Output paths go through :func:`cgd_bridge.atomic.atomic_writer`: a regular file is replaced
only once the bundle is whole; a symbolic link, FIFO or device is written through.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from cgd_bridge.atomic import atomic_writer
from cgd_bridge.errors import InputError, StoreError, UsageError
from cgd_bridge.i18n import N_, msg
from cgd_bridge.store import db

FORMAT = "cgd-bridge-backup/1"
MANIFEST = "manifest.json"
STRUCTURES = "structures"
MEMBERS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
_CHUNK = 1 << 20
#: how long a restore waits for the SQLite database's write lock (a server's writers hold it briefly)
LOCK_WAIT = 30.0
#: where Debian and Ubuntu install each PostgreSQL version's programs (``N/bin``)
PG_LIB = Path("/usr/lib/postgresql")
_PG_INSTALL = N_(
    "Install PostgreSQL's client programs, of the database server's major version or newer "
    "(Debian/Ubuntu: apt-get install postgresql-client), or put them on PATH."
)
_EMPTY = N_("the database {where} is empty (no migration has run)")
_SERVED = N_("Back up the database the bridge serves; `cgd-bridge db current` shows its revision.")


@dataclass
class Manifest:
    """What a bundle holds (``manifest.json``)."""

    database: str
    revision: str
    bridge_version: str
    created: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: str = FORMAT


@dataclass
class Restored:
    """What a restore did."""

    manifest: Manifest
    migrated_to: str | None  # the revision reached when the bundle was older than the code


# -- finding the PostgreSQL tools ------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """The path of ``pg_dump`` or ``pg_restore``: on PATH, else Debian's newest
    ``/usr/lib/postgresql/N/bin``.

    Raises:
        StoreError: not installed, with how to install it.
    """
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        PG_LIB.glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if candidates:
        return str(candidates[-1])
    raise StoreError(
        N_("{program} is not installed, and a PostgreSQL backup or restore needs it"),
        fix=_PG_INSTALL,
        params={"program": name},
    )


def _libpq(url: str) -> tuple[str, dict[str, str], str | None]:
    """``url`` for libpq (no driver name; the password in ``PGPASSWORD``, never on the command
    line) and the schema named by a ``search_path`` option, if any."""
    parsed: URL = make_url(db.normalise_url(url))
    env = {**os.environ}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    options = parsed.query.get("options")
    schema = None
    if isinstance(options, str):
        m = re.search(r"search_path\s*=\s*([A-Za-z0-9_]+)", options)
        schema = m.group(1) if m else None
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env, schema


def _run(argv: list[str], env: dict[str, str], what: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    """Run a PostgreSQL client program; ``what`` it does names it in the error (a :func:`msg`)."""
    proc = subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - our argv, no shell
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        # the program's own last line (its words, as it wrote them), else its exit code
        reason: Any = lines[-1] if lines else msg(N_("exit code {code}"), code=proc.returncode)
        raise StoreError(
            N_("{what} failed: {reason}"),
            fix=N_(
                "Check that the database server is running, the URL names it, and the client "
                "programs are of its major version or newer."
            ),
            params={"what": what, "reason": reason},
        )
    return proc


# -- backup ------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sqlite_file(url: str) -> Path:
    parsed = make_url(url)
    if not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        raise UsageError(
            N_("an in-memory SQLite database cannot be backed up or restored"),
            fix=N_("Give the URL of a database file ({example})."),
            params={"example": "sqlite:///PATH/cgd-bridge.sqlite"},
        )
    return Path(parsed.database).expanduser()


def _sqlite_revision(path: Path) -> str | None:
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
    except sqlite3.Error:
        return None
    finally:
        con.close()


def _backup_sqlite(url: str, out: Path) -> str:
    source = _sqlite_file(url)
    if not source.is_file():
        raise UsageError(
            N_("there is no database at {path}"),
            fix=N_("Give the data folder (--data-dir) or --database-url of the bridge to back up."),
            params={"path": str(source)},
        )
    src = sqlite3.connect(source, timeout=db.BUSY_TIMEOUT_MS / 1000)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)  # pages=-1: the whole database in one read transaction, a consistent copy
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the bundle
    finally:
        dst.close()
        src.close()
    revision = _sqlite_revision(out)
    if revision is None:
        raise UsageError(_EMPTY, fix=_SERVED, params={"where": str(source)})
    return revision


def _backup_postgresql(url: str, out: Path) -> str:
    target, env, schema = _libpq(url)
    argv = [pg_tool("pg_dump"), "--format=custom", f"--file={out}", f"--dbname={target}"]
    if schema:
        argv.append(f"--schema={schema}")
    _run(argv, env, msg(N_("the database dump ({program})"), program="pg_dump"))
    revision = _dump_revision(out, env)
    if revision is None:
        raise UsageError(_EMPTY, fix=_SERVED, params={"where": db.redact(url)})
    return revision


def _dump_revision(dump: Path, env: dict[str, str]) -> str | None:
    """The ``alembic_version`` row inside a custom-format dump (read with ``pg_restore``)."""
    proc = _run(
        [pg_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump)],
        env,
        msg(N_("reading the dump's revision ({program})"), program="pg_restore"),
    )
    lines = proc.stdout.decode("utf-8", "replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line and i + 1 < len(lines):
            value = lines[i + 1].strip()
            return value if value and value != "\\." else None
    return None


def _structure_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            yield path


def backup(url: str, data_dir: Path, output: str | Path, *, now: dt.datetime | None = None) -> Manifest:
    """Write a bundle of the database at ``url`` and ``{data_dir}/structures`` to ``output``.

    Raises:
        UsageError: the database is empty or missing.
        StoreError: the database or ``pg_dump`` failed.
    """
    from cgd_bridge import __version__

    url = db.normalise_url(url)
    kind = make_url(url).get_backend_name()
    member = MEMBERS[kind]
    output = Path(output)
    near = output.parent if output.parent.is_dir() and os.access(output.parent, os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix=".cgd-bridge-backup-", dir=near) as tmp:
        dump = Path(tmp) / member
        revision = _backup_sqlite(url, dump) if kind == "sqlite" else _backup_postgresql(url, dump)
        structures = data_dir.expanduser() / STRUCTURES
        members: list[tuple[str, Path]] = [(member, dump)]
        members += [
            (f"{STRUCTURES}/{p.relative_to(structures).as_posix()}", p) for p in _structure_files(structures)
        ]
        manifest = Manifest(
            database=kind,
            revision=revision,
            bridge_version=__version__,
            created=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
            files={name: {"size": path.stat().st_size, "sha256": _sha256(path)} for name, path in members},
        )
        body = json.dumps(asdict(manifest), indent=2, sort_keys=True).encode("utf-8") + b"\n"
        gz = output.name.endswith((".gz", ".tgz"))
        with atomic_writer(output) as fh, tarfile.open(fileobj=fh, mode="w|gz" if gz else "w|") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(body), int(dt.datetime.now(dt.UTC).timestamp()), 0o644
            tar.addfile(info, io.BytesIO(body))
            for name, path in members:
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                with path.open("rb") as data:
                    tar.addfile(info, data)
    return manifest


# -- restore -----------------------------------------------------------------------------------------


def _bad(source: str, problem: str, **params: Any) -> InputError:
    """The bundle ``source`` is damaged: ``problem`` says how (a message template of ``params``)."""
    return InputError(
        N_("this is not a cgd-bridge backup, or it is damaged: {reason}"),
        fix=N_("Give a file written by `cgd-bridge db backup`, copied whole."),
        file=source,
        params={"reason": msg(problem, **params)},
    )


def _member_path(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    if name == MANIFEST or name in MEMBERS.values():
        return path
    if path.parts[0] == STRUCTURES and len(path.parts) > 1:
        return path
    return None


def _unpack(source: str, staging: Path) -> tuple[Manifest, dict[str, Path]]:
    """Read the bundle into ``staging``: the manifest and every member's staged path, checked."""
    found: dict[str, tuple[Path, str, int]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with open(source, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            for info in tar:
                if info.isdir():
                    continue
                path = _member_path(info.name)
                if path is None or not info.isfile():
                    raise _bad(source, N_("it holds '{name}', which no backup holds"), name=info.name)
                data = tar.extractfile(info)
                assert data is not None
                if info.name == MANIFEST:
                    try:
                        manifest = json.loads(data.read(1 << 20))
                    except ValueError:
                        raise _bad(source, N_("its manifest.json is not JSON")) from None
                    continue
                target = staging / "bundle" / Path(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := data.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[info.name] = (target, digest.hexdigest(), size)
    except FileNotFoundError:
        raise InputError(
            N_("the file does not exist"), fix=N_("Give the path of a backup."), file=source
        ) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise _bad(source, N_("it cannot be read as a tar file ({reason})"), reason=str(exc)) from None
    return _checked(source, manifest, found), {name: path for name, (path, _, _) in found.items()}


def _checked(source: str, manifest: Any, found: dict[str, tuple[Path, str, int]]) -> Manifest:
    """The manifest, once every member matches it."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _bad(source, N_("its manifest.json does not say '{format}'"), format=FORMAT)
    try:
        parsed = Manifest(**manifest)
    except TypeError:
        raise _bad(source, N_("its manifest.json lacks fields or has unknown ones")) from None
    if parsed.database not in MEMBERS:
        raise _bad(source, N_("the database kind '{kind}' is unknown"), kind=parsed.database)
    if set(parsed.files) != set(found) or MEMBERS[parsed.database] not in found:
        missing = sorted(set(parsed.files) - set(found)) or [MEMBERS[parsed.database]]
        extra = sorted(set(found) - set(parsed.files))
        raise _bad(
            source,
            N_("members missing: {missing}; members not in the manifest: {extra}"),
            missing=", ".join(missing) or "-",
            extra=", ".join(extra) or "-",
        )
    for name, (_, sha, size) in found.items():
        if parsed.files[name].get("sha256") != sha or parsed.files[name].get("size") != size:
            raise _bad(source, N_("'{name}' does not match its SHA-256 in the manifest"), name=name)
    return parsed


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    return {rev.revision for rev in script.walk_revisions()}


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists():
        return False
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    finally:
        con.close()


def _postgresql_has_tables(url: str) -> bool:
    engine = db.make_engine(url)
    try:
        with engine.connect() as c:
            query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
            return bool(c.execute(text(query)).scalar())
    except DBAPIError as exc:
        raise db.unavailable(exc) or StoreError(
            N_("could not read the database"),
            fix=N_("Check that the database server is running and the URL names it."),
        ) from exc
    finally:
        engine.dispose()


def _refuse_non_empty(what: dict[str, Any]) -> UsageError:
    return UsageError(
        N_("{what} is not empty, and a restore would replace it"),
        fix=N_("Restore into a new database and data folder, or add --force to replace what is there."),
        params={"what": what},
    )


@contextlib.contextmanager
def _swapped_structures(data_dir: Path, staged: Path) -> Iterator[None]:
    """Put ``staged`` in place of ``{data_dir}/structures``; put the old one back on failure."""
    target = data_dir / STRUCTURES
    old = data_dir / f".{STRUCTURES}-before-restore"
    if old.exists():
        shutil.rmtree(old)
    had = target.exists()
    if had:
        os.rename(target, old)
    try:
        os.rename(staged, target)
    except BaseException:
        if had:
            os.rename(old, target)
        raise
    try:
        yield
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        if had:
            os.rename(old, target)
        raise
    if had:
        shutil.rmtree(old, ignore_errors=True)


def restore(url: str, data_dir: Path, source: str | Path, *, force: bool = False) -> Restored:
    """Restore the bundle ``source`` into the database at ``url`` and ``{data_dir}/structures``.

    Raises:
        InputError: the bundle is damaged or not a backup.
        UsageError: it is of the other kind of database, was made by a newer cgd-bridge, or the
            target is not empty and ``force`` is not given.
        StoreError: the database or ``pg_restore`` failed (nothing was changed).
    """
    url = db.normalise_url(url)
    kind = make_url(url).get_backend_name()
    data_dir = data_dir.expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    name = str(source)
    with tempfile.TemporaryDirectory(prefix=".cgd-bridge-restore-", dir=data_dir) as tmp:
        staging = Path(tmp)
        manifest, members = _unpack(name, staging)
        if manifest.database != kind:
            raise UsageError(
                N_("this backup is of a {kind} database; {url} is {other}"),
                fix=N_("Restore it into a {kind} database (--database-url)."),
                params={"kind": manifest.database, "url": db.redact(url), "other": kind},
            )
        if manifest.revision not in _known_revisions():
            raise UsageError(
                N_(
                    "this backup was made by cgd-bridge {version}, at database revision {revision}, "
                    "which this cgd-bridge does not know"
                ),
                fix=N_("Install cgd-bridge {version} or newer to restore it."),
                params={"version": manifest.bridge_version, "revision": manifest.revision},
            )
        structures = data_dir / STRUCTURES
        if not force:
            empty_db = not (
                _sqlite_has_tables(_sqlite_file(url)) if kind == "sqlite" else _postgresql_has_tables(url)
            )
            if not empty_db:
                raise _refuse_non_empty(msg(N_("the database {url}"), url=db.redact(url)))
            if structures.is_dir() and any(structures.iterdir()):
                raise _refuse_non_empty(msg(N_("the structures folder {path}"), path=str(structures)))
        staged = staging / "bundle" / STRUCTURES
        staged.mkdir(parents=True, exist_ok=True)
        dump = members[MEMBERS[kind]]
        newest = db.head()
        migrated: str | None = None
        if kind == "sqlite":
            migrated = _stage_sqlite(dump, manifest.revision, newest, name)
        with _swapped_structures(data_dir, staged):
            if kind == "sqlite":
                _restore_sqlite(dump, _sqlite_file(url))
            else:
                _restore_postgresql(url, dump, force=force)
        if kind == "postgresql" and manifest.revision != newest:
            migrated = db.upgrade(url)
    return Restored(manifest, migrated)


def _stage_sqlite(dump: Path, revision: str, newest: str, source: str) -> str | None:
    con = sqlite3.connect(dump)
    try:
        result = con.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.Error as exc:
        raise _bad(source, N_("its database cannot be read ({reason})"), reason=str(exc)) from None
    finally:
        con.close()
    if not result or result[0] != "ok":
        raise _bad(source, N_("its database fails SQLite's integrity check ({result})"), result=str(result))
    if _sqlite_revision(dump) != revision:
        raise _bad(source, N_("its database's revision is not the manifest's"))
    if revision != newest:
        return db.upgrade(f"sqlite:///{dump}")
    return None


def _restore_sqlite(staged: Path, target: Path) -> None:
    from cgd_bridge.store.writelock import write_lock

    target.parent.mkdir(parents=True, exist_ok=True)
    lock = write_lock(target)
    if not lock.acquire(LOCK_WAIT):
        raise StoreError(
            N_("the database {path} stayed busy for {seconds} seconds"),
            fix=N_("Stop the server that uses it, then restore again."),
            params={"path": str(target), "seconds": round(LOCK_WAIT)},
        )
    try:
        src = sqlite3.connect(staged)
        dst = sqlite3.connect(target, timeout=LOCK_WAIT)
        try:
            src.backup(dst)  # pages=-1: one write transaction on the target, all or nothing
        except sqlite3.Error as exc:
            raise StoreError(
                N_("could not write the database {path} ({reason})"),
                fix=N_("Stop the server that uses it, check the folder is writable, then restore again."),
                params={"path": str(target), "reason": str(exc)},
            ) from exc
        finally:
            dst.close()
            src.close()
    finally:
        lock.release()


def _restore_postgresql(url: str, dump: Path, *, force: bool) -> None:
    target, env, _ = _libpq(url)
    argv = [
        pg_tool("pg_restore"),
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--dbname={target}",
    ]
    if force:
        argv += ["--clean", "--if-exists"]
    _run(
        [*argv, str(dump)], env, msg(N_("the restore ({program}; nothing was changed)"), program="pg_restore")
    )
