"""What every web page shares: the request's :class:`Page` (session, principal, language,
database session), rendering a template, the CSRF check, and HTML error pages.

Routes of :mod:`cgd_bridge.server.web.routes` are :class:`WebRoute`\\ s: before the handler runs,
the session cookie is read and re-validated (:func:`cgd_bridge.server.web.session.principal_of`)
and the page context is put on ``request.state.page``; any
:class:`~cgd_bridge.errors.CgdBridgeError` the handler raises becomes an HTML page with the
same status, the problem and the fix in plain words (never a traceback).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cgd_bridge import __version__
from cgd_bridge.errors import CgdBridgeError, Forbidden, StoreError
from cgd_bridge.i18n import ENGLISH, N_
from cgd_bridge.server.downloads import attachment
from cgd_bridge.server.errors import DATABASE_FAILURES, database_error
from cgd_bridge.server.http import route_path
from cgd_bridge.server.web import i18n
from cgd_bridge.server.web import session as websession
from cgd_bridge.store.models import OrgKind, Role
from cgd_bridge.store.orgs import Principal

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: the roles in words of the page's language (the codes stay in the store, the API and the forms)
ROLE_NAMES = {
    Role.SUBMITTER: i18n.N_("submitter"),
    Role.REVIEWER: i18n.N_("reviewer"),
    Role.ADMIN: i18n.N_("administrator"),
}


@functools.cache
def asset_version(name: str) -> str:
    """A digest of the static file ``name``'s bytes: pages link ``/static/NAME?v=DIGEST``, which a
    browser may keep for a year (a new release changes the digest, so the link)."""
    return hashlib.blake2b((STATIC / name).read_bytes(), digest_size=6).hexdigest()


#: No asset from outside the server; no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["num"] = _num
    env.filters["digits"] = _digits
    env.filters["filesize"] = _filesize
    env.filters["urlpart"] = lambda s: quote(str(s), safe="")
    env.filters["sentence"] = _sentence
    env.filters["fill"] = _fill
    return env


@pass_context
def _sentence(context: Context, text: str | None) -> str:
    """``text`` ended with the full stop of the page's language (the danda "।" in Nepali and
    Bangla): a template never appends "." itself. Markup (a ``{% set %}`` block with links or
    emphasis) stays markup, the stop added outside it."""
    got = context.get("_")
    t = got if isinstance(got, i18n.Translator) else ENGLISH
    if not isinstance(text, Markup):
        return t.sentence(str(text or ""))
    inner = str(text).strip()
    if not inner or inner.endswith(("?", "!")):
        return Markup(inner)  # noqa: S704 - markup already, only trimmed
    # the catalogue's "{sentence}." escaped, the markup put in as it is
    return Markup(escape(t.gettext(N_("{sentence}.")))).format(sentence=Markup(inner.rstrip(".।")))  # noqa: S704


def _fill(message: str, **parts: Any) -> Markup:
    """A translated sentence with markup in its placeholders, so that the words around a link
    or an emphasised name stay one message whose word order each language chooses:
    ``{% set who %}<strong>{{ name }}</strong>{% endset %}{{ _("Signed in as {user}")|fill(user=who) }}``.
    The message is escaped; a part is escaped unless it is markup already."""
    return Markup(escape(message)).format(**parts)  # noqa: S704 - the message is escaped first


def _translator_of(context: Context) -> i18n.Translator | None:
    t = context.get("_")
    return t if isinstance(t, i18n.Translator) and t.lang != i18n.DEFAULT else None


@pass_context
def _when(context: Context, d: dt.datetime | dt.date | None) -> str:
    """A stored UTC time as the page's language writes it (Babel, CLDR's medium format); English
    keeps ``2024-03-31 14:30 UTC``. Macros imported without the context show the English form."""
    if not d:
        return ""
    t = _translator_of(context)
    if t is None:
        return d.strftime("%Y-%m-%d %H:%M UTC") if isinstance(d, dt.datetime) else d.isoformat()
    return t.date(d) + (" UTC" if isinstance(d, dt.datetime) else "")


@pass_context
def _num(context: Context, n: float | None) -> str:
    """A count as the page's language writes it (``12,34,567`` in Bangla); English keeps plain digits."""
    if n is None:
        return ""
    t = _translator_of(context)
    return t.number(n) if t is not None else str(n)


@pass_context
def _digits(context: Context, n: object) -> object:
    """A number as Python writes it (no grouping: a version, a value to the last decimal) in the
    page's language's digits; anything else, and every number on an English page, as it is."""
    t = _translator_of(context)
    return t.plain(n) if t is not None else n


@pass_context
def _filesize(context: Context, size: int | None) -> str:
    """A file's size as the page's language writes it (CLDR's digital units through Babel):
    ``7.0 MB``, ``530 kB``, ``12 byte``; decimal units, as browsers and phones show sizes."""
    if size is None:
        return ""
    from babel.units import format_unit

    t = _translator_of(context) or ENGLISH
    if size >= 1_000_000:
        mb = size / 1_000_000
        text = format_unit(mb, "digital-megabyte", length="short", format="#,##0.0", locale=t.lang)
    elif size >= 1_000:
        text = format_unit(round(size / 1_000), "digital-kilobyte", length="short", locale=t.lang)
    else:
        text = format_unit(size, "digital-byte", length="short", locale=t.lang)
    return t.digits(str(text))  # Babel's units take Latin digits whatever the locale


