"""The web pages for people who do not use a command line (issue #5), on the same server.

Server-rendered Jinja2 pages (``templates/``), a little CSS and JavaScript served by the app
(``static/``; no asset from anywhere else), a signed session cookie with CSRF tokens
(:mod:`.session`), translatable texts (:mod:`.i18n`) and inline SVG charts (:mod:`.chart`).
The routes (:mod:`.routes`) call the same store functions and SDMX service as the JSON API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from cgd_bridge.server.web.pages import STATIC, asset_version

#: a static file asked for by its digest (``?v=``) never changes: a browser keeps it for a year
#: and does not even ask again (on a slow link, a page then costs its HTML alone)
IMMUTABLE = "public, max-age=31536000, immutable"


class Assets(StaticFiles):
    """``/static``: the pages' CSS and JavaScript, kept by browsers for a year when asked for by
    their digest (the pages' links), else revalidated with their ``ETag`` on every use."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [""])[0]
            try:
                current = asset_version(path)
            except OSError:
                current = None
            response.headers["Cache-Control"] = IMMUTABLE if asked and asked == current else "no-cache"
        return response


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
    app.mount("/static", Assets(directory=STATIC), name="static")
