"""Sign-in with the NSO's identity provider (#19) over HTTP, against a REAL OpenID provider.

The provider is the npm package ``oidc-provider`` started by the test (tests/support/oidc.py);
the bridge is the app on SQLite and on PostgreSQL through Starlette's TestClient (its own calls
to the provider, discovery, JWKS and the token exchange, are real HTTP). The test logs in at the
provider's own pages as a browser would and follows the redirect back to the bridge.

Proved here: a verified e-mail matches an existing user and links the account (the next sign-in
goes by the link); a rule provisions a reviewer of knbs by e-mail domain and an admin by a group
claim; the hostile cases are refused with a page saying why: a wrong state, a callback without a
sign-in under way, a replayed code, a nonce that is not the sign-in's, an ID token from another
issuer, an unverified e-mail, no matching rule, a deactivated user (also ending a live session).
"""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.web import session as websession
from cgd_bridge.settings import OidcRule, Settings
from cgd_bridge.store import audit, orgs
from cgd_bridge.store.models import AuditEntry, UserIdentity
from tests.support.oidc import Provider, log_in, oidc_provider
from tests.support.postgres import fresh_schema

BRIDGE = "http://testserver"
CALLBACK = f"{BRIDGE}/sign-in/oidc/callback"
SECRET = "a-web-secret-for-the-oidc-tests-0123456789"
ACCOUNTS: dict[str, dict[str, Any]] = {
    # matched by e-mail to the existing user wanjiru
    "u-wanjiru": {"email": "Wanjiru@KNBS.or.ke", "email_verified": True, "name": "Wanjiru K."},
    # provisioned by the e-mail-domain rule (reviewer of knbs)
    "u-otieno": {"email": "otieno@knbs.or.ke", "email_verified": True, "name": "Otieno"},
    # provisioned by the groups rule (admin of the platform organisation)
    "u-admin": {"email": "ops@example.org", "email_verified": True, "groups": ["staff", "cgd-admins"]},
    # the domain would match, but the provider has not verified the address
    "u-unverified": {"email": "mallory@knbs.or.ke", "email_verified": False},
    # verified, but no rule admits example.com
    "u-stranger": {"email": "stranger@example.com", "email_verified": True},
}
RULES = [
    OidcRule(email_domain="knbs.or.ke", organisation="knbs", role="reviewer"),
    OidcRule(claim="groups", value="cgd-admins", organisation="platform", role="admin"),
]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with oidc_provider(tmp_path_factory.mktemp("oidc"), redirect_uris=[CALLBACK], accounts=ACCOUNTS) as p:
        yield p


@dataclass
class Bridge:
    client: TestClient
    app: Any

    def session(self) -> Any:
        return self.app.state.bridge.sessions()


def settings_for(tmp: Path, provider: Provider, issuer: str | None = None) -> Settings:
    return Settings(
        data_dir=tmp,
        rate_limit_per_minute=0,
        secret_key=SECRET,
        oidc_issuer=issuer or provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_scopes="openid email profile groups",
        oidc_rules=RULES,
    )


@contextlib.contextmanager
def bridge_app(settings: Settings, url: str) -> Iterator[Bridge]:
    app = create_app(settings, database_url=url)
    with TestClient(app, base_url=BRIDGE, follow_redirects=False) as client:
        with app.state.bridge.sessions() as s:
            orgs.create_organisation(s, slug="knbs", name="KNBS", kind="nso")
            orgs.create_organisation(s, slug="platform", name="Platform", kind="admin")
            orgs.create_user(
                s, username="wanjiru", organisation="knbs", role="reviewer", email="wanjiru@knbs.or.ke"
            )
        yield Bridge(client, app)


@pytest.fixture(params=["sqlite", "postgresql"])
def bridge(request: pytest.FixtureRequest, tmp_path: Path, provider: Provider) -> Iterator[Bridge]:
    with fresh_schema("cgdb_oidc") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        url = pg or f"sqlite:///{tmp_path / 'oidc.sqlite'}"
        with bridge_app(settings_for(tmp_path, provider), url) as b:
            yield b


def start(bridge: Bridge, next_page: str = "") -> str:
    """Start a sign-in at the bridge; the provider's authorisation URL."""
    r = bridge.client.get("/sign-in/oidc", params={"next": next_page} if next_page else None)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["response_type"] == ["code"]
    return location