ENV = _environment()


_R = TypeVar("_R", bound=Response)


class CsrfError(CgdBridgeError):
    """A POST form without the right CSRF token."""

    status = 403
    title = "Form expired"


@dataclass
class Page:
    """The context of one web request.

    Attributes:
        principal: who is signed in (None: the public).
        now: the instant of the request by the app's clock (for every access decision of the page).
        data: the session cookie's contents; changing it re-sends the cookie.
        lang: the page language; ``_`` translates into it.
    """

    request: Request
    bridge: Bridge
    db: Session
    data: websession.SessionData
    principal: Principal | None
    lang: str
    _: i18n.Translator
    now: dt.datetime
    dirty: bool = False
    ended: bool = False
    flash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the database could not be asked who is signed in: the page is this 503 (:class:`WebRoute`)
    unavailable: StoreError | None = None

    # -- who ------------------------------------------------------------------------------
    @property
    def is_cso(self) -> bool:
        p = self.principal
        return p is not None and p.org_kind == OrgKind.CSO and p.role in (Role.SUBMITTER, Role.ADMIN)

    @property
    def is_nso(self) -> bool:
        p = self.principal
        return p is not None and (p.org_kind == OrgKind.NSO or p.is_admin)

    def role_name(self, role: str) -> str:
        """A role in words of the page's language."""
        words = ROLE_NAMES.get(Role(role)) if role in set(Role) else None
        return self._(words) if words else str(role)

    def require_signed_in(self) -> Principal:
        if self.principal is None:
            raise SignInNeeded(route_path(self.request.scope))
        return self.principal

    def require(self, allowed: bool, what: str, who: str) -> Principal:
        """The principal when ``allowed``; else 403 (``what`` is only for ``who``)."""
        p = self.require_signed_in()
        if not allowed:
            raise Forbidden(
                self._(
                    "{what} is only for {who}; you are signed in as {user}, {role} of {org}",
                    what=what,
                    who=who,
                    user=p.username,
                    role=self.role_name(p.role),
                    org=p.org_slug,
                ),
                fix=self._("Sign in with an account of that kind, or go back to the home page."),
            )
        return p

    # -- forms ----------------------------------------------------------------------------
    def check_csrf(self, token: str | None) -> None:
        """Refuse a POST whose ``csrf_token`` is not this session's (403 page)."""
        sent = websession.unmasked_csrf(token) if token else None
        if sent is None or not hmac.compare_digest(sent.encode("latin-1"), self.data.csrf.encode()):
            raise CsrfError(
                N_("this form was not sent from this session's page (its security token is missing or old)"),
                fix=N_("Go back, reload the page and send the form again."),
            )

    def say(self, message: str) -> None:
        """A message for the next page (after a redirect)."""
        self.data.flash = message
        self.dirty = True

    # -- responses ------------------------------------------------------------------------
    def context(self, **values: Any) -> dict[str, Any]:
        return {
            "page": self,
            "request": self.request,
            "principal": self.principal,
            "lang": self.lang,
            "direction": self._.direction,
            "languages": i18n.offered(),
            "_": self._,
            "ngettext": self._.ngettext,
            "number": self._.number,
            "date": self._.date,
            "asset": lambda name: (
                f"{self.request.scope.get('root_path', '')}/static/{name}?v={asset_version(name)}"
            ),
            "role_name": self.role_name,
            "csrf_token": websession.masked_csrf(self.data.csrf),  # masked anew per page (BREACH)
            "version": __version__,
            "flash": self.flash,
            "root": self.request.scope.get("root_path", ""),
            "path": route_path(self.request.scope),
            "request_id": getattr(self.request.state, "request_id", None),
            **values,
        }

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        body = ENV.get_template(template).render(**self.context(**values))
        return self.finish(HTMLResponse(body, status_code=status))

    def redirect(self, url: str) -> Response:
        """A 303 to ``url``; a path of the bridge (``/inbox``) gets the root path it is served under."""
        if url.startswith("/") and not url.startswith("//"):
            url = self.request.scope.get("root_path", "") + url
        return self.finish(RedirectResponse(url, status_code=303))

    def send_file(self, content: bytes, filename: str, media_type: str | None, sha256: str) -> Response:
        """A stored file as a download: a file name safe in the header, its media type and SHA-256."""
        return self.finish(
            Response(
                content,
                media_type=media_type or "application/octet-stream",
                headers={"Content-Disposition": attachment(filename), "X-SHA256": sha256},
            )
        )

    def finish(self, response: _R) -> _R:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["Content-Language"] = self.lang
        vary = response.headers.get("Vary")
        response.headers["Vary"] = f"{vary}, Cookie, Accept-Language" if vary else "Cookie, Accept-Language"
        if self.dirty:
            secret = _secret(self.bridge)
            response.set_cookie(
                websession.COOKIE,
                websession.sign(self.data, secret),
                httponly=True,
                samesite="lax",
                secure=self.request.url.scheme == "https",
                path=self.request.scope.get("root_path", "") or "/",
            )
        return response


