"""One place turns exceptions into responses (datasette's habit, style.md section 4).

- Under ``/sdmx/``: an SDMX error message in the version of the API asked, XML or JSON as the
  client prefers: ``/sdmx/rest`` SDMX-ML 2.1 ``mes:Error`` or SDMX-JSON ``errors[]``;
  ``/sdmx/v2`` SDMX-ML 3.0 ``mes:Error`` or SDMX-JSON 2.0 (``meta`` and ``errors[]``); each
  with the SDMX error code of its HTTP status (:mod:`cgd_bridge.sdmx.write.errors`).
- Elsewhere (the JSON API): ``{"error": {type, title, status, message, problem, fix, ...}}``.
- A web path no route answers (unknown path 404, wrong method 405): the web pages' HTML error
  page (:func:`cgd_bridge.server.web.pages.http_error_page`), not JSON.

A :class:`~cgd_bridge.errors.CgdBridgeError` keeps its status and its plain-words message;
anything else is logged with its traceback and answered as a 500 that says nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from cgd_bridge.errors import CgdBridgeError, StoreError, format_message
from cgd_bridge.i18n import ENGLISH, N_, Translator, choose, translator
from cgd_bridge.sdmx.write.errors import error_json, error_json20, error_xml
from cgd_bridge.server.http import route_path
from cgd_bridge.server.sdmx.negotiate import error_format
from cgd_bridge.server.sdmx.query import QueryError

log = logging.getLogger("cgd_bridge.server")
_SDMX_CODES = {
    400: 140,
    401: 110,
    403: 150,
    404: 100,
    405: 1405,
    406: 1406,
    413: 130,
    422: 150,
    429: 503,
    501: 501,
    503: 503,
}


def _validation_reasons(exc: RequestValidationError, t: Translator) -> str:
    """Each invalid field of a request and why, in ``t``'s language for the kinds of error people
    meet (a missing field, text where a number goes, a number out of range, ...;
    :func:`pydantic_reason`, with the values allowed), else in pydantic's English."""
    from cgd_bridge.metadata.load import pydantic_reason

    parts = []
    for e in exc.errors():
        reason = pydantic_reason(str(e.get("type", "")), str(e.get("msg", "")), e.get("ctx"))
        parts.append(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {t.value(reason)}")
    return "; ".join(parts)


def sdmx_error_response(
    request: Request,
    status: int,
    text: str,
    fix: str | None = None,
    code: int | None = None,
    headers: Mapping[str, str] | None = None,
    local: tuple[str, str, str] | None = None,
) -> Response:
    """An SDMX error message in the format the request prefers; ``local`` (a language, the
    problem and the fix in it): SDMX-ML carries those texts after the English ones, each with
    its ``xml:lang``, SDMX-JSON has them instead of the English."""
    translated = (local[0], [t for t in local[1:] if t]) if local is not None and local[0] != "en" else None
    if translated is not None and local is not None:
        json_text, json_fix = local[1], local[2] or None
    else:
        json_text, json_fix = text, fix
    code = code if code is not None else _SDMX_CODES.get(status, 500)
    fmt = error_format(request.headers.get("accept"), request.query_params.get("format"))
    hdrs = {"Vary": "Accept", **(headers or {})}
    if route_path(request.scope).startswith("/sdmx/v2/"):
        if fmt == "json":
            kind = "data" if route_path(request.scope).startswith("/sdmx/v2/data/") else "structure"
            return Response(
                error_json20(code, json_text, json_fix, kind=kind),
                status_code=status,
                media_type="application/json",
                headers=hdrs,
            )
        return Response(
            error_xml(code, text, *([fix] if fix else []), version="3.0", local=translated),
            status_code=status,
            media_type="application/xml",
            headers=hdrs,
        )
    if fmt == "json":
        return Response(
            error_json(status, json_text, json_fix, code),
            status_code=status,
            media_type="application/json",
            headers=hdrs,
        )
    return Response(
        error_xml(code, text, *([fix] if fix else []), local=translated),
        status_code=status,
        media_type="application/xml",
        headers=hdrs,
    )


def with_request_id(request: Request, error: dict[str, Any]) -> dict[str, Any]:
    """``{"error": error}`` with the request's id (``server/observe.py``), for the client to quote."""
    rid = getattr(request.state, "request_id", None)
    return {"error": {**error, "request_id": rid} if rid else error}


def _is_sdmx(request: Request) -> bool:
    return route_path(request.scope).startswith("/sdmx/")


_NOT_WEB = ("/api/", "/sdmx/", "/static/")
_NOT_WEB_EXACT = {"/api", "/sdmx", "/openapi.json", "/docs", "/healthz", "/readyz"}


def _is_web(request: Request) -> bool:
    """True for the web pages' paths: everything but the JSON API, SDMX REST and the API docs."""
    path = route_path(request.scope)
    return path not in _NOT_WEB_EXACT and not path.startswith(_NOT_WEB) and not path.startswith("/docs/")


def routes_of(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, also those of included routers (FastAPI keeps them behind a router entry)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from routes_of(included.routes)
        else:
            yield route


def allowed_methods(routes: Iterable[Any], path: str) -> list[str]:
    """The methods some route takes at ``path``, sorted: the 405's ``Allow`` (Starlette's names
    only the first route that matched the path, when several routes share it)."""
    methods: set[str] = set()
    for route in routes_of(routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and getattr(route, "methods", None) and regex.match(path):
            methods |= set(route.methods)
    return sorted(methods)


#: what a busy or unreachable database raises (:func:`cgd_bridge.store.db.unavailable`)
DATABASE_FAILURES: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout)


def database_error(exc: Exception) -> StoreError:
    """A query the database refused or could not answer (it is busy, away, a table is missing):
    a 503 with ``Retry-After`` that says to try again; what failed goes to the log only."""
    from cgd_bridge.store.db import unavailable

    found = unavailable(exc)
    if found is None:  # not a database failure: the caller's mistake, still no 500
        return StoreError(
            N_("the database could not answer this request"),
            fix=N_("Try again in a moment; if it keeps failing, tell the platform administrator."),
            internal=type(exc).__name__,
        )
    return found


def _fix_allow(request: Request, exc: StarletteHTTPException) -> None:
    if exc.status_code == 405:
        methods = allowed_methods(request.app.router.routes, route_path(request.scope))
        if methods:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(methods)}


def language_of(request: Request) -> Translator:
    """The texts of an answer in the language the request asks for (``?lang=``, else
    ``Accept-Language``, else English); the codes stay as they are."""
    return translator(choose(request.query_params.get("lang"), request.headers.get("accept-language")))


def _http_texts(request: Request, exc: StarletteHTTPException) -> tuple[str, str, str | None, dict[str, Any]]:
    """A request no route answered, in words: ``(title, problem, fix, params)``, message ids
    (the detail of another status as it is)."""
    params: dict[str, Any] = {"path": request.url.path, "method": request.method}
    detail = str(exc.detail) if exc.detail else N_("error")
    # Starlette's own detail (the status's phrase), not a route's
    default = (
        exc.status_code in HTTPStatus._value2member_map_ and detail == HTTPStatus(exc.status_code).phrase
    )
    # a route's own detail is a text, not a template: its braces (of a path asked for) stay as they are
    text = detail.replace("{", "{{").replace("}", "}}")
    if exc.status_code == 404:
        where = (
            N_("See docs/server.md for the SDMX REST paths.")
            if _is_sdmx(request)
            else N_("Check the address; docs/server.md lists the paths this server answers.")
        )
        return N_("Not found"), N_("there is nothing at {path}") if default else text, where, params
    if exc.status_code == 405 and default:
        allowed = (exc.headers or {}).get("Allow")
        methods = N_("Use one of: {allowed}.") if allowed else None
        return (
            N_("Not allowed"),
            N_("{path} does not take a {method} request"),
            methods,
            {**params, "allowed": allowed},
        )
    return detail, text, None, {}


async def bridge_error(request: Request, exc: CgdBridgeError) -> Response:
    """A :class:`CgdBridgeError` as an SDMX error message under ``/sdmx/``, JSON elsewhere."""
    if isinstance(exc, StoreError):  # the answer says what failed; the log also says where
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    headers = getattr(exc, "headers", None)
    t = language_of(request)
    if _is_sdmx(request):
        code = exc.sdmx_code if isinstance(exc, QueryError) else None
        problem, fix = exc.texts(t)
        local = (t.lang, problem, fix)
        return sdmx_error_response(request, exc.status, exc.problem, exc.fix, code, headers, local)
    return JSONResponse(with_request_id(request, exc.to_dict(t)), status_code=exc.status, headers=headers)


async def _database_failed(request: Request, exc: Exception) -> Response:
    return await bridge_error(request, database_error(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    app.add_exception_handler(CgdBridgeError, bridge_error)  # type: ignore[arg-type]
    for failure in DATABASE_FAILURES:
        app.add_exception_handler(failure, _database_failed)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        _fix_allow(request, exc)
        title, problem, fix, params = _http_texts(request, exc)
        t = language_of(request)
        english = ENGLISH.template(problem, params), ENGLISH.template(fix or "", params) or None
        local = t.template(problem, params), t.template(fix or "", params)
        if _is_sdmx(request):
            return sdmx_error_response(
                request, exc.status_code, *english, headers=exc.headers, local=(t.lang, *local)
            )
        if _is_web(request) and exc.status_code in (404, 405):
            from cgd_bridge.server.web.pages import http_error_page

            try:
                return await http_error_page(request, exc.status_code, exc.headers)
            except CgdBridgeError:
                log.warning("could not render the HTML %s page of %s", exc.status_code, request.url.path)
        error = {
            "type": "HTTPError",
            "title": t.gettext(title),
            "status": exc.status_code,
            "message": format_message(local[0], local[1] or None, t=t),
            "problem": local[0],
            "fix": local[1] or None,
        }
        return JSONResponse(with_request_id(request, error), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        t = language_of(request)
        problems = _validation_reasons(exc, t)
        problem, fix = (
            N_("the request is not valid: {problems}"),
            N_("Correct the named fields and send the request again."),
        )
        if _is_sdmx(request):
            local = (t.lang, t.gettext(problem, problems=problems), t.gettext(fix))
            english = problem.format(problems=_validation_reasons(exc, ENGLISH))
            return sdmx_error_response(request, 400, english, fix, local=local)
        body = with_request_id(
            request,
            {
                "type": "RequestValidationError",
                "title": t.gettext(N_("Bad request")),
                "status": 422,
                "message": format_message(t.gettext(problem, problems=problems), t.gettext(fix), t=t),
                "problem": problems,
                "fix": t.gettext(fix),
            },
        )
        return JSONResponse(body, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # answered outside the request's middleware (Starlette's ServerErrorMiddleware): the id
        # travels by hand, since the request's context has ended
        rid = getattr(request.state, "request_id", None)
        log.exception(
            "unexpected error on %s %s", request.method, request.url.path, extra={"request_id": rid}
        )
        text = N_("the server failed on this request; the error has been logged")
        fix = N_("Try again later; if it keeps failing, tell the platform administrator.")
        headers = {"X-Request-ID": rid} if rid else None
        t = language_of(request)
        if _is_sdmx(request):
            local = (t.lang, t.gettext(text), t.gettext(fix))
            return sdmx_error_response(request, 500, text, fix, code=500, headers=headers, local=local)
        error = {
            "type": "InternalError",
            "title": t.gettext(N_("Server error")),
            "status": 500,
            "message": format_message(t.gettext(text), t.gettext(fix), t=t),
            "problem": t.gettext(text),
            "fix": t.gettext(fix),
        }
        body = with_request_id(request, error)
        return JSONResponse(body, status_code=500, headers=headers)
