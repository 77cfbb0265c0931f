"""The web pages for people who do not use a command line (issue #5), on the same server.

Server-rendered Jinja2 pages (``templates/``), a little CSS and JavaScript served by the app
(``static/``; no asset from anywhere else), a signed session cookie with CSRF tokens
(:mod:`.session`), translatable texts (:mod:`.i18n`) and inline SVG charts (:mod:`.chart`).
The routes (:mod:`.routes`) call the same store functions and SDMX service as the JSON API.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from cgd_bridge.server.web.pages import STATIC


def install(app: FastAPI, *, dependencies: list[Any] | None = None) -> None:
    """Add the pages and ``/static`` to ``app``."""
    from cgd_bridge.server.web.admin_pages import router as admin_router
    from cgd_bridge.server.web.mapping_builder import router as mapping_router
    from cgd_bridge.server.web.official_pages import router as official_router
    from cgd_bridge.server.web.routes import router

    app.include_router(router, dependencies=dependencies)
    app.include_router(official_router, dependencies=dependencies)
    app.include_router(admin_router, dependencies=dependencies)
    app.include_router(mapping_router, dependencies=dependencies)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
