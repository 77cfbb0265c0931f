"""The bridge server: ``create_app(settings)`` assembles the FastAPI application.

Routers (one per resource, assembled here):

- ``/sdmx/rest/...``  SDMX REST v1 (SDMX 2.1): data, structures, availability, metadata, schemas;
- ``/sdmx/v2/...``    SDMX REST v2 (SDMX 3.0);
- ``/api/...``        the bridge's JSON API: submissions, review, audit, lineage (OpenAPI at /docs,
  served with its Swagger UI files by the bridge itself: :mod:`.api_docs`);
- ``/healthz``        liveness: the process answers (also the baseline of the load benchmark);
- ``/readyz``         readiness: the database answers too (503 with ``Retry-After`` when not);
- ``/metrics``        Prometheus metrics (:mod:`.metrics`; loopback only unless configured);
- ``/feeds/{agency}/{id}/{version}.atom``: the Atom feed of a dataflow's publications (#19);
- ``/``, ``/sign-in``, ``/submit``, ``/inbox``, ``/dataflows``...: the web pages (``server/web/``),
  with their CSS and JavaScript under ``/static``.

Nothing is created at import time: the engine, the structures and the caches live on
``app.state.bridge`` (a :class:`Bridge`), built in the lifespan from the settings, so tests can
start one app per database. The bridge also holds the app's clock (:mod:`cgd_bridge.clock`),
the one source of "now" for the decisions made while serving a request (the system clock
unless ``create_app`` is given another). On start the Alembic migrations run (``db upgrade``), and
``sdmx.reader.xml.v30`` is imported first (sdmx1's process-wide reader bug, see
docs/architecture.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import sdmx.reader.xml.v30  # noqa: F401 - must precede any SDMX-ML 2.1 read (sdmx1 process-state bug)
from fastapi import Depends, FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cgd_bridge import __version__
from cgd_bridge.clock import Clock, seconds, system_clock
from cgd_bridge.server import metrics
from cgd_bridge.server.access_cache import AccessCache
from cgd_bridge.server.audit_writer import AuditWriter
from cgd_bridge.server.bodylimit import BodyGuard
from cgd_bridge.server.deps import get_principal, rate_limit
from cgd_bridge.server.errors import install_error_handlers
from cgd_bridge.server.jobs import Jobs
from cgd_bridge.server.notify import Notifier
from cgd_bridge.server.observe import Observe
from cgd_bridge.server.ratelimit import SharedRateLimiter
from cgd_bridge.server.sdmx.answers import AnswerCache
from cgd_bridge.server.sdmx.structures import StructureService
from cgd_bridge.settings import Settings, get_settings
from cgd_bridge.structures import Structures


@dataclass
class Bridge:
    """Everything a request needs, built once per app (see :func:`create_app`)."""

    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    structures: Structures
    structure_service: StructureService
    limiter: SharedRateLimiter
    access: AccessCache
    audit: AuditWriter
    answers: AnswerCache
    jobs: Jobs
    notifier: Notifier | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _TrailingSlash:
    """Serve ``/sdmx/.../`` like ``/sdmx/...``: pysdmx adds a trailing slash, and httpx does not
    follow the redirect Starlette would answer with."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/sdmx/") and path.endswith("/") and len(path) > 1:
                scope = dict(scope)
                scope["path"] = path.rstrip("/")
                raw = scope.get("raw_path")
                if raw:
                    scope["raw_path"] = raw.rstrip(b"/")
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None, *, database_url: str | None = None, clock: Clock = system_clock
) -> FastAPI:
    """The FastAPI app for ``settings`` (default: from the environment).

    Args:
        settings: where the data folder is, the database URL, rate limits.
        database_url: overrides ``settings.database_url`` (tests, ``serve --database-url``).
        clock: "now" for embargoes, MoUs, keys, sessions and rate-limit windows (tests move theirs).
    """
    from cgd_bridge.server import api_docs, http, jobs, web
    from cgd_bridge.server.routes import api, feeds, health, notifications, official, sdmx_v1, sdmx_v2
    from cgd_bridge.server.sdmx.artefacts30 import public_mappings_reader
    from cgd_bridge.server.sdmx.organisations import providers_reader
    from cgd_bridge.store import db

    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url or db.database_url(settings)
        db.upgrade(url)
        engine = db.make_engine(url, wait=settings.db_wait_seconds)
        structures = Structures.load(settings.structures_dir)
        # read the bundled structure files before the first request, not during it
        await anyio.to_thread.run_sync(structures.artefacts)
        sessions = db.make_sessionmaker(engine)
        bridge = Bridge(
            settings=settings,
            clock=clock,
            engine=engine,
            sessions=sessions,
            structures=structures,
            structure_service=StructureService(
                structures,
                published=public_mappings_reader(sessions, clock),
                providers=providers_reader(sessions, clock),
            ),
            limiter=SharedRateLimiter(settings.rate_limit_per_minute, engine, clock=seconds(clock)),
            access=AccessCache(engine, sessions, clock=clock),
            audit=AuditWriter(
                engine, interval=settings.audit_interval_seconds, durable=settings.audit_durable
            ),
            answers=AnswerCache(settings.answer_cache_mb * 2**20),
            jobs=jobs.pool(
                jobs.JobLimits(
                    memory_mb=settings.job_memory_mb,
                    cpu_seconds=settings.job_cpu_seconds,
                    workers=settings.job_workers,
                    wait_seconds=settings.job_wait_seconds,
                )
            ),
        )
        if settings.notify_worker:  # webhooks and e-mail from the outbox (#19, server/notify.py)
            bridge.notifier = Notifier(sessions, settings, structures=structures)
            bridge.notifier.wake_on_commit()
            bridge.notifier.start()
        app.state.bridge = bridge
        try:
            yield
        finally:
            if bridge.notifier is not None:
                bridge.notifier.close()
            bridge.audit.close()  # the queued pull records are written before the engine goes
            metrics.worker_stopped()
            bridge.limiter.close()  # and the requests counted against the rate limit
            await bridge.access.aclose()
            engine.dispose()

    app = FastAPI(
        title="cgd-bridge",
        version=__version__,
        summary="Citizen-generated data for national statistics offices, over SDMX.",
        description=(
            "CSOs submit datasets with quality metadata and a mapping; NSO reviewers accept "
            "them; NSO systems pull harmonised series over the standard SDMX REST API "
            "(`/sdmx/rest` = SDMX 2.1 REST, `/sdmx/v2` = SDMX 3.0 REST). "
            "Authenticate with `Authorization: Bearer <API key>`."
        ),
        lifespan=lifespan,
        docs_url=None,  # served by api_docs from local files instead of a CDN (works offline)
        redoc_url=None,  # ReDoc injects inline styles our CSP forbids; /docs shows the same document
    )
    install_error_handlers(app)
    limited = [Depends(rate_limit)]
    # a wrong, revoked or expired key is a 401 on every API route, also those that serve the public
    keyed = [*limited, Depends(get_principal)]
    app.include_router(health.router)
    app.include_router(api.router, dependencies=keyed)
    app.include_router(official.router, dependencies=keyed)
    app.include_router(notifications.router, dependencies=keyed)
    app.include_router(feeds.router, dependencies=keyed)
    app.include_router(sdmx_v1.router, dependencies=keyed)
    app.include_router(sdmx_v2.router, dependencies=keyed)
    # the data queries first, without FastAPI's dependency solving (routes/sdmx_v1.fast_routes)
    app.router.routes[:0] = [*sdmx_v1.fast_routes(), *sdmx_v2.fast_routes()]
    api_docs.install(app)  # before web's /static mount, which would take /static/swagger-ui/
    web.install(app, dependencies=limited)
    app.add_middleware(BodyGuard)  # body limits and the key, before any body is read
    app.add_middleware(_TrailingSlash)
    http.install(app, settings)  # brotli/gzip, HEAD, CORS on the SDMX paths (server/http.py)
    # outermost: the request id, the metrics and the log line see every answer, errors included
    app.add_middleware(Observe, json_log=settings.log_format == "json")
    return app
