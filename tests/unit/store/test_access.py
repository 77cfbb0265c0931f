"""The access policy as a matrix: who sees which version, and whose data a pull returns."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from cgd_bridge.errors import NotFound
from cgd_bridge.findings import Finding, Severity
from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store import access, mous, submissions

UTC = dt.UTC
CASES = (
    "draft",
    "submitted",
    "published-open",
    "published-restricted",
    "embargoed",
    "withdrawn",
    "superseded",
)
WHO = ("producer", "nso-with-mou", "nso-without-mou", "nso-expired-mou", "other-cso", "anonymous", "admin")

# can_see_version: the record, report, metadata and data of each version
SEE = {
    "producer": set(CASES),
    "admin": set(CASES),
    "nso-with-mou": {"submitted", "published-open", "published-restricted", "embargoed", "superseded"},
    "nso-without-mou": {"published-open", "superseded"},
    "nso-expired-mou": {"published-open", "superseded"},
    "other-cso": {"published-open", "superseded"},
    "anonymous": {"published-open", "superseded"},
}
# readable_versions: what a data pull returns (published versions only, never superseded/withdrawn)
PULL = {
    "producer": {"published-open", "published-restricted", "embargoed"},
    "admin": {"published-open", "published-restricted", "embargoed"},
    "nso-with-mou": {"published-open", "published-restricted", "embargoed"},
    "nso-without-mou": {"published-open"},
    "nso-expired-mou": {"published-open"},
    "other-cso": {"published-open"},
    "anonymous": {"published-open"},
}


def _publish(session, cast, v):
    # every case publishes the same example under its own dataset: each takes the keys over by an
    # explicit choice (one owner per observation, #13; tests/unit/store/test_ownership.py)
    submissions.submit(session, principal=cast.cso, version_id=v.id)
    submissions.accept(session, principal=cast.nso, version_id=v.id, replace=True)
    return submissions.publish(session, principal=cast.nso, version_id=v.id)


@pytest.fixture
def world(session, cast, make_version):
    """One submission per case, each with its version in that situation."""
    now = dt.datetime.now(UTC)
    v = {
        case: make_version(cast.cso, dataset=case)
        for case in CASES
        if case not in ("published-restricted", "embargoed")
    }
    submissions.submit(session, principal=cast.cso, version_id=v["submitted"].id)
    _publish(session, cast, v["published-open"])
    v["published-restricted"] = make_version(cast.cso, dataset="restricted", is_open=False)
    _publish(session, cast, v["published-restricted"])
    v["embargoed"] = make_version(cast.cso, dataset="embargo", embargo_until=now + dt.timedelta(days=10))
    _publish(session, cast, v["embargoed"])
    _publish(session, cast, v["withdrawn"])
    submissions.withdraw(session, principal=cast.cso, version_id=v["withdrawn"].id)
    _publish(session, cast, v["superseded"])
    newer = make_version(cast.cso, dataset="superseded", revision_note="a correction")
    _publish(session, cast, newer)
    for version in v.values():
        session.refresh(version)
    assert v["superseded"].state == "superseded"
    assert v["withdrawn"].state == "withdrawn"
    principals = {
        "producer": cast.cso,
        "nso-with-mou": cast.nso,
        "nso-without-mou": cast.nso_without,
        "nso-expired-mou": cast.nso_expired,
        "other-cso": cast.other_cso,
        "anonymous": None,
        "admin": cast.admin,
    }
    return v, principals, newer


@pytest.mark.parametrize("who", WHO)
def test_who_sees_which_version(session, world, who):
    versions, principals, _ = world
    now = dt.datetime.now(UTC)
    got = {case for case, v in versions.items() if access.can_see_version(principals[who], v, now)}
    assert got == SEE[who]
    for case, v in versions.items():  # get_version agrees, and hides what it may not show
        if case in SEE[who]:
            assert submissions.get_version(session, principal=principals[who], version_id=v.id).id == v.id
        else:
            with pytest.raises(NotFound):
                submissions.get_version(session, principal=principals[who], version_id=v.id)


@pytest.mark.parametrize("who", WHO)
def test_whose_data_a_pull_returns(session, world, kenya, who):
    versions, principals, newer = world
    now = dt.datetime.now(UTC)
    got = {v.id for v in access.readable_versions(session, principals[who], kenya.dataflow, now)}
    want = {versions[case].id for case in PULL[who]} | {newer.id}  # the superseding version is public
    assert got == want
    assert versions["superseded"].id not in got
    assert versions["withdrawn"].id not in got


def test_an_embargo_lifts_by_itself(session, world, kenya):
    versions, _, _ = world
    later = dt.datetime.now(UTC) + dt.timedelta(days=11)
    assert access.can_see_version(None, versions["embargoed"], later)
    assert versions["embargoed"].id in {
        v.id for v in access.readable_versions(session, None, kenya.dataflow, later)
    }


def test_pulls_can_name_the_dataflow_loosely(session, world, kenya):
    versions, _, newer = world
    now = dt.datetime.now(UTC)
    flow = FlowRef.parse(kenya.dataflow)
    want = {versions["published-open"].id, newer.id}
    for ref in (kenya.dataflow, None, "*", (flow.agency, flow.id, None), FlowRef(None, flow.id, None)):
        assert {v.id for v in access.readable_versions(session, None, ref, now)} == want
    assert access.readable_versions(session, None, ("IAEG-SDGs", "DF_SDG_GLH", "1.5"), now) == []


def test_listings_follow_the_same_rules(session, world, cast):
    versions, _, _ = world

    def datasets(principal):
        return {s.dataset for s in submissions.list_submissions(session, principal=principal)}

    mine = {"draft", "submitted", "published-open", "restricted", "embargo", "withdrawn", "superseded"}
    assert datasets(cast.cso) == datasets(cast.admin) == mine
    assert datasets(cast.nso) == {"submitted", "published-open", "restricted", "embargo", "superseded"}
    assert datasets(None) == datasets(cast.nso_expired) == {"published-open", "superseded"}
    sub = versions["superseded"].submission_id
    assert [v.number for v in submissions.list_versions(session, principal=None, submission_id=sub)] == [1, 2]
    with pytest.raises(NotFound):
        submissions.get_submission(session, principal=None, submission_id=versions["draft"].submission_id)
    assert access.can_see_pulls(cast.cso, cast.cso.org_id)
    assert not access.can_see_pulls(cast.nso, cast.cso.org_id)
    assert not access.can_see_pulls(None, cast.cso.org_id)


def test_raw_files_never_go_to_the_public(session, world, cast):
    """Raw files are the CSO's (#12): an MoU without the raw-files term does not grant them."""
    versions, _, _ = world
    file_id = versions["published-open"].files[0].id
    assert submissions.get_file(session, principal=cast.cso, file_id=file_id).content
    assert submissions.get_file(session, principal=cast.admin, file_id=file_id).content
    for outsider in (None, cast.nso, cast.nso_without, cast.nso_expired, cast.other_cso):
        with pytest.raises(NotFound):
            submissions.get_file(session, principal=outsider, file_id=file_id)
        assert not access.may_read_raw(outsider, versions["published-open"], dt.datetime.now(UTC))


