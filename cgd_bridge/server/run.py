"""Running the server: ``cgd-bridge serve`` and ``cgd-bridge demo`` call :func:`run_server`.

One worker runs the app object in-process; several workers (``--workers N``) are separate
processes that each build the app from the environment (:func:`app_from_env`), which is why
the settings travel as ``CGD_BRIDGE_*`` variables. Migrations run once before the workers
start, so an unreachable database is reported plainly instead of by every worker.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from collections.abc import Callable

from fastapi import FastAPI

from cgd_bridge.i18n import ENGLISH, N_, Translator
from cgd_bridge.settings import Settings

_KEY_IN_QUERY = re.compile(r"(?i)(\b(?:apikey|api_key)=)([^&#\s]*)")
_KEY_PREFIX = re.compile(r"cgdb_[A-Za-z0-9]+_")


class MaskKeys(logging.Filter):
    """Mask ``?apikey=`` / ``?api_key=`` in uvicorn's access log: only the key's public prefix
    (``cgdb_3f9a1c2e4b5d_***``) is written, so a log file gives no one the key (#14)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "=" in a for a in record.args):
            record.args = tuple(_mask(a) if isinstance(a, str) else a for a in record.args)
        return True


def _mask(text: str) -> str:
    def hide(m: re.Match[str]) -> str:
        prefix = _KEY_PREFIX.match(m.group(2))
        return f"{m.group(1)}{prefix.group() if prefix else ''}***"

    return _KEY_IN_QUERY.sub(hide, text)


def mask_keys_in_access_log() -> None:
    """Install :class:`MaskKeys` on ``uvicorn.access`` (once; the server and every worker call it)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskKeys) for f in access.filters):
        access.addFilter(MaskKeys())


#: glibc's ``mallopt`` parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: freed heap kept for the next answer rather than handed back to the kernel
HEAP_KEPT = 64 * 1024 * 1024
#: allocations at least this large are mapped (and unmapped when freed) on their own
MAPPED_FROM = 16 * 1024 * 1024


def keep_heap() -> bool:
    """Let glibc's malloc keep freed memory for reuse instead of returning it after each chunk.

    A streamed answer passes through the event loop in chunks of about 1 MiB, and uvicorn
    copies each into a new ``bytes`` with its chunked-encoding frame; glibc returned that memory
    to the kernel (its adaptive trim threshold) and faulted fresh, zeroed pages in for the next
    chunk: about 2,000 page faults and 5-10 ms of system time per 38 MB SDMX-CSV pull, more
    than a fifth of what the server added to the writer (benchmarks/README.md,
    server_vs_writer.py). Fixed thresholds keep up to :data:`HEAP_KEPT` of freed heap. False
    where there is no glibc ``mallopt`` (another C library, another system): nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM)) and bool(mallopt(_M_TRIM_THRESHOLD, HEAP_KEPT))


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (uvicorn's ``--factory`` entry for workers)."""
    from cgd_bridge.server.app import create_app
    from cgd_bridge.server.jobs import exit_with_parent

    exit_with_parent()  # the master may be killed outright: then this worker goes too (#14)
    mask_keys_in_access_log()
    keep_heap()
    return create_app(Settings())


def _has_organisations(url: str) -> bool:
    """Whether the database holds an organisation (else the start-up lines say how to begin)."""
    from sqlalchemy import func, select

    from cgd_bridge.store import db
    from cgd_bridge.store.models import Organisation

    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            return bool(session.scalar(select(func.count()).select_from(Organisation)))
    finally:
        engine.dispose()


def run_server(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    workers: int = 1,
    log_level: str = "info",
    say: Callable[[str], None] = print,
    t: Translator = ENGLISH,
) -> None:
    """Upgrade the database, then serve until interrupted.

    ``say`` is told the start-up lines in the language of ``t`` (the address, the database, the
    addresses to try, how to begin when the database has no organisation); uvicorn's own log
    lines follow, as uvicorn writes them.

    A server without its bundled structures and mappings would store codes it cannot check, so an
    incomplete install stops here, before anything starts (an InputError naming the reinstall).
    """
    import uvicorn

    from cgd_bridge.resources import FOLDERS, bundled
    from cgd_bridge.server import metrics, observe
    from cgd_bridge.server.app import create_app
    from cgd_bridge.store import db

    for folder in FOLDERS:
        bundled(folder)
    url = database_url or db.database_url(settings)
    db.upgrade(url)
    base = f"http://{host}:{port}"
    say(t.gettext(N_("cgd-bridge serving on {address} (database: {database})"), address=f"{base}/",
                  database=db.redact(url)))  # fmt: skip
    lines = (
        (N_("SDMX REST v1"), f"{base}/sdmx/rest/dataflow/all/all/latest"),
        (N_("SDMX REST v2"), f"{base}/sdmx/v2/structure/dataflow/*/*/+"),
        (N_("API documentation"), f"{base}/docs"),
    )
    names = [t.gettext(name) for name, _ in lines]
    wide = max(len(n) for n in names)
    for name, (_, address) in zip(names, lines, strict=True):
        say(f"  {name + ':':<{wide + 1}} {address}")
    if settings.proxy_headers:
        say("  " + t.gettext(N_("behind a proxy: client address and scheme from {proxies} only"),
                             proxies=settings.forwarded_allow_ips))  # fmt: skip
    if settings.root_path:
        say(
            "  "
            + t.gettext(N_("served under the path {path} (the proxy strips it)"), path=settings.root_path)
        )
    if not _has_organisations(url):
        say(
            "  "
            + t.gettext(
                N_("The database has no organisations yet: begin with {command} (docs/cli.md)."),
                command="`cgd-bridge admin org create`",
            )
        )
    mask_keys_in_access_log()
    logging_options: dict[str, object] = {}
    json_config = observe.log_config(settings.log_format, log_level)
    if json_config is not None:  # one JSON line per request replaces uvicorn's access log
        logging_options = {"log_config": json_config, "access_log": False}
    # uvicorn believes X-Forwarded-* from 127.0.0.1 unless told otherwise: off unless asked (#19)
    proxy = {
        "proxy_headers": settings.proxy_headers,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "root_path": settings.root_path,
    }
    if workers <= 1:
        keep_heap()
        app = create_app(settings, database_url=url)
        uvicorn.run(app, host=host, port=port, log_level=log_level, **proxy, **logging_options)  # type: ignore[arg-type]
        return
    metrics.prepare_multiprocess()  # one scrape sums every worker: a new directory for this run
    os.environ["CGD_BRIDGE_DATABASE_URL"] = url
    os.environ["CGD_BRIDGE_DATA_DIR"] = str(settings.data_dir)
    os.environ["CGD_BRIDGE_LOG_FORMAT"] = settings.log_format
    uvicorn.run(
        "cgd_bridge.server.run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        **proxy,  # type: ignore[arg-type]
        **logging_options,  # type: ignore[arg-type]
    )
