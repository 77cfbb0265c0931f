"""Request bodies measured before they are read, and the key checked before a body is read.

FastAPI reads (and Starlette spools to disk) a route's whole body before it runs the route's
dependencies, so without this an anonymous 4 GB multipart body was written to disk and only
then answered 401, and an endless one filled the disk (#14). :class:`BodyGuard`, an ASGI
middleware around the whole app, decides what a request may send from the route it goes to and
its headers alone:

- **the limit** (:func:`limit_for`): a multipart body to a route that takes files may carry each
  file up to ``CGD_BRIDGE_MAX_UPLOAD_MB`` (``uploads.py`` still refuses each file above it) plus
  ``CGD_BRIDGE_MAX_FORM_KB`` for the form's fields; any other form (urlencoded, or multipart to
  a route without files) ``CGD_BRIDGE_MAX_FORM_KB``; anything else (JSON) ``CGD_BRIDGE_MAX_JSON_KB``.
  A web page posted without a signed-in session cookie gets the form limit whatever the route,
  so the public cannot make the server spool an upload.
- **up front**: a ``Content-Length`` above the limit is a 413 before a byte of the body is read;
- **while streaming**: a chunked body (or one longer than it said) is cut where it passes the
  limit: the app's reading stops there and the answer is the same 413;
- **the key first**: a route that needs an API key (its dependencies include
  :func:`~cgd_bridge.server.deps.require_principal`) answers 401 for a missing, unknown, revoked
  or expired key before reading any of the body (the decision is the one ``get_principal``
  makes, cached for the rest of the request), after the rate limit (counted here once for the
  request, so a flood of invented keys waits like its address before any is looked up).

The 413 names the limit and the setting that changes it; errors are rendered by the app's own
handlers (:mod:`cgd_bridge.server.errors`: an SDMX error message under ``/sdmx/``, JSON elsewhere).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import params
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import N_, msg, nmsg, num
from cgd_bridge.server.errors import DATABASE_FAILURES, database_error
from cgd_bridge.server.uploads import PayloadTooLarge

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

    from cgd_bridge.settings import Settings

log = logging.getLogger(__name__)
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class RouteNeeds:
    """What a route's declaration says about its body: files it takes, and whether it needs a key."""

    files: int
    needs_key: bool
    web: bool


@dataclass(frozen=True)
class BodyLimit:
    """The most a request may send: ``limit`` bytes, ``what`` it is (a composed message,
    :func:`cgd_bridge.i18n.msg`), and the ``setting`` that changes it."""

    limit: int
    what: dict[str, Any]
    setting: str
    public: bool = False  # a web page posted by someone not signed in


def _walk(dependant: Dependant) -> list[Dependant]:
    out, todo = [], [dependant]
    while todo:
        d = todo.pop()
        out.append(d)
        todo.extend(d.dependencies)
    return out


def needs_of(route: APIRoute) -> RouteNeeds:
    """Read off the route's dependency tree: its ``File`` parameters and ``require_principal``."""
    from cgd_bridge.server.deps import require_principal
    from cgd_bridge.server.web.pages import WebRoute

    deps = _walk(route.dependant)
    files = sum(1 for d in deps for f in d.body_params if isinstance(f.field_info, params.File))
    needs_key = any(d.call is require_principal for d in deps)
    return RouteNeeds(files=files, needs_key=needs_key, web=isinstance(route, WebRoute))


def limit_for(content_type: str, needs: RouteNeeds, settings: Settings, *, signed_in: bool) -> BodyLimit:
    """The body limit of a request with ``content_type`` to a route that ``needs`` what it says."""
    media = content_type.split(";", 1)[0].strip().lower()
    form = BodyLimit(settings.max_form_kb << 10, msg(N_("a form")), "CGD_BRIDGE_MAX_FORM_KB")
    if media == "multipart/form-data" and needs.files:
        if needs.web and not signed_in:
            what = msg(N_("a form from someone not signed in"))
            return BodyLimit(form.limit, what, form.setting, public=True)
        return BodyLimit(
            needs.files * (settings.max_upload_mb << 20) + form.limit,
            nmsg("an upload of {n} file", "an upload of {n} files", needs.files),
            "CGD_BRIDGE_MAX_UPLOAD_MB",
        )
    if media in ("multipart/form-data", "application/x-www-form-urlencoded") or needs.web:
        return form
    return BodyLimit(settings.max_json_kb << 10, msg(N_("a JSON body")), "CGD_BRIDGE_MAX_JSON_KB")


def too_large(limit: BodyLimit, *, said: int | None = None) -> PayloadTooLarge:
    """The 413 of a body past ``limit`` (``said``: the size its Content-Length announced), in
    words any language can carry: the sizes are numbers of the locale."""
    fix = N_("Send less (split the dataset into smaller files), or ask the administrator to raise {setting}.")
    if limit.public:
        fix = N_("Sign in first: people who are not signed in may only send small forms.")
    params = {"what": limit.what, "most": _size(limit.limit), "setting": limit.setting}
    if said is None:
        return PayloadTooLarge(
            N_("the request is larger than the {most} this address accepts for {what}"),
            fix=fix,
            params=params,
        )
    return PayloadTooLarge(
        N_("the request ({size}) is larger than the {most} this address accepts for {what}"),
        fix=fix,
        params={**params, "size": _size(said)},
    )