def callback(bridge: Bridge, url: str) -> httpx.Response:
    return bridge.client.get(url.removeprefix(BRIDGE))


def sign_in(bridge: Bridge, account: str, next_page: str = "") -> httpx.Response:
    return callback(bridge, log_in(start(bridge, next_page), account, stop_at=BRIDGE))


def who(bridge: Bridge) -> str:
    return bridge.client.get("/").text


def refusal(r: httpx.Response) -> str:
    assert r.status_code == 403, (r.status_code, r.text[:2000])
    return html.unescape(r.text)


def test_the_sign_in_page_offers_the_provider(bridge: Bridge) -> None:
    page = bridge.client.get("/sign-in?next=/inbox").text
    assert (
        "Sign in with your organisation&#39;s account" in page
        or "Sign in with your organisation's account" in page
    )
    assert 'href="/sign-in/oidc?next=%2Finbox"' in page


def test_a_verified_email_matches_the_user_and_links_the_account(bridge: Bridge) -> None:
    r = sign_in(bridge, "u-wanjiru", next_page="/inbox")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/inbox"
    assert "Signed in as wanjiru (reviewer of knbs)" in html.unescape(bridge.client.get("/inbox").text)
    with bridge.session() as s:
        links = list(s.query(UserIdentity))
        assert [(link.user.username, link.subject) for link in links] == [("wanjiru", "u-wanjiru")]
        assert s.query(AuditEntry).filter_by(action="identity.linked").count() == 1
    # the session is an ordinary web session: CSRF-protected forms, sign-out ends it
    csrf = websession.unsign(bridge.client.cookies.get(websession.COOKIE), SECRET.encode())
    assert csrf is not None
    assert csrf.identity == links[0].id
    assert csrf.password_fp is None
    assert bridge.client.post("/sign-out", data={"csrf_token": "forged"}).status_code == 403
    assert (
        bridge.client.post("/sign-out", data={"csrf_token": websession.masked_csrf(csrf.csrf)}).status_code
        == 303
    )
    assert "wanjiru" not in who(bridge)
    # the second sign-in goes by the link, even after the user's address changed
    with bridge.session() as s:
        user = orgs.get_user(s, username="wanjiru")
        user.email = "w.k@knbs.or.ke"
        s.commit()
    assert sign_in(bridge, "u-wanjiru").status_code == 303
    assert "wanjiru" in who(bridge)


def test_rules_provision_by_email_domain_and_by_group(bridge: Bridge) -> None:
    assert sign_in(bridge, "u-otieno").status_code == 303
    assert sign_in(bridge, "u-admin").status_code == 303
    with bridge.session() as s:
        otieno = orgs.get_user(s, username="otieno@knbs.or.ke")
        admin = orgs.get_user(s, username="ops@example.org")
        assert (otieno.organisation.slug, otieno.role, otieno.email, otieno.password_hash) == (
            "knbs",
            "reviewer",
            "otieno@knbs.or.ke",
            None,
        )
        assert (admin.organisation.slug, admin.role) == ("platform", "admin")
        assert s.query(AuditEntry).filter_by(action="user.provisioned").count() == 2
        assert audit  # the audit module wrote them (store/identities.py)


def test_a_wrong_state_is_refused(bridge: Bridge) -> None:
    url = log_in(start(bridge), "u-otieno", stop_at=BRIDGE)
    forged = url.replace("state=", "state=x")
    assert "wrong state" in refusal(callback(bridge, forged))
    # and the sign-in is over: the right state does not work afterwards either
    assert "no sign-in through the identity provider is under way" in refusal(callback(bridge, url))
    assert "otieno" not in who(bridge)


def test_a_callback_without_a_sign_in_under_way_is_refused(bridge: Bridge, provider: Provider) -> None:
    url = log_in(start(bridge), "u-otieno", stop_at=BRIDGE)
    bridge.client.cookies.clear()  # another browser gets the link (login CSRF)
    assert "no sign-in through the identity provider is under way" in refusal(callback(bridge, url))


