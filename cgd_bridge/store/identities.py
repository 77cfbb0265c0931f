"""Who a sign-in through the NSO's identity provider is (#19): matching and provisioning rules.

The web layer (:mod:`cgd_bridge.server.web.oidc`) verifies the provider's ID token (signature,
issuer, audience, expiry, nonce) and hands the verified claims here as :class:`Claims`;
:func:`sign_in` decides, in this order:

1. **the link**: a user already linked to this provider account (issuer and ``sub``,
   ``user_identities``) is that user;
2. **the e-mail address** (when the :class:`Policy` says ``match_email``): a user whose
   ``email`` is the claim's, *verified by the provider* (``email_verified`` true), is that user,
   and the link is stored so the next sign-in no longer depends on the address;
3. **the rules**: the first :class:`Rule` whose conditions all hold (the verified e-mail's domain,
   a claim's value such as a group) provisions a new user into the rule's organisation with the
   rule's role, linked to the account;
4. otherwise the sign-in is refused (:class:`~cgd_bridge.errors.Forbidden`) saying why: the
   e-mail address is not verified, or no rule admits it.

A deactivated user is refused at 1 and 2 (as their keys and password are). Every link and every
provisioned user is audited (``identity.linked``, ``user.provisioned``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cgd_bridge.errors import Conflict, Forbidden, NotFound, StoreError, UsageError
from cgd_bridge.i18n import N_
from cgd_bridge.store import audit, orgs
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import User, UserIdentity, utcnow
from cgd_bridge.store.principal import Principal


@dataclass(frozen=True)
class Claims:
    """What a verified ID token says about the person.

    Attributes:
        issuer, subject: ``iss`` and ``sub``: who the provider is, and its stable id of the person.
        email: the ``email`` claim (lower-cased), or None.
        email_verified: the provider says it checked the address (``email_verified`` true).
        name: ``name`` (or ``preferred_username``), for the display name of a provisioned user.
        raw: every claim, for rules on other claims (``groups``, ``hd``, ``tid``, ...).
    """

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Claims:
        """The :class:`Claims` of a verified ID token's claims (``iss`` and ``sub`` required)."""
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) and "@" in email else None
        verified = claims.get("email_verified")
        name = claims.get("name") or claims.get("preferred_username") or ""
        return cls(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            email=email,
            email_verified=verified is True or verified == "true",  # some providers send a string
            name=name if isinstance(name, str) else "",
            raw=dict(claims),
        )

    @property
    def verified_email(self) -> str | None:
        """The e-mail address when the provider verified it, else None."""
        return self.email if self.email_verified else None


@dataclass(frozen=True)
class Rule:
    """Provision people who sign in through the provider into ``organisation`` with ``role``.

    Every condition given must hold: ``email_domain`` (the verified e-mail's domain, exactly,
    any case, e.g. ``knbs.or.ke``), and ``claim`` with ``value`` (the claim equals the value, or
    is a list holding it: ``groups`` contains ``cgd-reviewers``). A rule without conditions
    admits everyone the provider signs in.
    """

    organisation: str
    role: str
    email_domain: str | None = None
    claim: str | None = None
    value: str | None = None

    def admits(self, claims: Claims) -> bool:
        """True when every condition of the rule holds for ``claims``."""
        if self.email_domain is not None:
            email = claims.verified_email
            if email is None or email.rpartition("@")[2] != self.email_domain.strip().lower():
                return False
        if self.claim is not None:
            got = claims.raw.get(self.claim)
            values = got if isinstance(got, list) else [got]
            if self.value is None:
                return got not in (None, "", [], False)
            if self.value not in [str(v) for v in values if v is not None]:
                return False
        return True


@dataclass(frozen=True)
class Policy:
    """How sign-ins through the provider become users: match by verified e-mail, then the rules."""

    rules: Sequence[Rule] = ()
    match_email: bool = True


def _refuse(problem: str, fix: str, **params: Any) -> Forbidden:
    """A refused sign-in: ``problem`` and ``fix`` are message templates (``N_``) of ``params``."""
    return Forbidden(problem, fix=fix, params=params)


def _user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email))


