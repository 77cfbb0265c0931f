"""The API documentation at ``/docs`` (Swagger UI), served whole by the bridge so it works offline.

FastAPI's default ``/docs`` loads Swagger UI's JavaScript, CSS and favicon from a CDN, which leaves
the page blank without internet. Here the app is created with ``docs_url=None`` and this module
adds FastAPI's documented self-hosting: ``/docs`` is :func:`fastapi.openapi.docs.get_swagger_ui_html`
pointed at ``/static/swagger-ui/...``, and those files are served from the ``fastapi-offline``
package, which ships the very files FastAPI's default page takes from the CDN (swagger-ui-dist 5
and FastAPI's favicon) and keeps them up to date; nothing is copied into this repository.
(``swagger-ui-bundle`` ships Swagger UI 4, which cannot show FastAPI's OpenAPI 3.1 document.)
Only the three files the page loads are served.

The page's one inline ``<script>`` (Swagger UI's set-up) is allowed by its SHA-256 in the page's
own ``Content-Security-Policy``, which otherwise is the web pages' policy: nothing from outside
the server, no other inline script. Swagger UI's "validator" badge would load an image from
swagger.io: it is turned off.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from cgd_bridge.server.web.pages import SECURITY_HEADERS

#: Where the Swagger UI files are served.
ASSETS = "/static/swagger-ui"
#: The package's folder of files (where its own ``FastAPIOffline`` serves them from).
FOLDER = Path(fastapi_offline.__file__).resolve().parent / "static"
#: The files of that folder that ``/docs`` loads, with their media types.
FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def csp_with_inline_script(html: str) -> str:
    """The web pages' CSP, with the one inline script of ``html`` allowed by its SHA-256."""
    scripts = _INLINE_SCRIPT.findall(html)
    if len(scripts) != 1:  # a new FastAPI writing the page differently: fail loudly, not open
        raise RuntimeError(f"expected one inline <script> in the Swagger UI page, found {len(scripts)}")
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode("utf-8")).digest()).decode("ascii")
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    return policy.replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'", 1)


def install(app: FastAPI) -> None:
    """Add ``/docs`` and its assets to ``app`` (created with ``docs_url=None``).

    Call it before ``/static`` is mounted: that mount would answer for ``/static/swagger-ui/``.
    """

    @app.get(f"{ASSETS}/{{name}}", include_in_schema=False)
    async def swagger_ui_file(name: str) -> FileResponse:
        media_type = FILES.get(name)
        if media_type is None:
            raise HTTPException(404, f"{ASSETS}/{name} is not one of the Swagger UI files served here")
        return FileResponse(FOLDER / name, media_type=media_type)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=None,  # the OpenAPI document has no OAuth2 scheme to redirect for
            swagger_ui_parameters={"validatorUrl": None},  # no badge image from swagger.io
        )
        html = bytes(page.body).decode("utf-8")
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": csp_with_inline_script(html)}
        return HTMLResponse(html, headers=headers)
