"""MoUs: references, validity, coverage."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from cgd_bridge.errors import NotFound, UsageError
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store import mous, orgs
from cgd_bridge.store.models import AuditEntry

UTC = dt.UTC
T0 = dt.datetime(2027, 1, 1, tzinfo=UTC)
FLOW = ("CGD_BRIDGE", "DF_CGD_KE", "1.0")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("*", FlowRef()),
        ("CGD_BRIDGE:DF_CGD_KE(1.0)", FlowRef("CGD_BRIDGE", "DF_CGD_KE", "1.0")),
        ("CGD_BRIDGE:DF_CGD_KE", FlowRef("CGD_BRIDGE", "DF_CGD_KE", None)),
        ("CGD_BRIDGE,DF_CGD_KE,1.0", FlowRef("CGD_BRIDGE", "DF_CGD_KE", "1.0")),
        ("IAEG-SDGs,DF_SDG_GLH,latest", FlowRef("IAEG-SDGs", "DF_SDG_GLH", None)),
    ],
)
def test_flow_references_parse(text, parsed):
    assert FlowRef.parse(text) == parsed


def test_a_malformed_reference_says_how_to_write_one():
    with pytest.raises(UsageError, match=r"Write AGENCY:ID\(VERSION\)"):
        FlowRef.parse("DF_CGD_KE")


@pytest.fixture
def pair(session):
    orgs.create_organisation(session, slug="sauti", name="Sauti", kind="cso")
    orgs.create_organisation(session, slug="knbs", name="KNBS", kind="nso")
    return session.scalars(select(orgs.Organisation).order_by(orgs.Organisation.slug)).all()


def test_an_mou_covers_its_dataflows_only_while_in_force(session, pair):
    knbs, sauti = pair
    mou = mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["CGD_BRIDGE:DF_CGD_KE"],
                          valid_from=T0, valid_until=T0 + dt.timedelta(days=30),
                          use_conditions=["statistical_purposes_only", " "])  # fmt: skip
    assert mou.dataflows == ["CGD_BRIDGE:DF_CGD_KE"]
    assert mou.use_conditions == ["statistical_purposes_only"]

    def covers(at, flow=FLOW):
        return mous.mou_covers(session, nso_id=knbs.id, cso_id=sauti.id, dataflow=flow, at=at)

    assert covers(T0 + dt.timedelta(days=1))
    assert covers(T0 + dt.timedelta(days=1), ("CGD_BRIDGE", "DF_CGD_KE", "2.0"))  # any version
    assert not covers(T0 + dt.timedelta(days=1), ("IAEG-SDGs", "DF_SDG_GLH", "1.5"))
    assert not covers(T0 - dt.timedelta(seconds=1))  # not yet
    assert not covers(T0 + dt.timedelta(days=30))  # ended
    assert not mous.mou_covers(session, nso_id=sauti.id, cso_id=knbs.id, dataflow=FLOW, at=T0)
    mous.revoke_mou(session, mou_id=mou.id)
    assert not covers(dt.datetime.now(UTC) + dt.timedelta(seconds=1))
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("mou.%"))).all()
    assert actions == ["mou.created", "mou.revoked"]


def test_a_star_covers_every_dataflow_of_the_cso(session, pair):
    knbs, sauti = pair
    mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_from=T0,
                    valid_until=T0 + dt.timedelta(days=1))  # fmt: skip
    assert mous.mou_covers(session, nso_id=knbs.id, cso_id=sauti.id, dataflow="A:B(1)", at=T0)


def test_mous_are_between_a_cso_and_an_nso_with_sane_dates(session, pair):
    with pytest.raises(UsageError, match=r"(?i)'knbs' is an NSO, not a CSO"):
        mous.create_mou(session, cso="knbs", nso="sauti", dataflows=["*"], valid_until=T0)
    with pytest.raises(UsageError, match=r"(?i)names no dataflow"):
        mous.create_mou(session, cso="sauti", nso="knbs", dataflows=[], valid_until=T0)
    with pytest.raises(UsageError, match=r"(?i)before it starts"):
        mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_from=T0, valid_until=T0)
    with pytest.raises(NotFound, match=r"(?i)no organisation 'nobody'"):
        mous.create_mou(session, cso="nobody", nso="knbs", dataflows=["*"], valid_until=T0)
    with pytest.raises(NotFound, match=r"(?i)no MoU 99"):
        mous.revoke_mou(session, mou_id=99)
    assert mous.list_mous(session) == []


def test_mous_are_listed_by_party(session, pair):
    orgs.create_organisation(session, slug="other", name="Other", kind="cso")
    mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=T0)
    mous.create_mou(session, cso="other", nso="knbs", dataflows=["*"], valid_until=T0)
    assert len(mous.list_mous(session)) == 2
    assert [m.cso.slug for m in mous.list_mous(session, organisation="sauti")] == ["sauti"]
    assert len(mous.list_mous(session, organisation="knbs")) == 2


def test_the_raw_files_term_is_off_unless_given_and_each_side_reads_it(session, pair):
    """Raw uploads are the CSO's (#12): an MoU grants them only by its explicit term."""
    orgs.create_organisation(session, slug="nso-malawi", name="NSO Malawi", kind="nso")
    for user, org, role in (("amina", "sauti", "submitter"), ("kamau", "knbs", "reviewer"),
                            ("chikondi", "nso-malawi", "reviewer")):  # fmt: skip
        orgs.create_user(session, username=user, organisation=org, role=role)
    plain = mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=T0)
    granted = mous.create_mou(
        session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=T0, raw_files=True
    )
    session.expire_all()
    assert session.get(type(plain), plain.id).raw_files is False  # read back from the database
    assert session.get(type(granted), granted.id).raw_files is True
    cso, nso, other = (
        orgs.Principal.of(orgs.get_user(session, username=u)) for u in ("amina", "kamau", "chikondi")
    )
    assert [m.id for m in mous.mous_for(session, cso)] == [granted.id, plain.id]
    assert [m.id for m in mous.mous_for(session, nso)] == [granted.id, plain.id]
    assert mous.mous_for(session, other) == []
    assert mous.raw_files_words(plain, cso) == "knbs may download your uploaded files: no"
    assert mous.raw_files_words(granted, nso) == (
        "Your office may download sauti's uploaded files: yes (never those of microdata)"
    )
    created = session.scalars(select(AuditEntry).where(AuditEntry.action == "mou.created")).all()
    assert [e.details["raw_files"] for e in created] == [False, True]
