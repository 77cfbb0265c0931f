"""Organisations, users, passwords and API keys."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from cgd_bridge.errors import Conflict, Forbidden, NotFound, UsageError
from cgd_bridge.store import orgs
from cgd_bridge.store.models import ApiKey, AuditEntry, User
from cgd_bridge.store.orgs import Principal

UTC = dt.UTC


@pytest.fixture
def people(session):
    orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
    orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
    amina = orgs.create_user(session, username="amina", organisation="sauti", role="submitter",
                             password="long enough password")  # fmt: skip
    wanjiru = orgs.create_user(session, username="wanjiru", organisation="knbs", role="reviewer")
    return Principal.of(amina), Principal.of(wanjiru)


def test_organisations_are_listed_and_slugs_are_unique(session):
    orgs.create_organisation(session, slug="sauti", name="Sauti ya Walemavu", kind="cso")
    orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
    assert [(o.slug, o.kind) for o in orgs.list_organisations(session)] == [("knbs", "nso"), ("sauti", "cso")]
    with pytest.raises(Conflict, match=r"(?i)already exists"):
        orgs.create_organisation(session, slug="sauti", name="Again", kind="cso")
    with pytest.raises(UsageError, match=r"(?i)not a valid organisation slug"):
        orgs.create_organisation(session, slug="Bad Slug", name="x", kind="cso")
    with pytest.raises(UsageError, match=r"(?i)Use cso, nso or admin"):
        orgs.create_organisation(session, slug="x", name="x", kind="ngo")
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions == ["organisation.created", "organisation.created"]


def test_roles_must_fit_the_organisation(session, people):
    with pytest.raises(UsageError, match=r"(?i)reviewer cannot belong to 'sauti', which is a CSO"):
        orgs.create_user(session, username="x", organisation="sauti", role="reviewer")
    with pytest.raises(UsageError, match=r"(?i)submitter cannot belong to 'knbs'"):
        orgs.create_user(session, username="x", organisation="knbs", role="submitter")
    with pytest.raises(NotFound, match=r"(?i)no organisation 'nowhere'"):
        orgs.create_user(session, username="x", organisation="nowhere", role="admin")
    with pytest.raises(Conflict, match=r"(?i)user 'amina' already exists"):
        orgs.create_user(session, username="amina", organisation="sauti", role="submitter")
    with pytest.raises(UsageError, match=r"(?i)shorter than 10"):
        orgs.create_user(session, username="y", organisation="sauti", role="submitter", password="short")


def test_only_admins_manage_organisations_and_users(session, people):
    amina, _ = people
    with pytest.raises(Forbidden):
        orgs.create_organisation(session, slug="x", name="x", kind="cso", actor=amina)
    with pytest.raises(Forbidden):
        orgs.create_user(session, username="x", organisation="sauti", role="submitter", actor=amina)


def test_passwords_are_scrypt_hashed_with_a_salt_per_user(session, people):
    user = session.scalar(select(User).where(User.username == "amina"))
    assert user.password_hash.startswith("scrypt$16384$8$1$")
    assert "long enough" not in user.password_hash
    assert orgs.hash_password("same password!") != orgs.hash_password("same password!")  # salted
    got = orgs.authenticate_password(session, username="amina", password="long enough password")
    assert got == people[0]
    assert orgs.authenticate_password(session, username="amina", password="wrong password") is None
    assert orgs.authenticate_password(session, username="nobody", password="long enough password") is None
    assert orgs.authenticate_password(session, username="wanjiru", password="") is None  # no password set
    user.active = False
    session.commit()
    assert orgs.authenticate_password(session, username="amina", password="long enough password") is None


def test_a_key_is_shown_once_and_only_its_hash_is_stored(session, people):
    amina, _ = people
    new = orgs.create_key(session, username="amina", label="laptop")
    assert new.key.startswith(f"cgdb_{new.prefix}_")
    assert len(new.key) > 50
    row = session.scalar(select(ApiKey))
    assert row.key_sha256 == hashlib.sha256(new.key.encode()).hexdigest()
    stored = [str(v) for v in vars(row).values()]
    assert not any(new.key in s or new.key.split("_", 2)[2] in s for s in stored)
    assert orgs.authenticate_key(session, new.key) == amina
    assert orgs.authenticate_key(session, new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    assert orgs.authenticate_key(session, "cgdb_000000000000_" + "x" * 43) is None
    assert orgs.authenticate_key(session, "not a key") is None
    assert [k.prefix for k in orgs.list_keys(session)] == [new.prefix]
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("key.%"))).all() == [
        "key.created"
    ]


def test_revoked_and_expired_keys_are_refused(session, people):
    now = dt.datetime.now(UTC)
    revoked = orgs.create_key(session, username="amina")
    expiring = orgs.create_key(session, username="amina", expires_at=now + dt.timedelta(hours=1))
    assert orgs.authenticate_key(session, expiring.key) is not None
    assert orgs.authenticate_key(session, expiring.key, now=now + dt.timedelta(hours=2)) is None
    orgs.revoke_key(session, prefix=revoked.prefix)
    assert orgs.authenticate_key(session, revoked.key) is None
    first = session.scalar(select(ApiKey.revoked_at).where(ApiKey.prefix == revoked.prefix))
    orgs.revoke_key(session, prefix=revoked.key)  # the whole key works too, and changes nothing
    assert session.scalar(select(ApiKey.revoked_at).where(ApiKey.prefix == revoked.prefix)) == first
    with pytest.raises(NotFound, match=r"(?i)no API key with prefix"):
        orgs.revoke_key(session, prefix="ffffffffffff")
    with pytest.raises(UsageError, match=r"(?i)in the past"):
        orgs.create_key(session, username="amina", expires_at=now - dt.timedelta(days=1))
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("key.%"))).all()
    assert actions == ["key.created", "key.created", "key.revoked"]


def test_keys_of_inactive_users_are_refused(session, people):
    new = orgs.create_key(session, username="wanjiru")
    session.scalar(select(User).where(User.username == "wanjiru")).active = False
    session.commit()
    assert orgs.authenticate_key(session, new.key) is None


def test_last_used_is_written_at_most_once_a_minute(session, people):
    new = orgs.create_key(session, username="amina")
    t0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def last_used():
        session.expire_all()
        return session.scalar(select(ApiKey.last_used_at))

    orgs.authenticate_key(session, new.key, now=t0)
    assert last_used() == t0
    orgs.authenticate_key(session, new.key, now=t0 + dt.timedelta(seconds=30))
    assert last_used() == t0
    orgs.authenticate_key(session, new.key, now=t0 + dt.timedelta(seconds=61))
    assert last_used() == t0 + dt.timedelta(seconds=61)


def test_users_manage_only_their_own_keys(session, people):
    amina, wanjiru = people
    mine = orgs.create_key(session, username="amina", actor=amina)
    with pytest.raises(Forbidden, match=r"(?i)only create keys for yourself"):
        orgs.create_key(session, username="amina", actor=wanjiru)
    with pytest.raises(Forbidden, match=r"(?i)only revoke your own keys"):
        orgs.revoke_key(session, prefix=mine.prefix, actor=wanjiru)
    orgs.revoke_key(session, prefix=mine.prefix, actor=amina)
    assert orgs.authenticate_key(session, mine.key) is None
