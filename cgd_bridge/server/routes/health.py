"""``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus, :mod:`..metrics`).

- ``/healthz`` says the process is up and answering: it touches neither the database nor the
  structures (also the baseline of the load benchmark). A supervisor restarts a worker that
  fails it; a database outage does not make it fail, since restarting would not help.
- ``/readyz`` says the server can serve requests now: the database answers a trivial query
  within the bounded wait (``CGD_BRIDGE_DB_WAIT_SECONDS``). When it does not, the answer is the
  503 of every other route (with ``Retry-After``, the reason in plain words, never the
  database's URL), so a load balancer stops sending traffic until it passes again.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import text

from cgd_bridge import __version__
from cgd_bridge.server import metrics
from cgd_bridge.server.deps import BridgeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the server process up? (liveness)")
def healthz() -> dict[str, str]:
    """``{"status": "ok", "version": ...}``; touches neither the database nor the structures."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    summary="Can the server answer requests now? (readiness: the database answers)",
    responses={503: {"description": "The database is busy or cannot be reached; see Retry-After."}},
)
def readyz(bridge: BridgeDep) -> dict[str, str]:
    """``{"status": "ready", "database": "sqlite" | "postgresql", "version": ...}``, or a 503."""
    with bridge.engine.connect() as connection:
        connection.execute(text("SELECT version_num FROM alembic_version"))  # reads the file
    return {"status": "ready", "database": bridge.engine.dialect.name, "version": __version__}


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request, bridge: BridgeDep) -> Response:
    """The Prometheus text format of every worker's metrics (``server/metrics.py``); 403 unless
    the client's address is in ``CGD_BRIDGE_METRICS_ALLOW`` or it sends ``CGD_BRIDGE_METRICS_TOKEN``."""
    settings = bridge.settings
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    client = request.client.host if request.client else None
    if not metrics.allowed(
        client, request.headers.get("authorization"), allow=settings.metrics_allow, token=token
    ):
        raise metrics.refused()
    body, media_type = metrics.exposition()
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})
