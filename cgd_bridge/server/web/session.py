"""The web session: a signed cookie, who it signs in, and its CSRF token.

The cookie (``cgdb_session``) holds a small JSON payload signed with HMAC-SHA256 and the
server's secret (``CGD_BRIDGE_SECRET_KEY``; without it, a random secret kept in
``{data_dir}/web-secret``, shared by every worker on the host). It is ``HttpOnly``,
``SameSite=Lax``, and ``Secure`` when the request came over HTTPS. It never holds an API key
or a password, only:

- ``csrf``: the synchronizer token every POST form must send back (``csrf_token``);
- ``u``: the signed-in username, with either ``k`` (the public prefix of the API key signed in
  with), ``p`` (a fingerprint of the password hash signed in with) or ``i`` (the id of the
  identity-provider link signed in with, :mod:`cgd_bridge.store.identities`);
- ``o``: an OpenID Connect sign-in under way (:mod:`cgd_bridge.server.web.oidc`): its ``state``,
  ``nonce``, PKCE ``verifier``, the page to go to afterwards and when it started; removed by
  the callback, so a code or state is good for one try;
- ``e``: the user's session generation at sign-in; a password reset or a reactivation moves
  the user's on (``users.session_epoch``), ending every older session;
- ``iat``: when the user signed in (sessions last :data:`MAX_AGE`);
- ``s``: the session's random id; sign-out records it in the store
  (:mod:`cgd_bridge.store.websessions`), so a copy of the cookie taken before sign-out signs
  nobody in afterwards;
- ``flash``: a one-time message for the next page.

Every request re-validates the sign-in against the store (:func:`principal_of`): a revoked or
expired key, a deactivated user, a changed or reset password or a removed identity-provider link
ends the session at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cgd_bridge.errors import NotFound, StoreError
from cgd_bridge.i18n import N_
from cgd_bridge.store import identities, orgs, websessions
from cgd_bridge.store.orgs import Principal

log = logging.getLogger(__name__)
COOKIE = "cgdb_session"
MAX_AGE = 12 * 3600  # a signed-in session lasts 12 hours
SECRET_FILE = "web-secret"  # noqa: S105 - a file name, not a secret


def masked_csrf(token: str) -> str:
    """The CSRF token as a page carries it: XOR-ed with a fresh random mask, the mask in front.

    Pages are compressed (brotli, gzip), and a page can echo what a request put in it (a
    filter, a ``next``): with the same secret in every page, an attacker who sees the sizes of
    many compressed answers could guess it byte by byte (BREACH). Masked anew for every page,
    the token's bytes differ every time, so compression tells nothing; :func:`unmasked_csrf`
    gives the session's token back.
    """
    raw = token.encode("ascii")
    mask = secrets.token_bytes(len(raw))
    mixed = bytes(a ^ b for a, b in zip(mask, raw, strict=True))
    return base64.urlsafe_b64encode(mask + mixed).decode("ascii").rstrip("=")


def unmasked_csrf(value: str) -> str | None:
    """The token a form sent, unmasked (:func:`masked_csrf`); None when it is not a masked token."""
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, TypeError):
        return None
    half, odd = divmod(len(data), 2)
    if odd or not half:
        return None
    return bytes(a ^ b for a, b in zip(data[:half], data[half:], strict=True)).decode("latin-1")


@dataclass
class SessionData:
    """What the cookie carries (see the module docstring)."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    username: str | None = None
    key_prefix: str | None = None
    password_fp: str | None = None
    identity: int | None = None
    epoch: int = 0  # the user's session generation at sign-in (users.session_epoch)
    oidc: dict[str, Any] | None = None
    issued_at: int | None = None
    session_id: str | None = None
    flash: str | None = None
    lang: str | None = None  # the language the person chose with ?lang= (their setting)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"csrf": self.csrf}
        for name, value in (
            ("u", self.username),
            ("k", self.key_prefix),
            ("p", self.password_fp),
            ("i", self.identity),
            ("e", self.epoch or None),
            ("o", self.oidc),
            ("iat", self.issued_at),
            ("s", self.session_id),
            ("flash", self.flash),
            ("lang", self.lang),
        ):
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SessionData:
        csrf = data.get("csrf")
        if not isinstance(csrf, str) or len(csrf) < 20:
            return cls()
        return cls(
            csrf=csrf,
            username=_str(data.get("u")),
            key_prefix=_str(data.get("k")),
            password_fp=_str(data.get("p")),
            identity=data["i"] if isinstance(data.get("i"), int) else None,
            epoch=data["e"] if isinstance(data.get("e"), int) else 0,
            oidc=data["o"] if isinstance(data.get("o"), dict) else None,
            issued_at=data["iat"] if isinstance(data.get("iat"), int) else None,
            session_id=_str(data.get("s")),
            flash=_str(data.get("flash")),
            lang=_str(data.get("lang")),
        )

    def sign_out(self) -> None:
        """Forget who is signed in (the CSRF token is renewed too)."""
        self.username = self.key_prefix = self.password_fp = self.session_id = None
        self.issued_at = self.identity = None
        self.epoch = 0
        self.csrf = secrets.token_urlsafe(32)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(data: SessionData, secret: bytes) -> str:
    """The cookie value: ``payload.signature``, both base64url."""
    payload = _b64(json.dumps(data.to_payload(), separators=(",", ":")).encode())
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def unsign(value: str | None, secret: bytes) -> SessionData | None:
    """The session in a cookie value, or None when it is missing, malformed or not signed by us."""
    if not value or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    want = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), want):
            return None
        data = json.loads(_unb64(payload))
    except ValueError:
        return None
    return SessionData.from_payload(data) if isinstance(data, dict) else None


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The signing secret: the configured one, else the one kept in ``{data_dir}/web-secret``.

    The file is written whole or not at all: the secret goes to a private temporary file (mode
    0600, synced), which is then hard-linked to ``web-secret``; the link fails when another
    worker's is there already, and that one is read instead. So several workers on one host
    share one secret, and a failed write (a full disk) leaves no file: the next request tries
    again. An empty or cut file (left by older versions) is replaced. Several hosts need
    ``CGD_BRIDGE_SECRET_KEY``.
    """
    if configured:
        return configured.encode()
    path = data_dir.expanduser() / SECRET_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            text = _read_secret(path)
            if text is not None and len(text) >= _SECRET_MIN:
                return text.encode()
            if text is not None:
                log.warning("replacing the web session secret %s: it is empty or cut", path)
                if _read_secret(path) == text:  # still the broken one (not a worker's new file)
                    path.unlink(missing_ok=True)
            _create_secret(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(
            N_("the web session secret cannot be created or read"),
            fix=N_(
                "Make the data folder writable (and not full), or set CGD_BRIDGE_SECRET_KEY "
                "(the same on every host)."
            ),
            internal=f"{path}: {exc}",
        ) from exc
    raise StoreError(
        N_("the web session secret could not be created"),
        fix=N_("Set CGD_BRIDGE_SECRET_KEY (the same on every host)."),
        internal=str(path),
    )


_SECRET_MIN = 32  # characters; the file holds 64 hex digits


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None


def _create_secret(path: Path) -> None:
    """Write a new secret to ``path`` unless one is there (see :func:`load_secret`)."""
    data = secrets.token_hex(32).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return  # another worker's secret is there: it is the one
        log.info("created the web session secret %s", path)
    finally:
        tmp.unlink(missing_ok=True)


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a stored password hash: a changed password invalidates the sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def principal_of(db: Session, data: SessionData, now: dt.datetime) -> Principal | None:
    """The principal a session signs in, re-checked against the store; None if it no longer holds.

    A key session holds while the key exists, is neither revoked nor expired and its user is
    active (the rules of :func:`cgd_bridge.store.orgs.authenticate_key`); a password session
    while the user is active and the password unchanged; an identity-provider session while the
    link to the provider's account exists and its user is active. Sessions end after :data:`MAX_AGE`
    (``now`` is the request's instant by the app's clock), or when signed out
    (:func:`end_session`), or when the user's sessions were ended (``users.session_epoch`` moved
    on: a password reset, a reactivation); a cookie without a session id (made before sessions had
    one) signs nobody in.
    """
    if data.username is None or data.issued_at is None or data.session_id is None:
        return None
    if now.timestamp() - data.issued_at > MAX_AGE:
        return None
    if websessions.ended(db, data.session_id):
        return None
    principal = _principal(db, data, now)
    if principal is not None and orgs.session_epoch(db, principal.user_id) != data.epoch:
        return None  # the user's sessions were ended (a password reset, a reactivation)
    return principal


def _principal(db: Session, data: SessionData, now: dt.datetime) -> Principal | None:
    assert data.username is not None
    if data.key_prefix is not None:
        # the key's own query loads its user (and checks it is active): no second lookup
        by_key = orgs.principal_of_key(db, data.key_prefix, now)
        return by_key if by_key is not None and by_key.username == data.username else None
    if data.identity is not None:
        link = identities.identity_of(db, data.identity)
        if link is None or link.user.username != data.username or not link.user.active:
            return None
        return Principal.of(link.user)
    if data.password_fp is None:
        return None
    try:
        user = orgs.get_user(db, username=data.username)
    except NotFound:
        return None
    if not user.active:
        return None
    if not user.password_hash or password_fingerprint(user.password_hash) != data.password_fp:
        return None
    return Principal.of(user)


def signed_in(
    data: SessionData,
    principal: Principal,
    *,
    key_prefix: str | None,
    password_hash: str | None,
    now: dt.datetime,
    identity: int | None = None,
    epoch: int = 0,
) -> None:
    """Record a fresh sign-in in ``data`` (a new CSRF token: no fixation across the sign-in):
    with an API key (``key_prefix``), a password (``password_hash``) or through the identity
    provider (``identity``, the link's id)."""
    data.username = principal.username
    data.key_prefix = key_prefix
    data.identity = identity if not key_prefix else None
    data.password_fp = (
        password_fingerprint(password_hash) if password_hash and not key_prefix and identity is None else None
    )
    data.oidc = None
    data.epoch = epoch
    data.issued_at = int(now.timestamp())
    data.session_id = secrets.token_urlsafe(24)
    data.csrf = secrets.token_urlsafe(32)


def end_session(db: Session, data: SessionData, now: dt.datetime) -> None:
    """Sign out: the session's id is recorded as ended in the store (so every copy of the cookie
    is refused from now on), then ``data`` forgets who was signed in."""
    if data.session_id is not None and data.issued_at is not None:
        expires = dt.datetime.fromtimestamp(data.issued_at + MAX_AGE, tz=dt.UTC)
        websessions.end(db, data.session_id, expires_at=expires, now=now)
    data.sign_out()
