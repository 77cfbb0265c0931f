"""Notifications in the JSON API (#19): an organisation's webhooks and delivery log, a user's
e-mail address and language, a CSO's pull digest.

- ``POST /api/organisations/{slug}/webhooks``: register an endpoint; the answer carries its
  secret, the only time it is shown;
- ``GET /api/organisations/{slug}/webhooks``, ``DELETE .../webhooks/{id}``;
- ``GET /api/organisations/{slug}/deliveries``: the delivery log (state, attempts, last error);
- ``PUT /api/organisations/{slug}/pull-digest``: opt the CSO in to (or out of) the digest;
- ``PUT /api/me/contact``: where my e-mails go and in which language.

All for the organisation's own people and administrators (:mod:`cgd_bridge.store.outbox`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from cgd_bridge.server.deps import BridgeDep, SessionDep, UserDep
from cgd_bridge.store import outbox
from cgd_bridge.store.models import MAX_ID, Webhook

router = APIRouter(prefix="/api", tags=["notifications"])
HookId = Annotated[int, Path(ge=1, le=MAX_ID)]


class WebhookIn(BaseModel):
    """A new webhook."""

    url: str = Field(max_length=2000, examples=["https://etl.knbs.example/cgd-bridge"])
    events: list[str] = Field(default=["*"], examples=[["version.published", "version.withdrawn"]])
    description: str = Field(default="", max_length=200)


class WebhookView(BaseModel):
    """A registered webhook (its secret only in the answer that created it)."""

    id: int
    url: str
    events: list[str]
    description: str
    created_at: str
    secret: str | None = None


class DigestIn(BaseModel):
    on: bool


class ContactIn(BaseModel):
    email: str | None = Field(default=None, max_length=300, description="Empty clears it.")
    language: str | None = Field(default=None, max_length=16, examples=["sw"])


def _view(hook: Webhook, secret: str | None = None) -> WebhookView:
    return WebhookView(
        id=hook.id,
        url=hook.url,
        events=list(hook.events),
        description=hook.description,
        created_at=hook.created_at.isoformat(),
        secret=secret,
    )


@router.post(
    "/organisations/{slug}/webhooks",
    status_code=201,
    response_model=WebhookView,
    summary="Register a webhook (its secret is shown this once)",
)
def create_webhook(
    bridge: BridgeDep, session: SessionDep, principal: UserDep, slug: str, body: WebhookIn
) -> WebhookView:
    from cgd_bridge.server.notify import check_url

    allow = bridge.settings.webhook_allow_private
    new = outbox.create_webhook(
        session,
        organisation=slug,
        url=body.url,
        events=body.events,
        description=body.description,
        actor=principal,
        check_url=lambda url: check_url(url, allow_private=allow),
    )
    return _view(new.webhook, new.secret)


@router.get("/organisations/{slug}/webhooks", response_model=list[WebhookView], summary="The webhooks")
def list_webhooks(session: SessionDep, principal: UserDep, slug: str) -> list[WebhookView]:
    return [_view(h) for h in outbox.list_webhooks(session, organisation=slug, actor=principal)]


@router.delete("/organisations/{slug}/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook")
def delete_webhook(session: SessionDep, principal: UserDep, slug: str, webhook_id: HookId) -> Response:
    outbox.revoke_webhook(session, organisation=slug, webhook_id=webhook_id, actor=principal)
    return Response(status_code=204)


@router.get("/organisations/{slug}/deliveries", summary="The delivery log of webhooks and e-mails")
def deliveries(session: SessionDep, principal: UserDep, slug: str) -> list[dict[str, Any]]:
    return [outbox.delivery_view(i) for i in outbox.deliveries(session, organisation=slug, actor=principal)]


@router.put("/organisations/{slug}/pull-digest", summary="Opt a CSO in to the e-mail of who pulled its data")
def pull_digest(session: SessionDep, principal: UserDep, slug: str, body: DigestIn) -> dict[str, Any]:
    org = outbox.set_pull_digest(session, organisation=slug, on=body.on, actor=principal)
    return {"organisation": org.slug, "pull_digest": org.pull_digest}


@router.put("/me/contact", summary="Where my e-mails go, and in which language")
def contact(session: SessionDep, principal: UserDep, body: ContactIn) -> dict[str, Any]:
    user = outbox.set_contact(
        session, username=principal.username, email=body.email, language=body.language, actor=principal
    )
    return {"username": user.username, "email": user.email, "language": user.language}