def test_a_replayed_code_is_refused(bridge: Bridge) -> None:
    url = log_in(start(bridge), "u-otieno", stop_at=BRIDGE)
    before = bridge.client.cookies.get(websession.COOKIE)
    assert callback(bridge, url).status_code == 303
    # an attacker who kept the callback URL and the cookie from before it was used
    bridge.client.cookies.clear()
    bridge.client.cookies.set(websession.COOKIE, before)
    text = refusal(callback(bridge, url))
    assert "refused the sign-in code" in text
    assert "invalid_grant" in text
    assert "otieno" not in who(bridge)


def test_a_nonce_that_is_not_the_sign_ins_is_refused(bridge: Bridge) -> None:
    url = log_in(start(bridge), "u-otieno", stop_at=BRIDGE)
    # the cookie's sign-in re-signed with another nonce (the test knows the server's secret):
    # the provider's ID token carries the nonce of the authorisation request
    data = websession.unsign(bridge.client.cookies.get(websession.COOKIE), SECRET.encode())
    assert data is not None
    assert data.oidc is not None
    data.oidc["nonce"] = "not-the-nonce-sent"
    bridge.client.cookies.clear()
    bridge.client.cookies.set(websession.COOKIE, websession.sign(data, SECRET.encode()))
    assert "nonce" in refusal(callback(bridge, url))
    assert "otieno" not in who(bridge)


def test_an_unverified_email_is_refused(bridge: Bridge) -> None:
    text = refusal(sign_in(bridge, "u-unverified"))
    assert "has not verified the e-mail address mallory@knbs.or.ke" in text
    with bridge.session() as s:
        assert s.query(UserIdentity).count() == 0


def test_no_matching_rule_is_refused(bridge: Bridge) -> None:
    text = refusal(sign_in(bridge, "u-stranger"))
    assert "no rule of this bridge admits stranger@example.com" in text
    assert "Ask the bridge" in text


def test_a_deactivated_user_cannot_sign_in_and_their_session_ends(bridge: Bridge) -> None:
    assert sign_in(bridge, "u-wanjiru").status_code == 303
    assert "wanjiru" in who(bridge)
    with bridge.session() as s:
        orgs.get_user(s, username="wanjiru").active = False
        s.commit()
    assert "wanjiru" not in who(bridge)  # the live session ends at once
    assert "the account wanjiru is deactivated" in refusal(sign_in(bridge, "u-wanjiru"))


def test_claims_only_at_userinfo_are_read_from_there(tmp_path: Path) -> None:
    """A provider that keeps e-mail and groups out of the ID token (oidc-provider's default,
    conformIdTokenClaims): the bridge asks its userinfo endpoint with the access token."""
    with oidc_provider(tmp_path, redirect_uris=[CALLBACK], accounts=ACCOUNTS, conform=True) as strict:
        with bridge_app(settings_for(tmp_path, strict), f"sqlite:///{tmp_path / 'u.sqlite'}") as b:
            assert sign_in(b, "u-admin").status_code == 303  # the groups rule, from userinfo
            assert "ops@example.org" in who(b)
            assert sign_in(b, "u-wanjiru").status_code == 303  # the e-mail match, from userinfo
            assert "wanjiru" in who(b)


def test_an_id_token_from_another_issuer_is_refused(tmp_path: Path, provider: Provider) -> None:
    """The bridge trusts issuer R (a relay whose discovery document is its own, but whose token
    endpoint is the real provider's): the real provider's ID token names its own issuer, not R."""
    real = httpx.get(f"{provider.issuer}/.well-known/openid-configuration").json()
    relay_doc = {**real}
    with _serve_json() as (relay_url, set_doc):
        relay_doc["issuer"] = relay_url
        set_doc("/.well-known/openid-configuration", relay_doc)
        with bridge_app(
            settings_for(tmp_path, provider, issuer=relay_url), f"sqlite:///{tmp_path / 'r.sqlite'}"
        ) as b:
            text = refusal(sign_in(b, "u-otieno"))
            assert "iss" in text
            assert "does not hold" in text
            assert "otieno" not in who(b)


@contextlib.contextmanager
def _serve_json() -> Iterator[tuple[str, Any]]:
    """A tiny HTTP server answering fixed JSON documents by path (the relay's discovery)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    docs: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(docs.get(self.path)).encode()
            self.send_response(200 if self.path in docs else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", docs.__setitem__
    finally:
        server.shutdown()
        server.server_close()
