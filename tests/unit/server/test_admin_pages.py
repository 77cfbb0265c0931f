"""The administrators' web pages (#19) through Starlette's TestClient, on SQLite and PostgreSQL:
users, roles, keys, deactivation and one-time password-reset links, and the adversarial cases:
a non-admin posting to the admin routes, an admin of one organisation touching another's user,
a form without its CSRF token, a reset link used twice, an expired or replaced link."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cgd_bridge.server.app import create_app
from cgd_bridge.server.demo import seed
from cgd_bridge.settings import Settings
from cgd_bridge.store import orgs
from cgd_bridge.store.models import AuditEntry, PasswordReset
from tests.support.clock import ManualClock
from tests.support.postgres import fresh_schema

API = "/api/submissions"  # any keyed API route: 401 once the key stops working


@dataclass
class Site:
    app: Any
    clock: ManualClock
    keys: dict[str, str]

    def browser(self, key: str | None = None) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        if key:
            r = client.post("/sign-in", data={"csrf_token": csrf(client), "method": "key", "api_key": key})
            assert r.status_code == 303, r.text
        return client

    def session(self) -> Any:
        return self.app.state.bridge.sessions()


def csrf(client: TestClient, path: str = "/sign-in") -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text
    m = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert m
    return m.group(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    with fresh_schema("cgdb_admin") if request.param == "postgresql" else contextlib.nullcontext() as pg:
        clock = ManualClock()
        app = create_app(Settings(data_dir=tmp_path, rate_limit_per_minute=0), database_url=pg, clock=clock)
        with TestClient(app):
            with app.state.bridge.sessions() as s:
                keys = dict(seed(s, app.state.bridge.structures).keys)
                # an admin of the NSO knbs (manages knbs only), beside the platform's "admin"
                orgs.create_user(s, username="knbs-admin", organisation="knbs", role="admin")
                keys["knbs-admin"] = orgs.create_key(s, username="knbs-admin").key
            yield Site(app, clock, keys)


def post(client: TestClient, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf(client, "/"), **data})


def active(site: Site, username: str) -> bool:
    with site.session() as s:
        return bool(orgs.get_user(s, username=username).active)


def api_status(site: Site, key: str) -> int:
    return site.browser().get(API, headers={"Authorization": f"Bearer {key}"}).status_code


def test_a_non_admin_cannot_use_the_admin_pages(site: Site) -> None:
    kamau = site.browser(site.keys["kamau"])
    assert kamau.get("/admin/users").status_code == 403
    for path, data in (
        ("/admin/users/amina/active", {"active": "0"}),
        ("/admin/users/amina/role", {"role": "admin"}),
        ("/admin/users/amina/keys", {"label": "mine now"}),
        ("/admin/users/amina/reset", {}),
        ("/admin/users", {"organisation": "knbs", "username": "eve", "role": "admin"}),
    ):
        assert post(kamau, path, **data).status_code == 403, path
    assert active(site, "amina")
    anonymous = site.browser()
    r = anonymous.get("/admin/users")
    assert r.status_code == 303
    assert "/sign-in" in r.headers["location"]


def test_an_admin_of_one_organisation_cannot_touch_another_ones_users(site: Site) -> None:
    knbs = site.browser(site.keys["knbs-admin"])
    page = html.unescape(knbs.get("/admin/users").text)
    assert 'id="user-kamau"' in page
    assert 'id="user-amina"' not in page  # sauti's user is not even listed
    with site.session() as s:
        amina_key = orgs.list_keys(s, username="amina")[0].prefix
    for path, data in (
        ("/admin/users/amina/active", {"active": "0"}),
        ("/admin/users/amina/role", {"role": "admin"}),
        ("/admin/users/amina/keys", {"label": "x"}),
        ("/admin/users/amina/reset", {}),
        (f"/admin/keys/{amina_key}/revoke", {}),
        ("/admin/users", {"organisation": "sauti", "username": "eve", "role": "admin"}),
    ):
        r = post(knbs, path, **data)
        assert r.status_code == 403, (path, r.text[:500])
        assert "of your own organisation, not of sauti" in html.unescape(r.text), path
    assert active(site, "amina")
    assert api_status(site, site.keys["amina"]) == 200


def test_forms_without_the_csrf_token_are_refused(site: Site) -> None:
    admin = site.browser(site.keys["admin"])
    r = admin.post("/admin/users/kamau/active", data={"active": "0", "csrf_token": "forged"})
    assert r.status_code == 403
    assert active(site, "kamau")


def test_deactivating_stops_keys_and_sessions_at_once_and_is_audited(site: Site) -> None:
    kamau = site.browser(site.keys["kamau"])
    assert kamau.get("/inbox").status_code == 200
    knbs = site.browser(site.keys["knbs-admin"])
    assert post(knbs, "/admin/users/kamau/active", active="0").status_code == 303
    assert api_status(site, site.keys["kamau"]) == 401
    assert kamau.get("/inbox").status_code == 303  # to the sign-in page
    # an admin cannot lock themselves out
    r = post(knbs, "/admin/users/knbs-admin/active", active="0")
    assert r.status_code == 400
    assert post(knbs, "/admin/users/kamau/active", active="1").status_code == 303
    assert api_status(site, site.keys["kamau"]) == 200
    with site.session() as s:
        actions = [a.action for a in s.query(AuditEntry).filter(AuditEntry.action.like("user.%activated"))]
    assert actions == ["user.deactivated", "user.reactivated"]


def test_roles_keys_and_new_users(site: Site) -> None:
    knbs = site.browser(site.keys["knbs-admin"])
    # a role that does not fit the organisation is refused in words
    r = post(knbs, "/admin/users/kamau/role", role="submitter")
    assert r.status_code == 400
    assert "cannot belong to 'knbs'" in html.unescape(r.text)
    assert post(knbs, "/admin/users/kamau/role", role="admin").status_code == 303
    # a new user, then a key shown once that works, then revoked from the page
    r = post(
        knbs, "/admin/users", organisation="knbs", username="achieng", role="reviewer", email="A@knbs.or.ke"
    )
    assert r.status_code == 303, r.text
    r = post(knbs, "/admin/users/achieng/keys", label="laptop")
    assert r.status_code == 200
    key = re.search(r"cgdb_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", r.text)
    assert key is not None
    assert api_status(site, key.group(0)) == 200
    assert key.group(0) not in knbs.get("/admin/users").text  # shown once only
    prefix = key.group(0).split("_")[1]
    assert post(knbs, f"/admin/keys/{prefix}/revoke").status_code == 303
    assert api_status(site, key.group(0)) == 401
    with site.session() as s:
        user = orgs.get_user(s, username="achieng")
        assert (user.email, user.role, user.organisation.slug) == ("a@knbs.or.ke", "reviewer", "knbs")


def _reset_link(site: Site, admin: TestClient, username: str) -> str:
    r = post(admin, f"/admin/users/{username}/reset")
    assert r.status_code == 200, r.text
    m = re.search(r"http://testserver(/reset-password/[A-Za-z0-9_-]+)", r.text)
    assert m
    return m.group(1)


def form(client: TestClient, link: str, password: str, confirm: str) -> dict[str, str]:
    return {"csrf_token": csrf(client, link), "password": password, "confirm": confirm}


def test_a_reset_link_sets_the_password_once_and_ends_other_sessions(site: Site) -> None:
    admin = site.browser(site.keys["admin"])
    kamau_elsewhere = site.browser(site.keys["kamau"])  # signed in with the key in another browser
    link = _reset_link(site, admin, "kamau")
    with site.session() as s:  # only the token's hash is stored
        stored = [r.token_sha256 for r in s.query(PasswordReset)]
    assert link.rsplit("/", 1)[1] not in stored
    assert len(stored) == 1
    person = site.browser()
    page = person.get(link)
    assert page.status_code == 200
    assert "kamau" in page.text
    # the existing password rules, and a mistyped confirmation
    r = person.post(link, data=form(person, link, "short", "short"))
    assert r.status_code == 400
    assert "shorter than 10 characters" in html.unescape(r.text)
    r = person.post(
        link, data={"csrf_token": csrf(person, link), "password": "a-long-pass-1", "confirm": "other-pass-1"}
    )
    assert r.status_code == 400
    r = person.post(
        link, data={"csrf_token": csrf(person, link), "password": "a-long-pass-1", "confirm": "a-long-pass-1"}
    )
    assert r.status_code == 303
    # the other session is over; the API key itself still works (a key is not a session)
    assert kamau_elsewhere.get("/inbox").status_code == 303
    assert api_status(site, site.keys["kamau"]) == 200
    # the new password signs in
    r = person.post(
        "/sign-in",
        data={
            "csrf_token": csrf(person),
            "method": "password",
            "username": "kamau",
            "password": "a-long-pass-1",
        },
    )
    assert r.status_code == 303
    # the link is used up
    again = site.browser()
    assert again.get(link).status_code == 403
    assert "already used" in html.unescape(again.get(link).text)
    with site.session() as s:
        assert s.query(AuditEntry).filter_by(action="password.reset").count() == 1


def test_an_expired_or_replaced_reset_link_is_refused(site: Site) -> None:
    admin = site.browser(site.keys["admin"])
    first = _reset_link(site, admin, "amina")
    second = _reset_link(site, admin, "amina")
    person = site.browser()
    assert person.get(first).status_code == 403  # replaced by the newer link
    site.clock.advance(dt.timedelta(hours=25))
    r = person.get(second)
    assert r.status_code == 403
    assert "expired" in html.unescape(r.text)
    assert site.browser().get("/reset-password/not-a-token").status_code == 404
