"""Sign-in with the NSO's identity provider (#19) in a real browser: Debian's Chromium driven by
Playwright, a real ``cgd-bridge serve`` configured through its settings (``CGD_BRIDGE_OIDC_*``),
and a real OpenID provider (the npm package ``oidc-provider``, tests/support/oidc.py).

The person opens the bridge's sign-in page (checked with axe-core), follows the identity
provider's button, signs in on the provider's own login page, consents, and lands signed in on the
bridge as the reviewer a rule made them (their organisation's inbox); sign-out ends the session.
Skipped only when node/npm are missing (and, locally, without Chromium: see test_web_browser.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_web_browser import Checked, axe_source, chromium
from tests.support.oidc import Provider, oidc_provider, provider_dir
from tests.support.server import LiveServer, free_port, live_server

ACCOUNTS = {"u-njeri": {"email": "njeri@knbs.or.ke", "email_verified": True, "name": "Njeri Mwangi"}}


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Provider]]:
    provider_dir()  # skips, naming why, without node/npm (before a server is started)
    data_dir = tmp_path_factory.mktemp("oidc-browser")
    port = free_port()
    env = {
        "CGD_BRIDGE_OIDC_ISSUER": f"http://127.0.0.1:{port}",
        "CGD_BRIDGE_OIDC_CLIENT_ID": "cgd-bridge",
        "CGD_BRIDGE_OIDC_CLIENT_SECRET": "a-client-secret-for-the-tests-only",
        "CGD_BRIDGE_OIDC_BUTTON_LABEL": "Sign in with KNBS staff login",
        "CGD_BRIDGE_OIDC_RULES": json.dumps(
            [{"email_domain": "knbs.or.ke", "organisation": "knbs", "role": "reviewer"}]
        ),
    }
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir, env=env) as server:
        callback = f"{server.url}/sign-in/oidc/callback"
        with oidc_provider(data_dir, redirect_uris=[callback], accounts=ACCOUNTS, port=port) as provider:
            yield server, provider


@pytest.fixture
def tab() -> Iterator[Checked]:
    with chromium() as browser:
        # bypass_csp lets the test inject axe-core, as in test_web_browser.py
        context = browser.new_context(bypass_csp=True, viewport={"width": 1200, "height": 900})
        # the provider's dev pages load a web font from the internet: nothing leaves the machine
        context.route("**/*", _local_only)
        yield Checked(context.new_page(), axe_source())


def _local_only(route: Any) -> None:
    if route.request.url.startswith("http://127.0.0.1:"):
        route.continue_()
    else:
        route.abort()


def test_a_reviewer_signs_in_through_the_identity_provider(
    sso: tuple[LiveServer, Provider], tab: Checked, tmp_path: Path
) -> None:
    server, provider = sso
    p = tab.page
    p.goto(f"{server.url}/sign-in?next=/inbox")
    button = p.locator("#oidc-sign-in")
    assert button.inner_text().strip() == "Sign in with KNBS staff login"
    tab.check("sign-in with the identity provider's button")
    # through the provider: its own login page (devInteractions), then its consent page
    with p.expect_navigation():
        button.click()
    assert p.url.startswith(provider.issuer), p.url
    p.fill("input[name=login]", "u-njeri")
    p.fill("input[name=password]", "any password")
    with p.expect_navigation():
        p.click("button[type=submit]")
    if "consent" in p.content():
        with p.expect_navigation():
            p.click("button[type=submit]")
    p.wait_for_url(f"{server.url}/inbox")
    text = p.inner_text("body")
    assert "Signed in as njeri@knbs.or.ke (reviewer of knbs)." in text
    assert "Review inbox" in text
    # the same web session as a password's: sign-out (a CSRF-protected form) ends it
    with p.expect_navigation():
        p.click("form[action$='/sign-out'] button")
    assert "You are signed out." in p.inner_text("body")
    p.goto(f"{server.url}/inbox")
    assert "/sign-in" in p.url