class SignInNeeded(CgdBridgeError):
    """A page for signed-in people only; the handler answers with a redirect to the sign-in page."""

    status = 401
    title = "Sign in"

    def __init__(self, path: str) -> None:
        super().__init__("this page needs you to sign in", fix="Sign in with your API key or password.")
        self.path = path


def _secret(bridge: Bridge) -> bytes:
    secret = bridge.extra.get("web_secret")
    if secret is None:
        configured = bridge.settings.secret_key.get_secret_value() if bridge.settings.secret_key else None
        secret = websession.load_secret(configured, bridge.settings.data_dir)
        bridge.extra["web_secret"] = secret
    return secret


def open_page(request: Request) -> Page:
    """Read the session cookie, re-validate it, choose the language (runs in a worker thread)."""
    bridge: Bridge = request.app.state.bridge
    secret = _secret(bridge)
    raw = request.cookies.get(websession.COOKIE)
    data = websession.unsign(raw, secret)
    dirty = data is None
    data = data or websession.SessionData()
    asked = i18n.normalise(request.query_params.get("lang"))
    if asked is not None and asked != data.lang:
        data.lang = asked  # the person's setting, kept in the session cookie
        dirty = True
    lang = i18n.choose(asked, request.headers.get("accept-language"), data.lang)
    now = bridge.clock()
    db = bridge.sessions()
    try:
        principal = websession.principal_of(db, data, now)
    except DATABASE_FAILURES as exc:
        # the database is busy or away: a page that says so, the session cookie left as it is
        db.close()
        page = Page(request, bridge, db, data, None, lang, i18n.translator(lang), now)
        page.unavailable = database_error(exc)
        return page
    except BaseException:
        db.close()
        raise
    ended = False
    if principal is None and data.username is not None:
        data.sign_out()
        dirty = ended = True
    flash = data.flash
    if flash is not None:
        data.flash = None
        dirty = True
    page = Page(
        request, bridge, db, data, principal, lang, i18n.translator(lang), now, dirty=dirty, ended=ended
    )
    page.flash = flash
    if ended:
        page.flash = page._(
            "Your session ended: the key was revoked or has expired, or the account changed. Please sign in again."  # noqa: E501 - one message id
        )
    return page


def get_page(request: Request) -> Page:
    page: Page = request.state.page
    return page


PageDep = Annotated[Page, Depends(get_page)]


def error_page(page: Page, status: int, title: str, problem: str, fix: str | None) -> Response:
    return page.render("error.html", status=status, title=title, problem=problem, fix=fix)


async def http_error_page(
    request: Request, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """The HTML page of a request no web route answered: an unknown path (404) or method (405).

    Raises:
        CgdBridgeError: the session could not be read (the caller answers in JSON instead).
    """
    page = await run_in_threadpool(open_page, request)
    try:
        _ = page._
        if status == 404:
            title, problem = _("Page not found"), _("there is no page at {path}", path=request.url.path)
            fix = _("Check the address, or start again from the home page.")
        elif status == 405:
            title = _("Not allowed")
            problem = _("this page does not take a {method} request", method=request.method)
            fix = _("Go back and use the page's links and forms.")
        else:
            title, problem, fix = _("Bad request"), _("the request could not be answered"), None
        response = error_page(page, status, title, problem, fix)
        response.headers.update(headers or {})
        return response
    finally:
        await run_in_threadpool(page.db.close)


class WebRoute(APIRoute):
    """An HTML route: opens the :class:`Page` first and turns errors into HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            page = await run_in_threadpool(open_page, request)
            request.state.page = page
            request.state.principal = page.principal  # for the request's log line (server/observe.py)
            try:
                if page.unavailable is not None:
                    raise page.unavailable
                return await handler(request)
            except SignInNeeded as exc:
                page.say(page._("Please sign in to see that page."))
                return page.redirect(f"/sign-in?next={quote(exc.path, safe='/')}")
            except (CgdBridgeError, DBAPIError, PoolTimeout) as failure:  # DATABASE_FAILURES
                err = failure if isinstance(failure, CgdBridgeError) else database_error(failure)
                if isinstance(err, StoreError):
                    log.warning("%s %s: %s", request.method, request.url.path, err.message)
                problem, fix = err.texts(page._)  # in the page's language where the catalogue has it
                response = error_page(page, err.status, page._(err.title), problem, fix or None)
                response.headers.update(getattr(err, "headers", None) or {})
                return response
            except RequestValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg', '')}"
                    for e in exc.errors()
                )
                return error_page(
                    page,
                    400,
                    page._("Bad request"),
                    problems,
                    page._("Go back, correct the form and send it again."),
                )
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_page(
                    page,
                    500,
                    page._("Server error"),
                    page._("the server failed on this request; the error has been logged"),
                    page._("Try again later; if it keeps failing, tell the platform administrator."),
                )
            finally:
                await run_in_threadpool(page.db.close)

        return run
