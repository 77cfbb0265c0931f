"""Sign-in with the NSO's identity provider (#19): OpenID Connect, authorisation code + PKCE.

Authlib does the protocol: its OAuth 2 client (over httpx) builds the authorisation URL with
the PKCE challenge (S256), ``state`` and ``nonce``, and exchanges the code for tokens with the
client's secret and the PKCE verifier; its OpenID Connect claims classes, over joserfc, check the
ID token. The bridge adds what is its own:

- the provider is found by **discovery** (``{issuer}/.well-known/openid-configuration``), whose
  ``issuer`` must be the configured one; the document and the provider's keys (JWKS) are kept
  for :data:`METADATA_TTL` seconds, and the keys fetched again once when a token names a key
  the set does not have (the provider rotated its keys);
- the sign-in under way (``state``, ``nonce``, PKCE verifier, the page to return to, when it
  started) lives in the signed session cookie (``o``), for :data:`PENDING_MAX_AGE` seconds, and
  is removed by the callback whatever its outcome: a state or a code is good for one try;
- the **ID token** must be signed by a key of the provider's JWKS with an algorithm it announces
  (never ``none``), name the configured issuer (``iss``) and the bridge's client id (``aud``),
  be unexpired (``exp``, with :data:`LEEWAY`), carry the sign-in's ``nonce``, and match the
  access token's hash (``at_hash``) when it has one (:func:`verify_id_token`); when it has no
  ``email``, the provider's userinfo (asked with the access token, and naming the same ``sub``)
  completes its claims;
- who the verified claims are is decided by the store (:func:`cgd_bridge.store.identities.sign_in`:
  the link, the verified e-mail, the rules); the session then made is the same web session as a
  password's (CSRF, sign-out, re-checked on every request).

Every refusal is a :class:`SignInRefused` (403) page saying why and what to do.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from cgd_bridge.errors import CgdBridgeError, Forbidden
from cgd_bridge.i18n import N_
from cgd_bridge.settings import Settings
from cgd_bridge.store import identities

log = logging.getLogger(__name__)
METADATA_TTL = 3600  # seconds the discovery document and the keys are kept
PENDING_MAX_AGE = 600  # seconds from the redirect to the provider to the callback
LEEWAY = 60  # seconds of clock difference allowed for exp, iat and nbf
HTTP_TIMEOUT = 10.0
CALLBACK = "/sign-in/oidc/callback"
#: what a person does when a sign-in fails on the bridge's side of it
AGAIN = N_("Start the sign-in again from the bridge's sign-in page.")
AGAIN_OR_TELL = N_("Start the sign-in again; if it keeps failing, tell the bridge's administrator.")
LATER = N_("Try again in a moment, or sign in with your API key or password.")
CHECK_PROVIDER = N_("The administrator must check the identity provider's configuration.")


class SignInRefused(Forbidden):
    """The identity provider's sign-in did not hold (403 page with the reason)."""

    title = N_("Sign-in refused")


class ProviderUnavailable(CgdBridgeError):
    """The identity provider could not be reached or answered nonsense (502 page); ``internal``
    (the URL, the reason) goes to the operator's log only."""

    status = 502
    title = N_("Identity provider unavailable")

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        internal: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(problem, fix=fix, params=params)
        if internal:
            log.warning("OpenID Connect: %s (%s)", self.problem, internal)


