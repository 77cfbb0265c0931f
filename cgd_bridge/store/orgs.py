"""Organisations, users, passwords, API keys, and who is asking (:class:`Principal`).

- **Roles** follow the organisation's kind: ``submitter`` belongs to a CSO, ``reviewer`` to an
  NSO; ``admin`` (the platform administrator) may belong to any organisation.
- **Passwords** are hashed with :func:`hashlib.scrypt` (n=2**14, r=8, p=1) and a 16-byte salt
  per user, stored as ``scrypt$n$r$p$salt$hash`` and compared in constant time.
- **API keys** look like ``cgdb_<prefix>_<secret>``: 12 hex characters of public prefix (shown
  in lists, used to find the key) and 43 characters of secret from :mod:`secrets`. The whole key
  is returned once by :func:`create_key`; only its SHA-256 is stored. :func:`authenticate_key`
  refuses revoked and expired keys and inactive users, and writes ``last_used_at`` at most
  once a minute (no write per request).

Functions that change state commit their own transaction with its audit row. ``actor`` is the
principal doing it (None for the local admin CLI, which has the database itself); an actor who
is not an admin may only manage their own keys.

**Who manages whom** (the admin web pages, #19; :func:`can_manage`): an admin of the platform's
own organisation (kind ``admin``) manages every organisation's users and keys; an admin of a CSO
or NSO only those of their own organisation. :func:`set_role`, :func:`set_active` (a deactivated
user's keys, password and identity-provider sign-ins stop at once, and so do their web
sessions), :func:`create_reset` and :func:`reset_password` (one-time links: only the token's
SHA-256 is stored, a link works once and for :data:`RESET_VALID`, a newer one replaces it, and
using it ends the user's other web sessions) hold these rules for the pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cgd_bridge.errors import Conflict, Forbidden, NotFound, UsageError
from cgd_bridge.i18n import N_, msg
from cgd_bridge.store import audit
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import ApiKey, Organisation, OrgKind, PasswordReset, Role, User, a_kind, utcnow
from cgd_bridge.store.principal import Principal as Principal  # re-exported: callers import it from here

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
KEY = re.compile(r"^cgdb_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
LAST_USED_EVERY = dt.timedelta(minutes=1)
ROLE_KINDS = {Role.SUBMITTER: {OrgKind.CSO}, Role.REVIEWER: {OrgKind.NSO}, Role.ADMIN: set(OrgKind)}


def _require_admin(actor: Principal | None, what: str) -> None:
    if actor is not None and not actor.is_admin:
        raise Forbidden(
            N_("only an administrator may {what}"),
            fix=N_("Ask your platform administrator."),
            params={"what": msg(what)},
        )


def can_manage(actor: Principal | None, organisation_id: int) -> bool:
    """True when ``actor`` may manage the users and keys of the organisation: the local CLI
    (None), an admin of the platform's organisation, or an admin of that organisation."""
    if actor is None:
        return True
    return actor.is_admin and (actor.org_kind == OrgKind.ADMIN or actor.org_id == organisation_id)


def _require_manager(actor: Principal | None, org: Organisation, what: str) -> None:
    _require_admin(actor, what)
    if not can_manage(actor, org.id):
        raise Forbidden(
            N_("you may only {what} of your own organisation, not of {slug}"),
            fix=N_("Ask an administrator of that organisation, or the platform administrator."),
            params={"what": msg(what), "slug": org.slug},
        )


# ---------------------------------------------------------------- organisations


