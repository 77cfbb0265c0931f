"""Every request seen once: its request id, its metrics and (``--log-format json``) its log line (#19).

:class:`Observe` is the outermost ASGI middleware. For each HTTP request it:

- takes the client's ``X-Request-ID`` when it is a plain token (:data:`REQUEST_ID`: 1 to 128
  letters, digits and ``._:-``), else makes one (32 hex digits); puts it in ``request.state``,
  in a context variable that every log record of the request carries (:class:`RequestIdFilter`),
  and in the answer's ``X-Request-ID`` header. JSON error bodies and the web pages' error page
  show it too (``server/errors.py``, ``templates/error.html``), so a CSO can quote it and an
  administrator find the request's lines in the log;
- times it to its last byte and counts it by route *template* and status
  (:mod:`cgd_bridge.server.metrics`);
- with ``log_format = json``, writes one line to the ``cgd_bridge.access`` logger: time, level,
  request_id, method, route, path, status, duration_ms, client (the address the trusted proxy
  gives, see ``--proxy-headers``) and the principal's user id and organisation when someone
  signed in or sent a key. Never the query string (it may hold ``apikey=``), headers, cookies,
  keys or passwords.

:func:`log_config` is the logging configuration ``cgd-bridge serve`` hands uvicorn: uvicorn's
own lines (``text``), or every record as one JSON object (:class:`JsonFormatter`) with uvicorn's
access log switched off, since the line above replaces it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from typing import Any

from cgd_bridge.server import metrics

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"
ACCESS = "cgd_bridge.access"
access_log = logging.getLogger(ACCESS)

#: the request id of the request being served (None outside one)
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "cgd_bridge_request_id", default=None
)


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is a plain token, else a new one."""
    for name, value in headers:
        if name.lower() == HEADER:
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if REQUEST_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request this code runs for (None outside a request)."""
    return request_id_var.get()


def route_template(scope: dict[str, Any]) -> str:
    """The template of the route that answered (``/sdmx/rest/data/{flow}/{key}``), never the raw
    path: a path no route answered is ``(unmatched)``; a mount (``/static``) is its prefix."""
    route = scope.get("route") or _match(scope)
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else metrics.UNMATCHED


def _match(scope: dict[str, Any]) -> Any:
    """The route for a request whose scope a middleware copied (HEAD served as GET, a trailing
    slash under ``/sdmx/``), so the router's note of it is not on this one."""
    from starlette.routing import Match

    from cgd_bridge.server.errors import routes_of
    from cgd_bridge.server.http import route_path

    app = scope.get("app")
    if app is None:
        return None
    path = route_path(scope)
    probe = {**scope, "method": "GET" if scope["method"] == "HEAD" else scope["method"]}
    probe["path"] = path.rstrip("/") if path.startswith("/sdmx/") and len(path) > 1 else path
    probe["root_path"] = ""
    partial = None
    for route in routes_of(app.router.routes):
        match, _ = route.matches(probe)
        if match == Match.FULL:
            return route
        if match == Match.PARTIAL and partial is None:
            partial = route
    return partial


class Observe:
    """The ASGI middleware (see the module's docstring); ``json_log``: write the access line."""

    def __init__(self, app: Any, *, json_log: bool = False) -> None:
        self.app = app
        self.json_log = json_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id_of(scope.get("headers", []))
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        status = 500

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("ascii"))]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.observe_request(scope["method"], route, status, seconds)
            if self.json_log:
                self._log(scope, rid, route, status, seconds)
            request_id_var.reset(token)

    @staticmethod
    def _log(scope: dict[str, Any], rid: str, route: str, status: int, seconds: float) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        client = scope.get("client")
        fields: dict[str, Any] = {
            "request_id": rid,
            "method": scope["method"],
            "route": route,
            "path": scope.get("path", ""),
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
        }
        if principal is not None:
            fields["user_id"] = principal.user_id
            fields["org"] = principal.org_slug
        level = logging.ERROR if status >= 500 else logging.INFO
        access_log.log(level, "%s %s %s", scope["method"], route, status, extra={"fields": fields})


class RequestIdFilter(logging.Filter):
    """Give every record the request id of the request it was logged in (``request_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, pid (which worker),
    request_id, the access line's fields, and the traceback of an exception as one string."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id_var.get()
        if rid:
            out["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def log_config(log_format: str, level: str = "info") -> dict[str, Any] | None:
    """uvicorn's ``log_config`` for ``log_format``: None keeps uvicorn's own (text)."""
    if log_format != "json":
        return None
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "cgd_bridge.server.observe.RequestIdFilter"}},
        "formatters": {"json": {"()": "cgd_bridge.server.observe.JsonFormatter"}},
        "handlers": {"json": handler},
        "loggers": {
            "uvicorn": {"handlers": ["json"], "level": upper, "propagate": False},
            "uvicorn.error": {"handlers": ["json"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "cgd_bridge": {"handlers": ["json"], "level": upper, "propagate": False},
        },
    }