def verify_id_token(
    id_token: str,
    *,
    keys: KeySet,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: list[str] | None,
    access_token: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once every check holds (see the module docstring).

    Raises:
        SignInRefused: a bad signature, an unknown key, another issuer or audience, an expired
            token, a wrong nonce; the message names which.
        InvalidKeyIdError: the token names a key that ``keys`` does not have (fetch them again).
    """
    allowed = [a for a in (algorithms or ["RS256"]) if a.lower() != "none"]
    try:
        token = jwt.decode(id_token, key=keys, registry=JWSRegistry(algorithms=allowed))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError) as exc:
        log.warning("OpenID Connect: the ID token is not valid (%s)", exc)
        raise SignInRefused(
            N_("the identity provider's ID token is not valid (its signature or its form)"),
            fix=AGAIN_OR_TELL,
        ) from exc
    params: dict[str, Any] = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(
        token.claims,
        token.header,
        {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}},
        params,
    )
    try:
        claims.validate(now=int(now if now is not None else time.time()), leeway=LEEWAY)
    except JoseError as exc:
        which = getattr(exc, "claim", None) or exc.error
        log.warning(
            "OpenID Connect: the ID token does not hold (%s: %s)", which, exc.description or exc.error
        )
        raise SignInRefused(
            N_(
                "the identity provider's ID token does not hold: its claim '{claim}' is not what the "
                "bridge expects"
            ),
            fix=N_(
                "Start the sign-in again; if it keeps failing, tell the bridge's administrator "
                "(the provider's issuer and the client id must be the ones configured)."
            ),
            params={"claim": which},
        ) from exc
    return dict(claims)


@dataclass
class _Cached:
    metadata: dict[str, Any]
    keys: KeySet | None = None
    loaded_at: float = field(default_factory=time.monotonic)


class OidcClient:
    """The bridge's OpenID Connect client for the configured provider (one per app)."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer
        self.client_id = settings.oidc_client_id
        self.client_secret = (
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        )
        self.scope = (
            settings.oidc_scopes
            if "openid" in settings.oidc_scopes.split()
            else f"openid {settings.oidc_scopes}"
        )
        self.redirect_url = settings.oidc_redirect_url
        self.policy = identities.Policy(
            rules=tuple(identities.Rule(**r.model_dump()) for r in settings.oidc_rules),
            match_email=settings.oidc_match_email,
        )
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    # -- the provider ------------------------------------------------------------------------
    def _get(self, url: str) -> Any:
        try:
            r = httpx.get(url, timeout=HTTP_TIMEOUT, follow_redirects=False)
            r.raise_for_status()
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                N_("the identity provider did not answer the bridge"), fix=LATER, internal=f"{url}: {exc}"
            ) from exc

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached), checked to be the configured issuer's."""
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached.loaded_at < METADATA_TTL:
                return cached.metadata
        metadata = self._get(f"{self.issuer}/.well-known/openid-configuration")
        if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
            raise ProviderUnavailable(
                N_("the identity provider's discovery document names another issuer"),
                fix=N_("The administrator must set {setting} to the provider's issuer exactly."),
                params={"setting": "CGD_BRIDGE_OIDC_ISSUER"},
                internal=f"configured {self.issuer!r}, discovery says "
                f"{metadata.get('issuer') if isinstance(metadata, dict) else metadata!r}",
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(metadata.get(name), str):
                raise ProviderUnavailable(
                    N_("the identity provider's discovery document has no {name}"),
                    fix=CHECK_PROVIDER,
                    params={"name": name},
                )
        with self._lock:
            self._cached = _Cached(metadata)
        return metadata

    def keys(self, *, force: bool = False) -> KeySet:
        """The provider's signing keys (cached with the metadata; ``force`` fetches them again)."""
        metadata = self.metadata()
        with self._lock:
            cached = self._cached
            if cached is not None and cached.keys is not None and not force:
                return cached.keys
        try:
            keys = KeySet.import_key_set(self._get(metadata["jwks_uri"]))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(
                N_("the identity provider's keys (JWKS) could not be read"),
                fix=CHECK_PROVIDER,
                internal=str(exc),
            ) from exc
        with self._lock:
            if self._cached is not None:
                self._cached.keys = keys
        return keys

    def _client(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
            timeout=HTTP_TIMEOUT,
        )

    # -- the two legs ------------------------------------------------------------------------
    def begin(self, redirect_uri: str, next_page: str) -> tuple[str, dict[str, Any]]:
        """The provider's authorisation URL, and what the session keeps until the callback."""
        metadata = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), generate_token(64)
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
            )
        pending = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": next_page,
            "t": int(time.time()),
        }
        return str(url), pending

    def finish(
        self, pending: Mapping[str, Any] | None, *, state: str, code: str, redirect_uri: str
    ) -> identities.Claims:
        """The verified claims of the callback (``state`` and ``code`` from the provider).

        Raises:
            SignInRefused: no sign-in under way, an old one, a wrong state, a code the provider
                refuses (used, expired, another client's, a wrong PKCE verifier), a bad ID token.
            ProviderUnavailable: the provider did not answer.
        """
        if not pending or not all(isinstance(pending.get(k), str) for k in ("state", "nonce", "verifier")):
            raise SignInRefused(
                N_("no sign-in through the identity provider is under way in this browser"), fix=AGAIN
            )
        if not isinstance(pending.get("t"), int) or time.time() - pending["t"] > PENDING_MAX_AGE:
            raise SignInRefused(N_("this sign-in took too long and has expired"), fix=AGAIN)
        if not state or not secrets.compare_digest(state.encode(), str(pending["state"]).encode()):
            raise SignInRefused(
                N_(
                    "the answer from the identity provider does not belong to this browser's sign-in "
                    "(wrong state)"
                ),
                fix=AGAIN,
            )
        metadata = self.metadata()
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending["verifier"],
                )
        except AuthlibBaseError as exc:
            log.warning("OpenID Connect: the code was refused (%s: %s)", exc.error, exc.description or "")
            raise SignInRefused(
                N_("the identity provider refused the sign-in code ({error})"),
                fix=N_(
                    "Start the sign-in again from the bridge's sign-in page. A code can be used once "
                    "only, and only for a short time."
                ),
                params={"error": exc.error},
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                N_("the identity provider did not answer the bridge"), fix=LATER, internal=str(exc)
            ) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused(
                N_("the identity provider sent no ID token"),
                fix=N_("The administrator must check that the scopes include openid ({setting})."),
                params={"setting": "CGD_BRIDGE_OIDC_SCOPES"},
            )
        check = {
            "issuer": self.issuer,
            "client_id": self.client_id,
            "nonce": str(pending["nonce"]),
            "algorithms": metadata.get("id_token_signing_alg_values_supported"),
            "access_token": token.get("access_token"),
        }
        try:
            claims = verify_id_token(id_token, keys=self.keys(), **check)
        except InvalidKeyIdError:
            try:
                claims = verify_id_token(id_token, keys=self.keys(force=True), **check)
            except InvalidKeyIdError as exc:
                raise SignInRefused(
                    N_("the ID token is signed with a key the identity provider does not publish"),
                    fix=AGAIN,
                ) from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SignInRefused(N_("the ID token names nobody (no sub)"), fix=AGAIN)
        access_token = token.get("access_token")
        userinfo = metadata.get("userinfo_endpoint")
        if "email" not in claims and isinstance(access_token, str) and isinstance(userinfo, str):
            claims = self._with_userinfo(claims, userinfo, access_token)
        return identities.Claims.of(claims)

    def _with_userinfo(self, claims: dict[str, Any], url: str, access_token: str) -> dict[str, Any]:
        """The ID token's claims completed by the provider's userinfo endpoint (for providers that
        put e-mail and groups only there); the ID token's own claims win, and userinfo must name
        the same person (``sub``)."""
        try:
            r = httpx.get(url, headers={"Authorization": f"Bearer {access_token}"}, timeout=HTTP_TIMEOUT)
            r.raise_for_status()
            info = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(
                N_("the identity provider's userinfo did not answer the bridge"),
                fix=LATER,
                internal=f"{url}: {exc}",
            ) from exc
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise SignInRefused(
                N_("the identity provider's userinfo names another person than its ID token"),
                fix=AGAIN_OR_TELL,
            )
        return {**info, **claims}


def client_of(extra: dict[str, Any], settings: Settings) -> OidcClient | None:
    """The app's :class:`OidcClient` (made once), or None when sign-in by provider is off."""
    if not settings.oidc_enabled:
        return None
    client = extra.get("oidc_client")
    if client is None:
        client = extra.setdefault("oidc_client", OidcClient(settings))
    assert isinstance(client, OidcClient)
    return client