def create_organisation(
    session: Session, *, slug: str, name: str, kind: str, actor: Principal | None = None
) -> Organisation:
    """Create a CSO, NSO or admin organisation.

    Example:
        >>> create_organisation(session, slug="knbs", name="Kenya National Bureau of Statistics",
        ...                     kind="nso")  # doctest: +SKIP

    Raises:
        UsageError: a bad slug or kind. Conflict: the slug is taken.
    """
    _require_admin(actor, N_("create organisations"))
    if not SLUG.match(slug):
        raise UsageError(
            N_("'{slug}' is not a valid organisation slug"),
            fix=N_(
                "Use lower-case letters, digits and '-', starting with a letter or digit (e.g. "
                "sauti-ya-walemavu)."
            ),
            params={"slug": slug},
        )
    if kind not in {k.value for k in OrgKind}:
        raise UsageError(
            N_("'{kind}' is not an organisation kind"),
            fix=N_("Use cso, nso or admin."),
            params={"kind": kind},
        )
    if not name.strip():
        raise UsageError(
            N_("the organisation needs a name"), fix=N_("Give --name 'Full name of the organisation'.")
        )
    if session.scalar(select(Organisation.id).where(Organisation.slug == slug)) is not None:
        raise Conflict(
            N_("an organisation '{slug}' already exists"),
            fix=N_("Choose another slug."),
            params={"slug": slug},
        )
    try:
        with transaction(session):
            org = Organisation(slug=slug, name=name.strip(), kind=kind, created_at=utcnow())
            session.add(org)
            session.flush()
            audit.add(
                session, action="organisation.created", principal=actor, details={"slug": slug, "kind": kind}
            )
    except IntegrityError:
        raise Conflict(
            N_("an organisation '{slug}' already exists"),
            fix=N_("Choose another slug."),
            params={"slug": slug},
        ) from None
    return org


def list_organisations(session: Session) -> list[Organisation]:
    """Every organisation, by slug."""
    return list(session.scalars(select(Organisation).order_by(Organisation.slug)))


def get_organisation(session: Session, *, slug: str) -> Organisation:
    """The organisation with this slug. Raises NotFound."""
    org = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        raise NotFound(
            N_("there is no organisation '{slug}'"),
            fix=N_("See `cgd-bridge admin org list`, or create it with `cgd-bridge admin org create`."),
            params={"slug": slug},
        )
    return org


