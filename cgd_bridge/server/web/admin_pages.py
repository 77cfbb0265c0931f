"""The administrators' web pages (#19): users, roles, API keys, password-reset links, deactivation.

Paths: ``GET /admin/users`` (the users the admin manages, with their keys and forms),
``POST /admin/users`` (create), ``POST /admin/users/{username}/role``,
``POST /admin/users/{username}/active`` (``active`` = 1 or 0), ``POST /admin/users/{username}/keys``
(the new key is shown once, on the answer), ``POST /admin/keys/{prefix}/revoke``,
``POST /admin/users/{username}/reset`` (the one-time link is shown once), and for the person
with the link ``GET``/``POST /reset-password/{token}``.

Every form carries the session's CSRF token; the pages are for admins only, and the store
(:mod:`cgd_bridge.store.orgs`) decides again who may touch whom (an admin of a CSO or NSO only
their own organisation's users; the platform's admins everyone) and audits every change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from cgd_bridge.errors import UsageError
from cgd_bridge.server.web.pages import Page, PageDep, WebRoute
from cgd_bridge.store import identities, orgs
from cgd_bridge.store.models import ApiKey, Role
from cgd_bridge.store.orgs import Principal

router = APIRouter(route_class=WebRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=400)]


def _admin(page: Page, csrf_token: str | None = None) -> Principal:
    if csrf_token is not None:
        page.check_csrf(csrf_token)
    principal = page.require_signed_in()
    return page.require(principal.is_admin, page._("Managing users"), page._("administrators"))


def _users_page(page: Page, principal: Principal, status: int = 200, **shown: object) -> Response:
    users = orgs.managed_users(page.db, principal)
    keys: dict[int, list[ApiKey]] = {u.id: [] for u in users}
    for key in orgs.list_keys(page.db):
        if key.user_id in keys:
            keys[key.user_id].append(key)
    linked = {u.id: len(identities.identities_of(page.db, u.id)) for u in users}
    return page.render(
        "admin_users.html",
        status=status,
        users=users,
        keys=keys,
        linked=linked,
        organisations=orgs.managed_organisations(page.db, principal),
        roles=[r.value for r in Role],
        now=page.now,
        **shown,
    )


@router.get("/admin/users")
def users(page: PageDep) -> Response:
    return _users_page(page, _admin(page))


@router.post("/admin/users")
def create_user(
    page: PageDep,
    csrf_token: Text = "",
    organisation: Text = "",
    username: Text = "",
    display_name: Text = "",
    email: Text = "",
    role: Text = "",
) -> Response:
    principal = _admin(page, csrf_token)
    user = orgs.create_user(
        page.db,
        username=username.strip(),
        organisation=organisation,
        role=role,
        display_name=display_name.strip(),
        email=email.strip() or None,
        actor=principal,
    )
    page.say(page._("User {user} was created.", user=user.username))
    return page.redirect("/admin/users")


@router.post("/admin/users/{username}/role")
def change_role(page: PageDep, username: str, csrf_token: Text = "", role: Text = "") -> Response:
    principal = _admin(page, csrf_token)
    orgs.set_role(page.db, username=username, role=role, actor=principal)
    page.say(page._("{user} is now {role}.", user=username, role=role))
    return page.redirect("/admin/users")


@router.post("/admin/users/{username}/active")
def change_active(page: PageDep, username: str, csrf_token: Text = "", active: Text = "") -> Response:
    principal = _admin(page, csrf_token)
    if active not in ("0", "1"):
        raise UsageError(page._("the form did not say whether to activate"), fix=page._("Reload the page."))
    orgs.set_active(page.db, username=username, active=active == "1", actor=principal, now=page.now)
    if active == "1":
        page.say(page._("{user} was reactivated.", user=username))
    else:
        page.say(page._("{user} was deactivated: their keys and sessions stopped working.", user=username))
    return page.redirect("/admin/users")


@router.post("/admin/users/{username}/keys")
def create_key(page: PageDep, username: str, csrf_token: Text = "", label: Text = "") -> Response:
    principal = _admin(page, csrf_token)
    new = orgs.create_key(page.db, username=username, label=label.strip(), actor=principal)
    return _users_page(page, principal, new_key=new.key, new_key_user=username)


@router.post("/admin/keys/{prefix}/revoke")
def revoke_key(page: PageDep, prefix: str, csrf_token: Text = "") -> Response:
    principal = _admin(page, csrf_token)
    key = orgs.revoke_key(page.db, prefix=prefix, actor=principal)
    page.say(page._("The key {prefix} was revoked.", prefix=key.prefix))
    return page.redirect("/admin/users")


@router.post("/admin/users/{username}/reset")
def make_reset_link(page: PageDep, username: str, csrf_token: Text = "") -> Response:
    principal = _admin(page, csrf_token)
    token = orgs.create_reset(page.db, username=username, actor=principal, now=page.now)
    link = str(page.request.base_url).rstrip("/") + f"/reset-password/{token}"
    return _users_page(page, principal, reset_link=link, reset_user=username, reset_hours=orgs.RESET_VALID)


# ---------------------------------------------------------------- the person with the link


@router.get("/reset-password/{token}")
def reset_form(page: PageDep, token: str) -> Response:
    user = orgs.reset_user(page.db, token=token, now=page.now)
    return page.render("reset_password.html", username=user.username, errors={})


@router.post("/reset-password/{token}")
def reset(
    page: PageDep, token: str, csrf_token: Text = "", password: Text = "", confirm: Text = ""
) -> Response:
    page.check_csrf(csrf_token)
    user = orgs.reset_user(page.db, token=token, now=page.now)
    errors: dict[str, str] = {}
    if len(password) < orgs.MIN_PASSWORD:
        errors["password"] = page._(
            "The password is shorter than {count} characters; choose a longer one.", count=orgs.MIN_PASSWORD
        )
    elif password != confirm:
        errors["confirm"] = page._("The two passwords differ; type the same password twice.")
    if errors:
        return page.render("reset_password.html", status=400, username=user.username, errors=errors)
    orgs.reset_password(page.db, token=token, password=password, now=page.now)
    if page.principal is not None and page.principal.user_id == user.id:
        page.data.sign_out()
        page.principal = None
    page.say(page._("Your password was set. Sign in with it now."))
    return page.redirect("/sign-in")
