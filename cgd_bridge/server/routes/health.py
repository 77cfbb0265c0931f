"""``/healthz``: a trivial endpoint (liveness, and the baseline of the load benchmark)."""

from __future__ import annotations

from fastapi import APIRouter

from cgd_bridge import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Is the server up?")
def healthz() -> dict[str, str]:
    """``{"status": "ok", "version": ...}``; touches neither the database nor the structures."""
    return {"status": "ok", "version": __version__}