def sign_in(
    session: Session, claims: Claims, policy: Policy, *, now: dt.datetime | None = None
) -> tuple[Principal, int]:
    """The principal a verified sign-in through the provider is (see the module docstring), and
    the id of the link to the provider's account (the web session holds it).

    Raises:
        Forbidden: a deactivated user, an unverified e-mail address, or no rule admits the person.
            Also when a rule names an organisation that does not exist or a role that does not
            fit it (the administrator's configuration to fix).
        Conflict: a rule would provision a username that another user already has.
    """
    now = now or utcnow()
    link = session.scalar(
        select(UserIdentity).where(
            UserIdentity.issuer == claims.issuer, UserIdentity.subject == claims.subject
        )
    )
    if link is not None:
        _require_active(link.user)
        with transaction(session):
            link.last_used_at = now
            if claims.email is not None:
                link.email = claims.email
        return Principal.of(link.user), link.id
    email = claims.verified_email
    if policy.match_email and email is not None:
        user = _user_by_email(session, email)
        if user is not None:
            _require_active(user)
            return Principal.of(user), _link(session, user, claims, now, action="identity.linked")
    for rule in policy.rules:
        if rule.admits(claims):
            return _provision(session, rule, claims, now)
    if claims.email is not None and not claims.email_verified:
        raise _refuse(
            N_(
                "your identity provider has not verified the e-mail address {email}, so the "
                "bridge cannot tell which account or organisation it belongs to"
            ),
            N_(
                "Verify the address with your identity provider, or ask the bridge's administrator "
                "for an account."
            ),
            email=claims.email,
        )
    raise _refuse(
        N_(
            "no rule of this bridge admits {who}: the bridge does not know which organisation and "
            "role you would have"
        ),
        N_(
            "Ask the bridge's administrator to create your account (with this e-mail address) or to add "
            "a sign-in rule for your organisation."
        ),
        who=claims.email or claims.subject,
    )


def _require_active(user: User) -> None:
    if not user.active:
        raise _refuse(
            N_("the account {username} is deactivated"),
            N_("Ask an administrator of your organisation to reactivate it."),
            username=user.username,
        )


def _link(session: Session, user: User, claims: Claims, now: dt.datetime, *, action: str) -> int:
    """Store the link of ``user`` to the claims' account; its id."""
    try:
        with transaction(session):
            link = UserIdentity(
                user_id=user.id,
                issuer=claims.issuer,
                subject=claims.subject,
                email=claims.email,
                created_at=now,
                last_used_at=now,
            )
            session.add(link)
            session.flush()
            audit.add(
                session,
                action=action,
                principal=Principal.of(user),
                details={"username": user.username, "issuer": claims.issuer, "subject": claims.subject},
            )
        return link.id
    except IntegrityError:
        # the same account signed in twice at once: the other request made the link
        return identity_id(session, claims)


def _provision(session: Session, rule: Rule, claims: Claims, now: dt.datetime) -> tuple[Principal, int]:
    username = claims.verified_email or claims.subject
    if not orgs.USERNAME.match(username):
        raise _refuse(
            N_("the bridge cannot make a username from '{name}'"),
            N_("Ask the bridge's administrator to create your account with your e-mail address."),
            name=username,
        )
    try:
        user = orgs.create_user(
            session,
            username=username,
            organisation=rule.organisation,
            role=rule.role,
            display_name=claims.name or username,
            email=claims.verified_email,
        )
    except Conflict:
        raise Conflict(
            N_("a user {username} already exists, without this e-mail address or identity-provider link"),
            fix=N_("Ask the bridge's administrator to set the e-mail address of that user, or to rename it."),
            params={"username": username},
        ) from None
    except (NotFound, UsageError) as exc:
        raise _refuse(
            N_("the sign-in rule for {organisation} cannot be applied: {reason}"),
            N_(
                "Tell the bridge's administrator: {setting} names an organisation that does not exist "
                "or a role that does not fit it."
            ),
            organisation=rule.organisation,
            reason=exc.sentence(),
            setting="CGD_BRIDGE_OIDC_RULES",
        ) from exc
    link_id = _link(session, user, claims, now, action="user.provisioned")
    session.refresh(user)
    return Principal.of(user), link_id


def identity_of(session: Session, identity_id: int) -> UserIdentity | None:
    """The link with this id, or None."""
    return session.get(UserIdentity, identity_id)


def identities_of(session: Session, user_id: int) -> list[UserIdentity]:
    """The identity-provider accounts linked to a user."""
    return list(session.scalars(select(UserIdentity).where(UserIdentity.user_id == user_id)))


def identity_id(session: Session, claims: Claims) -> int:
    """The id of the link of ``claims``' account (after :func:`sign_in` made or found it)."""
    found = session.scalar(
        select(UserIdentity.id).where(
            UserIdentity.issuer == claims.issuer, UserIdentity.subject == claims.subject
        )
    )
    if found is None:
        raise StoreError(N_("the identity-provider link was not stored"), fix=N_("Sign in again."))
    return found
