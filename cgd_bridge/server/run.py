"""Running the server: ``cgd-bridge serve`` and ``cgd-bridge demo`` call :func:`run_server`.

One worker runs the app object in-process; several workers (``--workers N``) are separate
processes that each build the app from the environment (:func:`app_from_env`), which is why
the settings travel as ``CGD_BRIDGE_*`` variables. Migrations run once before the workers
start, so an unreachable database is reported plainly instead of by every worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from fastapi import FastAPI

from cgd_bridge.settings import Settings


def app_from_env() -> FastAPI:
    """The app for the settings in the environment (uvicorn's ``--factory`` entry for workers)."""
    from cgd_bridge.server.app import create_app

    return create_app(Settings())


def run_server(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    workers: int = 1,
    log_level: str = "info",
    say: Callable[[str], None] = print,
) -> None:
    """Upgrade the database, then serve until interrupted.

    A server without its bundled structures and mappings would store codes it cannot check, so an
    incomplete install stops here, before anything starts (an InputError naming the reinstall).
    """
    import uvicorn

    from cgd_bridge.resources import FOLDERS, bundled
    from cgd_bridge.server.app import create_app
    from cgd_bridge.store import db

    for folder in FOLDERS:
        bundled(folder)
    url = database_url or db.database_url(settings)
    db.upgrade(url)
    say(f"cgd-bridge serving on http://{host}:{port}/ (database: {db.redact(url)})")
    say(f"  SDMX REST v1: http://{host}:{port}/sdmx/rest/dataflow/all/all/latest")
    say(f"  SDMX REST v2: http://{host}:{port}/sdmx/v2/structure/dataflow/*/*/+")
    say(f"  API docs:     http://{host}:{port}/docs")
    if workers <= 1:
        uvicorn.run(create_app(settings, database_url=url), host=host, port=port, log_level=log_level)
        return
    os.environ["CGD_BRIDGE_DATABASE_URL"] = url
    os.environ["CGD_BRIDGE_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "cgd_bridge.server.run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
