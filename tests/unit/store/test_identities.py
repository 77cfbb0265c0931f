"""Matching and provisioning rules of the identity-provider sign-in (store/identities.py)."""

from __future__ import annotations

from typing import Any

import pytest

from cgd_bridge.errors import Conflict, Forbidden, UsageError
from cgd_bridge.store import identities, orgs
from cgd_bridge.store.identities import Claims, Policy, Rule

ISS = "https://login.knbs.example"


def claims(sub: str = "s1", **raw: Any) -> Claims:
    return Claims.of({"iss": ISS, "sub": sub, **raw})


@pytest.mark.parametrize(
    ("rule", "raw", "admitted"),
    [
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke"),
            {"email": "a@KNBS.or.ke", "email_verified": True},
            True,
        ),
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke"),
            {"email": "a@knbs.or.ke", "email_verified": False},
            False,
        ),
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke"),
            {"email": "a@evil-knbs.or.ke", "email_verified": True},
            False,
        ),
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke"),
            {"email": "a@knbs.or.ke.evil.com", "email_verified": True},
            False,
        ),
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke"),
            {"email": "a@knbs.or.ke", "email_verified": "true"},
            True,
        ),
        (Rule("p", "admin", claim="groups", value="cgd-admins"), {"groups": ["x", "cgd-admins"]}, True),
        (Rule("p", "admin", claim="groups", value="cgd-admins"), {"groups": ["cgd-admins-not"]}, False),
        (Rule("p", "admin", claim="groups", value="cgd-admins"), {"groups": "cgd-admins"}, True),
        (Rule("p", "admin", claim="groups", value="cgd-admins"), {}, False),
        (
            Rule("knbs", "reviewer", email_domain="knbs.or.ke", claim="groups", value="stat"),
            {"email": "a@knbs.or.ke", "email_verified": True, "groups": ["other"]},
            False,
        ),
    ],
)
def test_rule_conditions(rule: Rule, raw: dict[str, Any], admitted: bool) -> None:
    assert rule.admits(claims(**raw)) is admitted


@pytest.fixture
def world(session: Any) -> Any:
    orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
    orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
    orgs.create_user(
        session, username="wanjiru", organisation="knbs", role="reviewer", email="Wanjiru@knbs.or.ke"
    )
    return session


def test_match_by_verified_email_then_by_link(world: Any) -> None:
    policy = Policy()
    principal, link = identities.sign_in(
        world, claims(email="wanjiru@knbs.or.ke", email_verified=True), policy
    )
    assert principal.username == "wanjiru"
    again, link2 = identities.sign_in(world, claims(email="changed@else.where", email_verified=True), policy)
    assert (again.username, link2) == ("wanjiru", link)


def test_email_matching_can_be_turned_off_and_needs_verification(world: Any) -> None:
    c = claims(email="wanjiru@knbs.or.ke", email_verified=True)
    with pytest.raises(Forbidden, match=r"(?i)no rule"):
        identities.sign_in(world, c, Policy(match_email=False))
    with pytest.raises(Forbidden, match="has not verified"):
        identities.sign_in(world, claims(email="wanjiru@knbs.or.ke", email_verified=False), Policy())


def test_a_rule_with_a_role_that_does_not_fit_the_organisation_is_refused_clearly(world: Any) -> None:
    c = claims(email="x@sauti.or.ke", email_verified=True)
    with pytest.raises(Forbidden, match="CGD_BRIDGE_OIDC_RULES"):
        identities.sign_in(world, c, Policy(rules=[Rule("sauti", "reviewer")]))
    with pytest.raises(Forbidden, match="CGD_BRIDGE_OIDC_RULES"):
        identities.sign_in(world, c, Policy(rules=[Rule("nope", "submitter")]))


def test_provisioning_never_takes_over_an_existing_username(world: Any) -> None:
    orgs.create_user(world, username="x@sauti.or.ke", organisation="sauti", role="submitter")
    with pytest.raises(Conflict, match="already exists"):
        identities.sign_in(
            world,
            claims(email="x@sauti.or.ke", email_verified=True),
            Policy(rules=[Rule("sauti", "submitter")], match_email=False),
        )


def test_emails_are_unique_and_well_formed(world: Any) -> None:
    with pytest.raises(Conflict):
        orgs.create_user(
            world, username="other", organisation="knbs", role="reviewer", email="WANJIRU@knbs.or.ke"
        )
    with pytest.raises(UsageError):
        orgs.create_user(
            world, username="other", organisation="knbs", role="reviewer", email="not-an-address"
        )