#: may_read_raw for an NSO whose MoU grants the raw-files term: the states it may download
RAW_FOR_NSO = {"submitted", "published-open", "published-restricted", "embargoed", "superseded"}


def test_the_raw_files_term_grants_an_nso_aggregate_data_in_review_or_later(session, world, cast):
    versions, _, _ = world
    now = dt.datetime.now(UTC)
    mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=now + dt.timedelta(days=9),
                    valid_from=now - dt.timedelta(minutes=1), raw_files=True)  # fmt: skip
    ago = now - dt.timedelta(days=60), now - dt.timedelta(days=1)
    mous.create_mou(session, cso="sauti", nso="nbs-old", dataflows=["*"], raw_files=True,
                    valid_from=ago[0], valid_until=ago[1])  # fmt: skip
    for case, v in versions.items():
        assert access.may_read_raw(cast.nso, v, now) is (case in RAW_FOR_NSO), case
        assert not access.may_read_raw(cast.nso_expired, v, now), case  # its raw-files MoU expired
        assert not access.may_read_raw(cast.nso_without, v, now), case
        assert not access.may_read_raw(cast.other_cso, v, now), case
        assert access.may_read_raw(cast.cso, v, now)
        assert access.may_read_raw(cast.admin, v, now)
    f = versions["published-open"].files[0]
    assert submissions.get_file(session, principal=cast.nso, file_id=f.id).content == f.content
    # the term counts only while the MoU is in force, by the clock the caller passes
    later = now + dt.timedelta(days=10)
    assert not access.may_read_raw(cast.nso, versions["published-open"], later)
    with pytest.raises(NotFound):
        submissions.get_file(session, principal=cast.nso, file_id=f.id, now=later)


def _report(kenya, *, kind: str | None = "aggregate", finding: str | None = None):
    report = copy.deepcopy(kenya.report)
    if kind is None:
        report.stats.pop("data_kind", None)
    else:
        report.stats["data_kind"] = kind
    if finding:
        report.add(Finding(finding, Severity.WARNING, "a column of free text", field="notes"))
    return report


@pytest.mark.parametrize(
    ("kind", "finding", "granted"),
    [
        ("aggregate", None, True),
        ("microdata", None, False),  # identifiers the checks missed cannot be ruled out
        (None, None, False),  # a report that does not say counts as microdata
        ("aggregate", "free-text-column", False),
        ("aggregate", "pii-column", False),
    ],
)
def test_no_nso_gets_microdata_or_data_that_held_identifiers(session, cast, kenya, make_version, kind,
                                                             finding, granted):  # fmt: skip
    now = dt.datetime.now(UTC)
    mous.create_mou(session, cso="sauti", nso="knbs", dataflows=["*"], valid_until=now + dt.timedelta(days=9),
                    valid_from=now - dt.timedelta(minutes=1), raw_files=True)  # fmt: skip
    v = make_version(cast.cso, report=_report(kenya, kind=kind, finding=finding), submit=True)
    assert access.may_hold_identifiers(v) is not granted
    assert access.may_read_raw(cast.nso, v, now) is granted
    assert access.may_read_raw(cast.cso, v, now)


def test_the_embargo_can_be_moved_by_the_producer_before_publication(session, world, cast):
    versions, _, _ = world
    until = dt.datetime(2031, 1, 1, tzinfo=UTC)
    v = submissions.set_embargo(session, principal=cast.cso, version_id=versions["submitted"].id, until=until)
    assert v.embargo_until == until
    with pytest.raises(Exception, match=r"(?i)fixed once published"):
        submissions.set_embargo(
            session, principal=cast.cso, version_id=versions["published-open"].id, until=until
        )