def _size(n: int) -> dict[str, Any]:
    """``n`` bytes in MiB or KiB, to one decimal (none when whole), as a composed message."""
    if n >= 1 << 20:
        return msg(N_("{n} MiB"), n=num(round(n / (1 << 20), 1)))
    return msg(N_("{n} KiB"), n=num(round(n / (1 << 10), 1)))


class _Stop(Exception):
    """Raised into the app where it asks for a body it may not have (its answer is replaced)."""


class BodyGuard:
    """The ASGI middleware of the module docstring (installed by ``create_app``).

    It decides when the app first asks for the body, that is after routing: the route is then
    in the scope (``scope["route"]``), and nothing of the body has been read yet.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._needs: dict[int, RouteNeeds] = {}

    def _route_needs(self, scope: Scope) -> RouteNeeds:
        route = scope.get("route")
        if not isinstance(route, APIRoute):
            return RouteNeeds(files=0, needs_key=False, web=False)
        needs = self._needs.get(id(route))
        if needs is None:
            needs = self._needs[id(route)] = needs_of(route)
        return needs

    async def _decide(self, request: Request, bridge: Any) -> BodyLimit:
        """The request's limit; raises the 401 or 413 it gets before a byte of its body is read."""
        headers = request.headers
        try:
            said: int | None = int(headers["content-length"]) if "content-length" in headers else None
        except ValueError:
            said = None
        has_body = "chunked" in headers.get("transfer-encoding", "").lower() or bool(said)
        needs = self._route_needs(request.scope)
        if needs.needs_key and has_body:
            from cgd_bridge.server.deps import get_principal, rate_limit, require_principal

            now = bridge.clock()
            await rate_limit(request, bridge, now)  # before authenticating: invented keys wait too
            require_principal(await get_principal(request, bridge, now))
        signed_in = needs.web and _signed_in_cookie(request, bridge)
        limit = limit_for(headers.get("content-type", ""), needs, bridge.settings, signed_in=signed_in)
        if said is not None and said > limit.limit:
            raise too_large(limit, said=said)
        return limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: C901 - one state machine
        fastapi_app = scope.get("app")
        bridge = getattr(getattr(fastapi_app, "state", None), "bridge", None)
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or bridge is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        limit: BodyLimit | None = None
        refusal: CgdBridgeError | None = None
        seen = 0
        responded = False

        async def guarded_receive() -> Message:
            nonlocal limit, refusal, seen
            if refusal is not None:
                raise _Stop()
            if limit is None:
                try:
                    limit = await self._decide(request, bridge)
                except CgdBridgeError as exc:
                    refusal = exc
                    raise _Stop() from exc
                except DATABASE_FAILURES as exc:  # the key could not be checked: a 503, not a 400
                    refusal = database_error(exc)
                    log.warning("%s %s: %s", scope["method"], scope["path"], refusal.message)
                    raise _Stop() from exc
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit.limit:
                    refusal = too_large(limit)
                    log.info(
                        "cut a request body to %s at %d bytes (limit %d)", scope["path"], seen, limit.limit
                    )
                    raise _Stop()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if refusal is not None:  # the app's answer to _Stop (a 400 "error parsing the body")
                return
            responded = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if refusal is None:
                raise
        if refusal is not None and not responded:
            await _answer(fastapi_app, request, refusal, send, web=self._route_needs(scope).web)


def _signed_in_cookie(request: Request, bridge: Any) -> bool:
    """The request carries a session cookie we signed for a sign-in (not yet re-checked in the store)."""
    from cgd_bridge.server.web import session as websession
    from cgd_bridge.server.web.pages import _secret

    raw = request.cookies.get(websession.COOKIE)
    if not raw:
        return False
    data = websession.unsign(raw, _secret(bridge))
    return data is not None and data.username is not None


async def _answer(app: Any, request: Request, exc: CgdBridgeError, send: Send, *, web: bool) -> None:
    """The app's own answer to ``exc`` (its exception handler; a web page's HTML error page),
    sent without reading the body."""
    response: Response
    if web:
        from cgd_bridge.server.web.pages import error_page, open_page

        page = await run_in_threadpool(open_page, request)
        try:
            problem, fix = exc.texts(page._)
            response = error_page(page, exc.status, page._(exc.title), problem, fix)
            response.headers.update(getattr(exc, "headers", None) or {})  # a 503's Retry-After
        finally:
            await run_in_threadpool(page.db.close)
    else:
        response = await app.exception_handlers[CgdBridgeError](request, exc)
    response.headers["Connection"] = "close"  # the body was not read: the connection cannot be reused

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(request.scope, no_body, send)
