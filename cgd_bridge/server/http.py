"""HTTP as SDMX web services are expected to speak it, for the SDMX REST paths (``/sdmx/``).

sdmx-rest (v1.5 ``4_8_http_content_negotiation.md``/``4_9_compression.md`` and v2
``doc/content_negotiation.md``, ``doc/status.md``) asks services to:

- compress by ``Accept-Encoding``: answers of at least :data:`MIN_GZIP_BYTES` are sent with
  brotli (``br``) when the client accepts it, else gzip (:func:`chosen_encoding` reads the
  q-values; br wins a tie: smaller than gzip's best, for less CPU), chunk
  by chunk for a streaming answer, so memory stays bounded (Starlette's gzip responder and
  :class:`BrotliResponder`, one rule for both; ``Vary: Accept-Encoding`` is added), on every
  path: the web pages, their CSS and JavaScript and the JSON API too (#17), but never what is
  compressed already (:data:`NOT_COMPRESSED`). A client that accepts only ``deflate`` (or
  refuses both with ``q=0``) gets the identity encoding, which HTTP allows;
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
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipResponder, IdentityResponder

from cgd_bridge.settings import Settings

#: Smaller answers are sent as they are (a gzip header and trailer would cost more than they save;
#: the same limit for brotli, so that the two encodings answer the same requests).
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


#: answers never compressed (gzip, brotli): compressed already (ZIP, XLSX, Parquet, images)
NOT_COMPRESSED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.apache.parquet",
)


#: brotli's quality for a small whole answer (up to :data:`BROTLI_BEST_UP_TO`): the best, for a
#: few milliseconds of CPU. Quality 11 costs about 1 ms per KB (64 ms for 56 KB of text, 306 ms
#: for 250 KB of SDMX-ML, measured with brotli 1.2 on this machine), so larger answers and
#: streams are compressed at :data:`BROTLI_FAST_QUALITY`: cheaper than gzip -9 (2.3 ms against
#: 7.0 ms for those 250 KB) and still smaller (16.8 KB against 20.3 KB).
BROTLI_QUALITY = 11
BROTLI_FAST_QUALITY = 5
BROTLI_BEST_UP_TO = 16 * 1024
#: chunks this large are compressed in a worker thread, not on the event loop (as Starlette's gzip)
_THREAD_MINIMUM = 128 * 1024


class BrotliResponder(IdentityResponder):
    """Starlette's compressing responder with brotli in place of gzip: the same decisions (no
    compression of small bodies, of excluded types, of answers encoded already or partial; the
    ``Vary`` and ``Content-Length`` headers), one ``Compressor`` per answer, each chunk of a
    streaming answer flushed so that the client can read it as it comes."""

    content_encoding = "br"

    def __init__(self, app: Any, minimum_size: int, *, exclude_content_types: tuple[str, ...]) -> None:
        super().__init__(app, minimum_size, exclude_content_types=exclude_content_types)
        self._compressor: Any = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if len(body) >= _THREAD_MINIMUM:
            import anyio.to_thread

            return await anyio.to_thread.run_sync(self._compress, body, more_body)
        return self._compress(body, more_body)

    def _compress(self, body: bytes, more_body: bool) -> bytes:
        import brotli

        if self._compressor is None:
            whole = not more_body and len(body) <= BROTLI_BEST_UP_TO
            self._compressor = brotli.Compressor(quality=BROTLI_QUALITY if whole else BROTLI_FAST_QUALITY)
        out: bytes = self._compressor.process(body)
        return out + (self._compressor.flush() if more_body else self._compressor.finish())


#: gzip's level for a small whole answer (up to :data:`BROTLI_BEST_UP_TO`, the same rule as
#: brotli's): the best. Larger answers and streams are compressed at :data:`GZIP_FAST_LEVEL`
#: (zlib's default): on a full SDMX-CSV pull (38 MB) level 9 took 0.67 s of CPU, about 9x the
#: writer's 0.08 s, and level 6 0.21 s for 3% more bytes (benchmarks/README.md,
#: server_vs_writer.py). Clients ask for gzip unasked: sdmx1 (requests) and pysdmx (httpx) send
#: ``Accept-Encoding: gzip, deflate`` by default.
GZIP_LEVEL = 9
GZIP_FAST_LEVEL = 6


class GzipResponder(GZipResponder):
    """Starlette's gzip responder with the level chosen as :class:`BrotliResponder` chooses its
    quality: the best for a small whole answer, :data:`GZIP_FAST_LEVEL` for anything larger
    or streamed (decided at the first body, before the compressor exists)."""

    def __init__(self, app: Any, minimum_size: int, *, exclude_content_types: tuple[str, ...]) -> None:
        super().__init__(
            app, minimum_size, compresslevel=GZIP_LEVEL, exclude_content_types=exclude_content_types
        )
        self._level_chosen = False

    def _compress_body(self, body: bytes, more_body: bool) -> bytes:
        if not self._level_chosen:
            whole = not more_body and len(body) <= BROTLI_BEST_UP_TO
            self.compresslevel = GZIP_LEVEL if whole else GZIP_FAST_LEVEL
            self._level_chosen = True
        out: bytes = super()._compress_body(body, more_body)
        return out


def chosen_encoding(accept_encoding: str) -> str:
    """``br``, ``gzip`` or ``identity``: the coding of the answer for an ``Accept-Encoding``
    header (RFC 9110 section 12.5.3): the highest q-value of the two we offer, br on a tie; a
    coding with ``q=0`` is refused; ``*`` stands for a coding the header does not name."""
    q: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding.strip():
            q[coding.strip()] = weight
    star = q.get("*", 0.0)
    best = max(("br", "gzip"), key=lambda c: q.get(c, star))  # br first: a tie keeps it
    return best if q.get(best, star) > 0 else "identity"


class Compressed:
    """Answers of at least :data:`MIN_GZIP_BYTES` compressed by the client's ``Accept-Encoding``:
    brotli, else gzip (:class:`GzipResponder`), else none; never the :data:`NOT_COMPRESSED` types."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = next((v for k, v in scope.get("headers") or [] if k.lower() == b"accept-encoding"), b"")
        coding = chosen_encoding(accept.decode("latin-1"))
        responder: Any
        if coding == "br":
            responder = BrotliResponder(self.app, MIN_GZIP_BYTES, exclude_content_types=NOT_COMPRESSED)
        elif coding == "gzip":
            responder = GzipResponder(self.app, MIN_GZIP_BYTES, exclude_content_types=NOT_COMPRESSED)
        else:
            responder = IdentityResponder(self.app, MIN_GZIP_BYTES, exclude_content_types=NOT_COMPRESSED)
        await responder(scope, receive, send)


def compressed(app: Any) -> Any:
    """``app`` with its answers of :data:`MIN_GZIP_BYTES` or more compressed (brotli or gzip, by
    the client's ``Accept-Encoding``), a compressed answer's ETag weak."""
    return WeakETagWhenEncoded(Compressed(app))


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
