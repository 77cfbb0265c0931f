"""HTTP as SDMX web services are expected to speak it, for the SDMX REST paths (``/sdmx/``).

sdmx-rest (v1.5 ``4_8_http_content_negotiation.md``/``4_9_compression.md`` and v2
``doc/content_negotiation.md``, ``doc/status.md``) asks services to:

- compress by ``Accept-Encoding``: answers of at least :data:`MIN_GZIP_BYTES` are gzipped
  when the client accepts it (Starlette's ``GZipMiddleware``, which compresses a streaming
  answer chunk by chunk, so memory stays bounded; ``Vary: Accept-Encoding`` is added), on every
  path: the web pages, their CSS and JavaScript and the JSON API too (#17), but never what is
  compressed already (:data:`NOT_COMPRESSED`). Only gzip is offered: a client that accepts only
  ``deflate`` gets the identity encoding, which HTTP allows;
- answer ``HEAD`` wherever ``GET`` is answered: the request is served as a ``GET`` and the
  body dropped (headers, including ``Content-Length``, stay those of the ``GET``);
- support conditional requests (``ETag``/``If-None-Match``, ``Last-Modified``/
  ``If-Modified-Since``, 304): :func:`conditional` for whole answers held in memory;
- and, for browser clients, CORS: off by default, on for the origins of
  ``Settings.cors_origins`` (preflight included), on the SDMX paths only.

:func:`install` registers all of it with one call from ``create_app``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from cgd_bridge.settings import Settings

#: Smaller answers are sent as they are (a gzip header and trailer would cost more than they save).
MIN_GZIP_BYTES = 1024
_SDMX = "/sdmx/"
#: Headers a browser client may send and read (CORS).
CORS_REQUEST_HEADERS = [
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Authorization",
    "If-Modified-Since",
    "If-None-Match",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = ["ETag", "Last-Modified", "X-Observations", "Content-Disposition", "X-Request-ID"]


def route_path(scope: Mapping[str, Any]) -> str:
    """The request's path within the bridge, without the root path it is served under.

    Behind a proxy that strips a prefix (``--root-path /cgd-bridge``), uvicorn gives the
    application the full path (``/cgd-bridge/sdmx/rest/...``) and the prefix as ``root_path``;
    everything that asks "which part of the bridge is this?" asks this function.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "") or ""
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


class _SdmxOnly:
    """Run ``inner`` (a middleware around the app) for the SDMX REST paths, the app elsewhere."""

    def __init__(self, app: Any, inner: Any) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and route_path(scope).startswith(_SDMX):
            await self.inner(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class WeakETagWhenEncoded:
    """A compressed answer's ``ETag`` becomes weak (``W/"..."``): the strong tag names the
    identity bytes (RFC 9110 section 8.8.1), and ``If-None-Match`` compares weakly, so the
    client's copy is still recognised."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def weaken(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if any(k.lower() == b"content-encoding" for k, _ in headers):
                    headers = [
                        (k, b"W/" + v if k.lower() == b"etag" and not v.startswith(b"W/") else v)
                        for k, v in headers
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, weaken)


class HeadAsGet:
    """``HEAD`` on an SDMX path: served as ``GET``, the body not sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "method": "GET"}

        async def send_headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the rest of a streaming answer: nothing goes out
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, send_headers_only)


#: answers never gzipped: already compressed (ZIP bundles, XLSX workbooks, Parquet, images)
NOT_COMPRESSED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.apache.parquet",
)


def compressed(app: Any) -> Any:
    """``app`` with its answers of :data:`MIN_GZIP_BYTES` or more gzipped for clients that take
    gzip (level 9: pages are small and read on slow links), a compressed answer's ETag weak."""
    return WeakETagWhenEncoded(
        GZipMiddleware(app, minimum_size=MIN_GZIP_BYTES, exclude_content_types=NOT_COMPRESSED)
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Add compression (every path: the web pages, their CSS and JavaScript, the JSON API and the
    SDMX answers), and HEAD and (when configured) CORS for the SDMX paths to ``app``."""
    origins = settings.cors_origin_list

    def wrap(inner_app: Any) -> Any:
        inner: Any = HeadAsGet(compressed(inner_app))
        if origins:
            inner = CORSMiddleware(
                inner,
                allow_origins=origins,
                allow_methods=["GET", "HEAD", "OPTIONS"],
                allow_headers=CORS_REQUEST_HEADERS,
                expose_headers=CORS_EXPOSED_HEADERS,
                allow_credentials=False,
                max_age=600,
            )
        return _SdmxOnly(compressed(inner_app), inner)

    app.add_middleware(_Wrapped, wrap=wrap)


class _Wrapped:
    """A middleware built by a function of the app it wraps (for :func:`install`)."""

    def __init__(self, app: Any, wrap: Any) -> None:
        self.inner = wrap(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.inner(scope, receive, send)


# -- conditional requests ------------------------------------------------------------------------


def http_date(when: dt.datetime) -> str:
    """``when`` as an HTTP date (``Last-Modified``), whole seconds."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


def not_modified_since(request: Request, last_modified: dt.datetime | None) -> bool:
    """True when ``If-Modified-Since`` is at or after ``last_modified`` (and no ``If-None-Match``,
    which takes precedence, RFC 9110 section 13.2.2)."""
    header = request.headers.get("if-modified-since")
    if not header or last_modified is None or request.headers.get("if-none-match"):
        return False
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    if last_modified.tzinfo is None:
        last_modified = last_modified.replace(tzinfo=dt.UTC)
    return last_modified.replace(microsecond=0) <= since


def etag_of(body: bytes) -> str:
    """A strong ETag: a digest of the bytes."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def conditional(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    last_modified: dt.datetime | None,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """A whole answer with ``ETag`` and ``Last-Modified``, or 304 when the client's copy is current."""
    from cgd_bridge.server.sdmx.answers import etag_matches

    tag = etag or etag_of(body)
    out = {"Vary": "Accept", **(headers or {}), "ETag": tag}
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    if etag_matches(request.headers.get("if-none-match"), tag) or not_modified_since(request, last_modified):
        out.pop("X-Observations", None)
        return Response(status_code=304, headers=out)
    return Response(body, media_type=media_type, headers=out)
