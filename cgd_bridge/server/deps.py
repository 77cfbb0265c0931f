"""Request dependencies as ``Annotated`` aliases (FastAPI template style, style.md section 5).

``BridgeDep`` is the app's :class:`~cgd_bridge.server.app.Bridge`; ``NowDep`` the instant of
the request by the app's clock (one per request); ``SessionDep`` a database session for the
request; ``PrincipalDep`` who is asking (None for the anonymous public), from
``Authorization: Bearer <key>``, ``X-API-Key: <key>`` or, for tools that cannot set headers,
``?apikey=<key>``. Every request is counted against its key's (or address's) rate limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, NoReturn

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cgd_bridge.errors import Forbidden, RateLimited, Unauthorized
from cgd_bridge.i18n import N_, msg
from cgd_bridge.store.orgs import Principal

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge


async def get_bridge(request: Request) -> Bridge:
    # async: it only reads app state, so FastAPI need not hop to its thread pool to call it
    bridge: Bridge = request.app.state.bridge
    return bridge


BridgeDep = Annotated["Bridge", Depends(get_bridge)]


async def get_now(bridge: BridgeDep) -> dt.datetime:
    """Now by the app's clock (:mod:`cgd_bridge.clock`): read once, shared by a request's dependencies."""
    return bridge.clock()


NowDep = Annotated[dt.datetime, Depends(get_now)]


def get_session(bridge: BridgeDep) -> Iterator[Session]:
    with bridge.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _key_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    if request.headers.get("x-api-key"):
        return request.headers["x-api-key"].strip()
    for name in ("apikey", "api_key"):
        if request.query_params.get(name):
            return request.query_params[name].strip()
    return None


async def rate_limit(request: Request, bridge: BridgeDep, now: NowDep) -> None:
    """Count the request against its API key's (or, without one, its address's) budget; 429 above it.

    Installed on every router but /healthz and /readyz. Only a key known to be good has a budget of its own
    (by its public prefix); a wrong, revoked or expired key is counted against the client's
    address, so inventing keys buys no requests and no database rows (#14). A key not yet decided
    in the access snapshot is authenticated here (the answer is cached for ``get_principal``),
    unless its address is out of budget already: then it waits like the address. Decided in
    memory: the worker's limiter thread shares the counts with the other workers and hosts, and
    a worker that holds its share of unreported requests of one identity exchanges them first
    (:mod:`cgd_bridge.server.ratelimit`).
    """
    limiter = bridge.limiter
    if not limiter.enabled or getattr(request.state, "rate_counted", False):
        return  # counted once per request (server/bodylimit.py may count it before the body)
    request.state.rate_counted = True
    key = _key_of(request)
    address = f"ip:{request.client.host if request.client else '?'}"
    identity = address
    if key is not None:
        snap = await bridge.access.request_snapshot(request)
        entry = bridge.access.cached_key(snap, key)
        if entry is None:
            allowed, wait = limiter.allow(address, take=False)
            if not allowed:
                _refuse(bridge, wait, N_("address"))
            await run_in_threadpool(bridge.access.authenticate, snap, key, now)
            entry = bridge.access.cached_key(snap, key)
        if entry is not None and entry.principal is not None:
            identity = key[:18]  # the key's public prefix, as the rate_usage rows name it
    allowed, wait = await limiter.aallow(identity)
    if not allowed:
        _refuse(bridge, wait, N_("address") if identity == address else N_("API key"))


def _refuse(bridge: Bridge, wait: float, what: str) -> NoReturn:
    raise RateLimited(
        N_("too many requests from this {what}"),
        fix=N_("Wait {seconds} s; the limit is {per_minute} requests a minute."),
        retry_after=wait,
        params={"what": msg(what), "seconds": max(1, round(wait)), "per_minute": bridge.limiter.per_minute},
    )


async def get_principal(request: Request, bridge: BridgeDep, now: NowDep) -> Principal | None:
    """Who is asking; a wrong, revoked or expired key is a 401 (never treated as anonymous).

    Decided once per state of the store (:mod:`cgd_bridge.server.access_cache`): a known key
    costs the change counter's query; a new one is authenticated in the thread pool.
    """
    key = _key_of(request)
    if key is None:
        return None
    snap = await bridge.access.request_snapshot(request)
    entry = bridge.access.cached_key(snap, key)
    if entry is None:
        principal = await run_in_threadpool(bridge.access.authenticate, snap, key, now)
    else:
        principal = entry.principal
        prefix = bridge.access.due_touch(entry, now)
        if prefix is not None:
            bridge.audit.touch_key(prefix, now)
    if principal is None:
        raise Unauthorized(
            N_("the API key is not valid (unknown, revoked or expired)"),
            fix=N_("Ask your administrator for a new key (cgd-bridge admin key create USER)."),
        )
    request.state.principal = principal  # for the request's log line (server/observe.py)
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]


def require_principal(principal: PrincipalDep) -> Principal:
    """A signed-in principal, or 401."""
    if principal is None:
        raise Unauthorized(
            N_("this needs an API key"),
            fix=N_(
                "Send it as 'Authorization: Bearer <key>'; an administrator creates keys with "
                "`cgd-bridge admin key create USER`."
            ),
        )
    return principal


UserDep = Annotated[Principal, Depends(require_principal)]


def require_role(principal: Principal, *roles: str) -> None:
    """Forbidden unless the principal has one of ``roles`` (admins always may)."""
    if principal.role not in roles and not principal.is_admin:
        raise Forbidden(
            N_("this needs the role {roles}; you are {role} of {org_slug}"),
            fix=N_("Ask your administrator for an account with that role."),
            params={"roles": " or ".join(roles), "role": principal.role, "org_slug": principal.org_slug},
        )
