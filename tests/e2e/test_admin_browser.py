"""The administrators' pages (#19) in a real browser: Debian's Chromium driven by Playwright
against a real ``cgd-bridge serve`` (the demo), every page checked with axe-core.

The platform admin signs in with a key, opens "Users and keys", adds a reviewer of knbs, makes
them a key (shown once) and a one-time password-reset link, and deactivates kamau; the new
reviewer opens the link in their own browser, sets a password and signs in with it; the link
does not work a second time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_web_browser import Checked, axe_source, chromium, navigate, sign_in_with_key
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("admin-live")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def tab_of(browser: object) -> Checked:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    return Checked(context.new_page(), axe_source())


def test_an_admin_manages_users_keys_and_a_reset_link(
    site: LiveServer, browser: object, tmp_path: Path
) -> None:
    admin = tab_of(browser)
    p, url = admin.page, site.url
    sign_in_with_key(admin, url, site.keys["admin"])
    navigate(p, "nav a:has-text('Users and keys')")
    assert p.url == f"{url}/admin/users"
    admin.check("users and keys")

    # add a reviewer of knbs
    p.select_option("#new-organisation", "knbs")
    p.fill("#new-username", "achieng")
    p.fill("#new-display-name", "Achieng Odhiambo")
    p.fill("#new-email", "achieng@knbs.or.ke")
    p.select_option("#new-role", "reviewer")
    navigate(p, "button:has-text('Add the user')")
    assert "User achieng was created." in p.inner_text("main")

    # a key for them, shown once
    row = p.locator("#user-achieng")
    row.locator("input[name=label]").fill("laptop")
    with p.expect_navigation():
        row.locator("button:has-text('New key')").click()
    key = p.inner_text("#new-key code").strip()
    assert key.startswith("cgdb_")
    admin.check("users and keys, with a new key")

    # a one-time reset link for them
    with p.expect_navigation():
        p.locator("#user-achieng button:has-text('Make a reset link')").click()
    link = p.inner_text("#reset-link code").strip()
    assert link.startswith(f"{url}/reset-password/")

    # deactivate kamau
    with p.expect_navigation():
        p.locator("#user-kamau button:has-text('Deactivate')").click()
    assert "kamau was deactivated" in p.inner_text("main")
    assert "deactivated" in p.inner_text("#user-kamau")

    # the new reviewer sets a password with the link and signs in with it
    person = tab_of(browser)
    q = person.page
    q.goto(link)
    person.check("choose a new password")
    q.fill("#password", "short")
    q.fill("#confirm", "short")
    navigate(q, "button:has-text('Save the password')")
    assert q.get_attribute("#password", "aria-invalid") == "true"
    person.check("choose a new password, with an error")
    q.fill("#password", "a-long-new-password")
    q.fill("#confirm", "a-long-new-password")
    navigate(q, "button:has-text('Save the password')")
    assert q.url.startswith(f"{url}/sign-in")
    q.fill("#username", "achieng")
    q.fill("#password", "a-long-new-password")
    navigate(q, "button:has-text('Sign in with the password')")
    assert "Signed in as achieng (reviewer of knbs)." in q.inner_text("main")
    # the link works once
    q.goto(link)
    assert "already used" in q.inner_text("main")