# ---------------------------------------------------------------- users and passwords


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` for ``password``, with a fresh 16-byte salt.

    Example:
        >>> h = hash_password("correct horse")
        >>> h.startswith("scrypt$16384$8$1$"), verify_password("correct horse", h)
        (True, True)
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        want = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, want)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(8))


def create_user(
    session: Session,
    *,
    username: str,
    organisation: str,
    role: str,
    display_name: str = "",
    password: str | None = None,
    email: str | None = None,
    actor: Principal | None = None,
) -> User:
    """Create a user of the organisation with slug ``organisation``.

    ``email`` (stored lower-case) lets the person sign in through the identity provider with
    that address, once the provider has verified it (:mod:`cgd_bridge.store.identities`).

    Raises:
        UsageError: a bad username, e-mail address or role, a role that does not fit the
            organisation (submitters belong to CSOs, reviewers to NSOs), or a password shorter
            than 10 characters.
        NotFound: no such organisation. Conflict: the username or e-mail address is taken.
    """
    _require_admin(actor, N_("create users"))
    if not USERNAME.match(username):
        raise UsageError(
            N_("'{username}' is not a valid username"),
            fix=N_("Use letters, digits and . _ @ -, at most 64 characters."),
            params={"username": username},
        )
    if role not in {r.value for r in Role}:
        raise UsageError(
            N_("'{role}' is not a role"),
            fix=N_("Use submitter (CSO), reviewer (NSO) or admin."),
            params={"role": role},
        )
    org = get_organisation(session, slug=organisation)
    _require_manager(actor, org, N_("create users"))
    _check_role_fits(org, role)
    if password is not None and len(password) < MIN_PASSWORD:
        raise UsageError(
            N_("the password is shorter than 10 characters"), fix=N_("Choose a longer password.")
        )
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            N_("a user '{username}' already exists"),
            fix=N_("Choose another username."),
            params={"username": username},
        )
    email = check_email(session, email)
    try:
        with transaction(session):
            user = User(
                organisation_id=org.id,
                username=username,
                display_name=display_name or username,
                role=role,
                password_hash=hash_password(password) if password else None,
                active=True,
                created_at=utcnow(),
                email=email,
            )
            session.add(user)
            session.flush()
            audit.add(
                session,
                action="user.created",
                principal=actor,
                details={"username": username, "organisation": org.slug, "role": role},
            )
    except IntegrityError:
        raise Conflict(
            N_("a user '{username}' (or one with the e-mail address {email}) already exists"),
            fix=N_("Choose another username or e-mail address."),
            params={"username": username, "email": email},
        ) from None
    session.refresh(user)
    return user


EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


def check_email(session: Session, email: str | None, *, user_id: int | None = None) -> str | None:
    """``email`` lower-cased and stripped (None for none), when it is well-formed and no other
    user (than ``user_id``) has it.

    Raises:
        UsageError: not an e-mail address. Conflict: another user has it.
    """
    if email is None or not email.strip():
        return None
    email = email.strip().lower()
    if not EMAIL.match(email) or "." not in email.rpartition("@")[2]:
        raise UsageError(
            N_("'{email}' is not an e-mail address"),
            fix=N_("Give an address such as amina@knbs.or.ke."),
            params={"email": email},
        )
    other = session.scalar(select(User.id).where(User.email == email))
    if other is not None and other != user_id:
        raise Conflict(
            N_("another user already has the e-mail address {email}"),
            fix=N_("Each address belongs to one user: change or remove it there first."),
            params={"email": email},
        )
    return email


def _check_role_fits(org: Organisation, role: str) -> None:
    if role not in {r.value for r in Role}:
        raise UsageError(
            N_("'{role}' is not a role"),
            fix=N_("Use submitter (CSO), reviewer (NSO) or admin."),
            params={"role": role},
        )
    if org.kind not in ROLE_KINDS[Role(role)]:
        fitting = "submitter or admin" if org.kind == OrgKind.CSO else "reviewer or admin"
        raise UsageError(
            N_("a {role} cannot belong to '{slug}', which is {kind}"),
            fix=N_("Give users of '{slug}' the role {fitting}."),
            params={"role": role, "slug": org.slug, "kind": a_kind(org.kind), "fitting": fitting},
        )


def managed_users(session: Session, actor: Principal) -> list[User]:
    """The users ``actor`` manages (:func:`can_manage`), by organisation and username."""
    _require_admin(actor, N_("manage users"))
    users = list_users(session)
    return [u for u in users if can_manage(actor, u.organisation_id)]


def managed_organisations(session: Session, actor: Principal) -> list[Organisation]:
    """The organisations whose users ``actor`` manages."""
    _require_admin(actor, N_("manage users"))
    return [o for o in list_organisations(session) if can_manage(actor, o.id)]


def set_role(session: Session, *, username: str, role: str, actor: Principal | None) -> User:
    """Give the user another role (it must fit their organisation's kind).

    Raises:
        NotFound, Forbidden (not an admin, or another organisation's user), UsageError (a role
        that does not fit; an admin taking their own admin role away).
    """
    user = get_user(session, username=username)
    _require_manager(actor, user.organisation, N_("change the roles of users"))
    _check_role_fits(user.organisation, role)
    if actor is not None and actor.user_id == user.id and role != Role.ADMIN:
        raise UsageError(N_("you cannot take your own admin role away"), fix=N_("Ask another administrator."))
    if user.role != role:
        with transaction(session):
            before, user.role = user.role, role
            audit.add(
                session,
                action="user.role_changed",
                principal=actor,
                details={"username": username, "from": before, "to": role},
            )
    return user


def set_active(
    session: Session, *, username: str, active: bool, actor: Principal | None, now: dt.datetime | None = None
) -> User:
    """Deactivate or reactivate a user. A deactivated user's keys, password, identity-provider
    sign-ins and web sessions stop working at once (every check reads ``active``); reactivating
    starts no old session again.

    Raises:
        NotFound, Forbidden (not an admin, or another organisation's user), UsageError
        (deactivating yourself).
    """
    user = get_user(session, username=username)
    _require_manager(actor, user.organisation, N_("deactivate or reactivate users"))
    if actor is not None and actor.user_id == user.id and not active:
        raise UsageError(N_("you cannot deactivate yourself"), fix=N_("Ask another administrator."))
    if user.active != active:
        with transaction(session):
            user.active = active
            if active:
                user.session_epoch += 1
            audit.add(
                session,
                action="user.reactivated" if active else "user.deactivated",
                principal=actor,
                details={"username": username},
            )
    return user


RESET_VALID = dt.timedelta(hours=24)
MIN_PASSWORD = 10


def _reset_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_reset(
    session: Session, *, username: str, actor: Principal | None, now: dt.datetime | None = None
) -> str:
    """Make a one-time password-reset link's token for the user (shown once; only its SHA-256
    is stored); earlier unused links of the user stop working.

    Raises:
        NotFound, Forbidden (not an admin, or another organisation's user), UsageError (the user
        is deactivated).
    """
    now = now or utcnow()
    user = get_user(session, username=username)
    _require_manager(actor, user.organisation, N_("reset the passwords of users"))
    if not user.active:
        raise UsageError(
            N_("{username} is deactivated"),
            fix=N_("Reactivate the user first."),
            params={"username": username},
        )
    token = secrets.token_urlsafe(32)
    with transaction(session):
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        session.add(
            PasswordReset(
                user_id=user.id,
                token_sha256=_reset_hash(token),
                created_by_id=actor.user_id if actor else None,
                created_at=now,
                expires_at=now + RESET_VALID,
            )
        )
        audit.add(
            session, action="password.reset_link_created", principal=actor, details={"username": username}
        )
    return token


def _reset_of(session: Session, token: str, now: dt.datetime) -> PasswordReset:
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_sha256 == _reset_hash(token)))
    fix = N_("Ask your administrator for a new link.")
    if reset is None:
        raise NotFound(N_("this password-reset link is not known"), fix=fix)
    if reset.used_at is not None:
        raise Forbidden(N_("this password-reset link was already used or replaced by a newer one"), fix=fix)
    if reset.expires_at <= now:
        raise Forbidden(N_("this password-reset link has expired"), fix=fix)
    if not reset.user.active:
        raise Forbidden(N_("the account of this link is deactivated"), fix=N_("Ask your administrator."))
    return reset


def reset_user(session: Session, *, token: str, now: dt.datetime | None = None) -> User:
    """The user a password-reset link is for, while it can be used. Raises NotFound, Forbidden."""
    return _reset_of(session, token, now or utcnow()).user


def reset_password(session: Session, *, token: str, password: str, now: dt.datetime | None = None) -> User:
    """Set the user's password with a one-time link: the link is used up, and every web session
    of the user made before now ends (a password session would end anyway: its fingerprint
    changes; key and identity-provider sessions end as ``session_epoch`` moves on).

    Raises:
        NotFound, Forbidden (used, replaced, expired, a deactivated user), UsageError (a
        password shorter than :data:`MIN_PASSWORD` characters).
    """
    now = now or utcnow()
    reset = _reset_of(session, token, now)
    if len(password) < MIN_PASSWORD:
        raise UsageError(
            N_("the password is shorter than {least} characters"),
            fix=N_("Choose a longer password."),
            field="password",
            params={"least": MIN_PASSWORD},
        )
    user = reset.user
    with transaction(session):
        # used up first, in the same transaction: two requests with one link cannot both succeed
        used = session.execute(
            update(PasswordReset)
            .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise Forbidden(
                N_("this password-reset link was already used"),
                fix=N_("Ask your administrator for a new link."),
            )
        user.password_hash = hash_password(password)
        user.session_epoch += 1
        audit.add(
            session,
            action="password.reset",
            principal=Principal.of(user),
            details={"username": user.username},
        )
    return user


def session_epoch(session: Session, user_id: int) -> int:
    """The generation of the user's web sessions (``users.session_epoch``); 0 for no user."""
    return int(session.scalar(select(User.session_epoch).where(User.id == user_id)) or 0)


def list_users(session: Session, *, organisation: str | None = None) -> list[User]:
    """Users, by organisation and username (only those of ``organisation`` when given)."""
    stmt = select(User).join(Organisation).order_by(Organisation.slug, User.username)
    if organisation is not None:
        stmt = stmt.where(Organisation.slug == organisation)
    return list(session.scalars(stmt).unique())


def get_user(session: Session, *, username: str) -> User:
    """The user with this username. Raises NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            N_("there is no user '{username}'"),
            fix=N_("See `cgd-bridge admin user list`."),
            params={"username": username},
        )
    return user


def authenticate_password(session: Session, *, username: str, password: str) -> Principal | None:
    """The principal for a username and password, or None (unknown user, wrong password, inactive).

    An unknown username costs the same scrypt work as a wrong password, so timing tells nothing.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(password, _dummy_hash())
        return None
    if not verify_password(password, user.password_hash) or not user.active:
        return None
    return Principal.of(user)


# ---------------------------------------------------------------- API keys


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``key`` is the only time the secret is ever available.

    Attributes:
        key: the whole key, ``cgdb_<prefix>_<secret>``; show it once, it cannot be recovered.
        prefix: the public part, shown in lists and used to revoke it.
    """

    key: str
    prefix: str
    api_key: ApiKey


def _key_hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    username: str,
    label: str = "",
    expires_at: dt.datetime | None = None,
    actor: Principal | None = None,
) -> NewKey:
    """Create an API key for a user; return the plain key (the only time it exists outside the user).

    Raises:
        NotFound: no such user. Forbidden: ``actor`` is neither an admin nor the user.
        UsageError: ``expires_at`` is in the past or has no time zone.
    """
    user = get_user(session, username=username)
    if actor is not None and not actor.is_admin and actor.user_id != user.id:
        raise Forbidden(N_("you may only create keys for yourself"), fix=N_("Ask an administrator."))
    if actor is not None and actor.user_id != user.id:
        _require_manager(actor, user.organisation, N_("create keys for users"))
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise UsageError(
            N_("the key's expiry date is in the past"),
            fix=N_("Give a future date, e.g. --expires 2027-12-31."),
        )
    prefix = secrets.token_hex(6)
    plain = f"cgdb_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction(session):
        key = ApiKey(
            user_id=user.id,
            prefix=prefix,
            key_sha256=_key_hash(plain),
            label=label,
            created_at=utcnow(),
            expires_at=expires_at,
        )
        session.add(key)
        session.flush()
        audit.add(
            session,
            action="key.created",
            principal=actor,
            details={"prefix": prefix, "username": username, "label": label},
        )
    return NewKey(key=plain, prefix=prefix, api_key=key)


def list_keys(session: Session, *, username: str | None = None) -> list[ApiKey]:
    """API keys (never their secrets), newest first; only ``username``'s when given."""
    stmt = select(ApiKey).join(User).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    if username is not None:
        stmt = stmt.where(User.username == username)
    return list(session.scalars(stmt).unique())


def revoke_key(session: Session, *, prefix: str, actor: Principal | None = None) -> ApiKey:
    """Revoke the key with this prefix (idempotent: a revoked key stays revoked at its first time).

    Raises:
        NotFound: no key has this prefix. Forbidden: ``actor`` is neither an admin nor its user.
    """
    prefix = prefix.removeprefix("cgdb_").split("_")[0]
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(
            N_("there is no API key with prefix '{prefix}'"),
            fix=N_("See `cgd-bridge admin key list`."),
            params={"prefix": prefix},
        )
    if actor is not None and not actor.is_admin and actor.user_id != key.user_id:
        raise Forbidden(N_("you may only revoke your own keys"), fix=N_("Ask an administrator."))
    if actor is not None and actor.user_id != key.user_id:
        _require_manager(actor, key.user.organisation, N_("revoke keys of users"))
    if key.revoked_at is None:
        with transaction(session):
            key.revoked_at = utcnow()
            audit.add(session, action="key.revoked", principal=actor, details={"prefix": prefix})
    return key


def key_prefix(plain: str) -> str | None:
    """The public prefix of a well-formed key (``cgdb_<prefix>_<secret>``), else None."""
    m = KEY.match(plain.strip())
    return m.group(1) if m else None


def touch_key(session: Session, prefix: str, now: dt.datetime) -> None:
    """Set the key's ``last_used_at`` to ``now`` unless it was set less than a minute before.

    Part of the caller's transaction. The change counter does not move for it (migration 0002).
    """
    session.execute(
        update(ApiKey)
        .where(ApiKey.prefix == prefix)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_EVERY))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def key_in_force(key: ApiKey, now: dt.datetime) -> bool:
    """True while a key is neither revoked nor expired and its user is active."""
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return False
    return bool(key.user.active)


def principal_of_key(session: Session, prefix: str, now: dt.datetime | None = None) -> Principal | None:
    """The principal of the key with this public prefix while it is in force (:func:`key_in_force`).

    For a session that was signed in with the key (the web pages): the secret was checked then.
    """
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not key_in_force(key, now or utcnow()):
        return None
    return Principal.of(key.user)


def authenticate_key(session: Session, plain: str, *, now: dt.datetime | None = None) -> Principal | None:
    """The principal of an API key, or None when the key is unknown, wrong, revoked or expired.

    Updates ``last_used_at`` (and commits) only when it is older than a minute.
    """
    m = KEY.match(plain.strip())
    if m is None:
        return None
    now = now or utcnow()
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == m.group(1)))
    if key is None or not hmac.compare_digest(key.key_sha256, _key_hash(plain.strip())):
        return None
    if not key_in_force(key, now):
        return None
    principal = Principal.of(key.user)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_EVERY:
        with transaction(session):
            touch_key(session, key.prefix, now)
        session.expire(key, ["last_used_at"])
    return principal
