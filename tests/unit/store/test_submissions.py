"""Versions: storing the Kenya example, numbering, crash safety, the state machine, concurrency, lineage."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pytest
from sqlalchemy import event, func, select, text

from cgd_bridge.errors import Conflict, Forbidden, NotFound, Unauthorized, UsageError
from cgd_bridge.store import audit, data, submissions
from cgd_bridge.store.db import transaction
from cgd_bridge.store.models import AuditEntry, State, StoredFile, Submission, Version, VersionData

UTC = dt.UTC
TABLES = (Submission, Version, StoredFile, VersionData, AuditEntry)


def counts(session):
    session.expire_all()
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def test_a_version_keeps_everything_the_pipeline_made(session, cast, make_version, kenya):
    v = make_version(cast.cso)
    assert (v.number, v.state) == (1, "draft")
    assert v.submission.dataset == "ke-health-scorecard-2024"  # from the metadata's dataset.id
    assert v.submission.dataflow_ref == kenya.dataflow
    assert v.observations == kenya.table.num_rows == 180
    assert v.metadata_version == "1.1.0"
    assert v.mapping_version == "1.0.0"
    assert (v.licence, v.is_open) == ("CC-BY-4.0", True)
    assert v.embargo_until == dt.datetime(2025, 2, 18, 6, 0, tzinfo=UTC)  # release.embargo_until
    assert v.dsat_score == kenya.report.stats["dsat"]["total"]
    assert v.use_conditions == ["statistical_purposes_only", "no_reidentification", "cite_source"]
    assert v.dimensions == kenya.dimensions
    assert v.report["valid"] is True
    assert v.metadata_json["release"]["embargo_until"].startswith("2025-02-18T06:00")
    assert v.coverage["complete"] is True
    assert v.cube["REF_AREA"]
    assert set(v.cube["SEX"]) <= {"F", "M", "_T"}
    assert (v.time_min, v.time_max) == ("2024", "2024")
    files = {f.filename: f for f in v.files}
    for raw in kenya.files:
        assert files[raw.filename].sha256 == hashlib.sha256(raw.content).hexdigest()
        assert files[raw.filename].size == len(raw.content)
    assert session.get(StoredFile, files["data.csv"].id).content == kenya.files[0].content
    assert [e.action for e in audit.history(session, version=v)] == ["submission.created", "version.created"]


def test_the_harmonised_table_round_trips_through_parquet(session, cast, make_version, kenya):
    v = make_version(cast.cso)
    cache = data.TableCache()
    got = data.load_table(session, v.id, cache=cache)
    assert got.schema == kenya.table.schema
    assert got.equals(kenya.table)
    assert data.load_table(session, v.id, cache=cache) is got  # versions never change: cached
    assert (cache.hits, cache.misses) == (1, 1)
    blob = session.scalar(select(VersionData.parquet))
    assert blob[:4] == b"PAR1"
    assert b"ZSTD" in data.to_parquet(kenya.table) or len(blob) < kenya.table.nbytes
    with pytest.raises(NotFound):
        data.load_table(session, 999)


def test_the_table_cache_keeps_within_its_budget():
    cache = data.TableCache(max_bytes=3000)
    tables = {k: pa.table({"x": list(range(100))}) for k in "abc"}  # 800 bytes each
    for k, t in tables.items():
        cache.put(k, t)
    cache.get("a")  # a is now the most recent
    cache.put("d", pa.table({"x": list(range(200))}))  # 1600 bytes: b then c go
    assert cache.get("b") is None
    assert cache.get("a") is tables["a"]
    cache.put("huge", pa.table({"x": list(range(10_000))}))  # bigger than the budget: not kept
    assert cache.get("huge") is None


def test_versions_are_numbered_and_need_a_revision_note(session, cast, make_version, kenya):
    v1 = make_version(cast.cso)
    assert v1.revision_note == kenya.metadata["revision"]["note"]
    for md in (kenya.metadata, {k: v for k, v in kenya.metadata.items() if k != "revision"}):
        with pytest.raises(UsageError, match=r"already has version 1: a new version needs a revision note"):
            make_version(cast.cso, metadata=md)  # the same note again, or none, explains nothing
    v2 = make_version(cast.cso, revision_note="Kilifi's tallies corrected")
    md = {**kenya.metadata, "revision": {"note": "from the metadata", "supersedes": "1.1.0"}}
    v3 = make_version(cast.cso, metadata=md)
    assert [v.number for v in (v1, v2, v3)] == [1, 2, 3]
    assert v3.revision_note == "from the metadata"
    assert v1.submission_id == v2.submission_id == v3.submission_id
    other = make_version(cast.cso, dataset="another-dataset")
    assert (other.number, other.submission_id != v1.submission_id) == (1, True)


def test_only_a_cso_submitter_creates_versions(session, cast, make_version):
    with pytest.raises(Forbidden, match=r"(?i)only a submitter or an admin may submit data; you are a"):
        make_version(cast.nso)
    with pytest.raises(UsageError, match=r"(?i)does not name one dataflow"):
        make_version(cast.cso, dataflow="CGD_BRIDGE:DF_CGD_KE")
    with pytest.raises(UsageError, match=r"(?i)no column"):
        make_version(cast.cso, dimensions=["NOT_A_DIMENSION"])
    assert counts(session)["versions"] == 0


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_midway_leaves_no_partial_version(session, cast, make_version, monkeypatch, exc):
    before = counts(session)

    def explode(*args, **kwargs):  # after the submission, version and files were flushed
        raise exc

    monkeypatch.setattr(data, "version_data", explode)
    with pytest.raises(type(exc)):
        make_version(cast.cso)
    assert counts(session) == before
    monkeypatch.undo()
    v = make_version(cast.cso)  # and the next try works, as version 1
    assert v.number == 1


# ---------------------------------------------------------------- the state machine


def _to_state(session, cast, make_version, state: str, dataset: str) -> Version:
    """A fresh version of its own submission, brought to ``state``."""
    v = make_version(cast.cso, dataset=dataset)
    steps = {
        "draft": [],
        "submitted": ["submit"],
        "accepted": ["submit", "accept"],
        "rejected": ["submit", "reject"],
        "published": ["submit", "accept", "publish"],
        "withdrawn": ["withdraw"],
        "superseded": ["submit", "accept", "publish"],
    }[state]
    for step in steps:
        _act(session, cast, step, v.id)
    if state == "superseded":
        v2 = make_version(cast.cso, dataset=dataset, revision_note="second")
        for step in ("submit", "accept", "publish"):
            _act(session, cast, step, v2.id)
    session.refresh(v)
    assert v.state == state
    return v


def _act(session, cast, action: str, version_id: int, reviewer=None) -> Version:
    reviewer = reviewer or cast.nso
    if action in ("submit", "withdraw"):
        return getattr(submissions, action)(session, principal=cast.cso, version_id=version_id)
    if action == "reject":
        return submissions.reject(session, principal=reviewer, version_id=version_id, comment="fix Kilifi")
    # the datasets here all hold the same example: taking its keys over is the reviewer's explicit
    # choice (one owner per observation, #13; tests/unit/store/test_ownership.py)
    return getattr(submissions, action)(session, principal=reviewer, version_id=version_id, replace=True)


TARGET = {"submit": "submitted", "accept": "accepted", "reject": "rejected", "publish": "published",
          "withdraw": "withdrawn"}  # fmt: skip


@pytest.mark.parametrize("state", [s.value for s in State])
def test_every_transition_is_allowed_or_refused_with_the_next_states(session, cast, make_version, state):
    for action, target in TARGET.items():
        v = _to_state(session, cast, make_version, state, dataset=f"ds-{state}-{action}")
        legal = State(target) in submissions.NEXT[State(state)]
        if legal:
            assert _act(session, cast, action, v.id).state == target
            last = audit.history(session, version=v)[-1]  # written in the same transaction
            actor = cast.cso if action in ("submit", "withdraw") else cast.nso
            assert (last.action, last.user_id, last.details["from"]) == (
                f"version.{target}",
                actor.user_id,
                state,
            )
        else:
            # the admin sees every version, so the refusal is about the state, not visibility
            with pytest.raises(Conflict, match=f"is {state}, so it cannot be {target}") as info:
                _act(session, cast, action, v.id, reviewer=cast.admin)
            allowed = sorted(s.value for s in submissions.NEXT[State(state)] if s != State.SUPERSEDED)
            assert (", ".join(allowed) if allowed else "cannot change any more") in str(info.value)
            session.refresh(v)
            assert v.state == state


def test_a_rejection_needs_a_comment_and_keeps_it(session, cast, make_version):
    v = make_version(cast.cso, submit=True)
    assert v.state == "submitted"
    with pytest.raises(UsageError, match=r"(?i)needs a comment"):
        submissions.reject(session, principal=cast.nso, version_id=v.id, comment="  ")
    v = submissions.reject(
        session, principal=cast.nso, version_id=v.id, comment="Kilifi totals do not add up"
    )
    assert (v.state, v.reviewer_comment, v.decided_by_id) == (
        "rejected",
        "Kilifi totals do not add up",
        cast.nso.user_id,
    )


def test_who_may_do_what(session, cast, make_version):
    v = make_version(cast.cso)
    with pytest.raises(NotFound):  # another CSO never learns of this draft
        submissions.submit(session, principal=cast.other_cso, version_id=v.id)
    with pytest.raises(Unauthorized, match=r"(?i)sign in"):
        submissions.submit(session, principal=None, version_id=v.id)
    with pytest.raises(NotFound):  # nor does an NSO
        submissions.accept(session, principal=cast.nso, version_id=v.id)
    submissions.submit(session, principal=cast.cso, version_id=v.id)
    with pytest.raises(Forbidden, match=r"(?i)only a reviewer or an admin may accept it"):
        submissions.accept(session, principal=cast.cso, version_id=v.id)
    for outsider in (cast.nso_without, cast.nso_expired):
        with pytest.raises(NotFound):
            submissions.accept(session, principal=outsider, version_id=v.id)
    assert submissions.accept(session, principal=cast.admin, version_id=v.id).state == "accepted"
    with pytest.raises(Forbidden, match=r"(?i)only a submitter or an admin may withdraw it"):
        submissions.withdraw(session, principal=cast.nso, version_id=v.id)
    submissions.publish(session, principal=cast.nso, version_id=v.id)  # now public (open, past embargo)
    with pytest.raises(Forbidden, match=r"(?i)only the organisation that produced"):
        submissions.withdraw(session, principal=cast.other_cso, version_id=v.id)
    with pytest.raises(Forbidden, match=r"(?i)no MoU in force"):
        submissions.publish(session, principal=cast.nso_without, version_id=v.id)


def test_newer_versions_supersede_older_ones_and_every_step_is_audited(session, cast, make_version):
    v1 = make_version(cast.cso, submit=True)
    submissions.accept(session, principal=cast.nso, version_id=v1.id)
    submissions.publish(session, principal=cast.nso, version_id=v1.id)
    v2 = make_version(cast.cso, revision_note="corrected", submit=True)
    draft3 = make_version(cast.cso, revision_note="work in progress")
    session.refresh(v1)
    assert v1.state == "published"  # still the public one while v2 is in review
    submissions.accept(session, principal=cast.nso, version_id=v2.id)
    v2 = submissions.publish(session, principal=cast.nso, version_id=v2.id)
    session.refresh(v1)
    session.refresh(draft3)
    assert (v1.state, v2.state, draft3.state) == ("superseded", "published", "draft")
    assert v2.published_at is not None
    v4 = make_version(cast.cso, revision_note="fourth", submit=True)
    session.refresh(draft3)
    assert draft3.state == "superseded"  # older drafts stop competing once a newer one is submitted
    assert [e.action for e in audit.history(session, version=v1)] == [
        "submission.created", "version.created", "version.submitted", "version.accepted",
        "version.published", "version.superseded",
    ]  # fmt: skip
    submissions.withdraw(session, principal=cast.cso, version_id=v2.id, reason="consent withdrawn")
    last = audit.history(session, version=v2)[-1]
    assert (last.action, last.user_id, last.details["reason"]) == ("version.withdrawn", cast.cso.user_id,
                                                                   "consent withdrawn")  # fmt: skip
    assert v4.state == "submitted"


def postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def waits_for_a_lock(session, pid: int) -> bool:
    """Whether the PostgreSQL backend ``pid`` is waiting for a lock (asked on another connection)."""
    query = text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted")
    with session.get_bind().connect() as c:
        return bool(c.execute(query, {"pid": pid}).scalar())


def wait_until(condition, timeout: float = 60.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_two_reviewers_accepting_at_once_cannot_both_succeed(sessions, session, cast, make_version):
    v = make_version(cast.cso, submit=True)
    a, b = sessions(), sessions()
    va, vb = a.get(Version, v.id), b.get(Version, v.id)
    assert va.state == vb.state == "submitted"
    now = dt.datetime.now(UTC)
    errors: list[BaseException] = []
    committed = threading.Event()  # set just before A commits
    sent = threading.Event()  # B has sent its UPDATE
    finished: list[bool] = []  # when B ended: was A committed by then?
    pid = b.execute(text("SELECT pg_backend_pid()")).scalar() if postgresql(b) else None

    submissions._move(a, va, State.ACCEPTED, cast.nso, now)  # A holds the row, not committed yet

    def second():
        try:
            with transaction(b):
                submissions._move(b, vb, State.REJECTED, cast.admin, now)  # B saw 'submitted' too
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            finished.append(committed.is_set())

    t = threading.Thread(target=second)

    def on_statement(*args: object) -> None:
        if threading.current_thread() is t:
            sent.set()

    event.listen(b.get_bind(), "before_cursor_execute", on_statement)
    try:
        t.start()
        assert sent.wait(60), "the second writer never sent its UPDATE"
        if pid is not None:  # PostgreSQL says so: B's backend waits for A's row lock
            assert wait_until(lambda: waits_for_a_lock(session, pid)), "the second writer should wait"
        else:  # SQLite's busy handler waits inside the UPDATE; it must not come back meanwhile
            t.join(0.5)
            assert t.is_alive(), "the second writer should wait for the first"
        committed.set()
        a.commit()
        t.join(60)
    finally:
        event.remove(b.get_bind(), "before_cursor_execute", on_statement)
    assert not t.is_alive()
    assert finished == [True], "the second writer ended before the first committed"
    assert [type(e) for e in errors] == [Conflict], errors
    assert "changed by someone else" in str(errors[0])
    session.expire_all()
    assert session.get(Version, v.id).state == "accepted"
    assert [e.action for e in audit.history(session, version=v)][-1] == "version.accepted"
    a.close()
    b.close()


def test_racing_reviewers_through_the_public_functions(sessions, session, cast, make_version):
    v = make_version(cast.cso, submit=True)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def review(principal):
        with sessions() as s:
            barrier.wait()
            try:
                results.append(submissions.accept(s, principal=principal, version_id=v.id).state)
            except Conflict as exc:
                results.append(exc)

    threads = [threading.Thread(target=review, args=(p,)) for p in (cast.nso, cast.admin)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(map(type, results), key=str) == sorted([str, Conflict], key=str), results
    accepted = session.scalars(select(AuditEntry).where(AuditEntry.action == "version.accepted")).all()
    assert len(accepted) == 1


# ---------------------------------------------------------------- lineage and pulls


def test_lineage_traces_an_observation_to_its_source(session, cast, make_version, kenya):
    v = make_version(cast.cso)
    row = kenya.table.slice(5, 1).to_pylist()[0]
    key = {d: row[d] for d in ("REF_AREA", "SEX", "AGE", "DISABILITY_STATUS")} | {
        "TIME_PERIOD": row["TIME_PERIOD"]
    }
    got = submissions.lineage(session, principal=cast.cso, version_id=v.id, key=key)
    assert got["source_rows"] == [row["SOURCE_ROW"]]
    assert got["version"]["number"] == 1
    assert got["submission"]["dataset"] == "ke-health-scorecard-2024"
    assert (got["mapping_version"], got["metadata_version"]) == ("1.0.0", "1.1.0")
    assert {f["filename"]: f["sha256"] for f in got["files"]} == {f.filename: f.sha256 for f in kenya.files}
    assert got["observations"] == [row]
    with pytest.raises(NotFound, match=r"(?i)has no observation"):
        submissions.lineage(session, principal=cast.cso, version_id=v.id, key={**key, "SEX": "X"})
    with pytest.raises(UsageError, match=r"(?i)no column COLOUR"):
        submissions.lineage(session, principal=cast.cso, version_id=v.id, key={"COLOUR": "red"})
    with pytest.raises(NotFound):  # a draft is nobody else's business
        submissions.lineage(session, principal=None, version_id=v.id, key=key)


def test_a_cso_sees_who_pulled_its_data(session, cast, make_version):
    v = make_version(cast.cso, submit=True)
    submissions.accept(session, principal=cast.nso, version_id=v.id)
    submissions.publish(session, principal=cast.nso, version_id=v.id)
    query = "/sdmx/rest/data/DF_CGD_KE/A..KE_042"
    audit.record_pull(session, principal=cast.nso, served=[(v, 12)], query=query, client="10.0.0.7")
    audit.record_pull(session, principal=None, served=[(v, 180)], query="/sdmx/v2/data/dataflow/*/DF_CGD_KE")
    audit.record_pull(session, principal=None, served=[], query="/sdmx/rest/data/NOTHING")
    audit.record(session, action="metadata.pulled", principal=cast.nso, submission_id=v.submission_id,
                 version_id=v.id, query="/sdmx/rest/metadata/...")  # fmt: skip
    pulls = audit.pulls_of(session, cso_org_id=cast.cso.org_id)
    assert [(p.action, p.username, p.organisation, p.observations) for p in pulls] == [
        ("metadata.pulled", "wanjiru", "knbs", None),
        ("data.pulled", None, None, 180),
        ("data.pulled", "wanjiru", "knbs", 12),
    ]
    assert pulls[-1].query == query
    assert (pulls[-1].dataset, pulls[-1].version, pulls[-1].client) == (
        "ke-health-scorecard-2024",
        1,
        "10.0.0.7",
    )
    assert audit.pulls_of(session, cso_org_id=cast.other_cso.org_id) == []


KILLED_WRITER = """
import pathlib, sys, time
import yaml
from cgd_bridge.metadata import load_metadata
from cgd_bridge.pipeline import conform, examine
from cgd_bridge.store import audit, orgs, submissions
from cgd_bridge.store.db import make_engine, make_sessionmaker

url, marker, data_csv, quality, mapping = sys.argv[1:6]
validation = examine(data_csv, metadata=quality, mapping=mapping)
h = validation.harmonised
table = conform(h, validation.suppression, load_metadata(quality).model, forced=False)
real = audit.add

def stall(*args, **kwargs):  # the version and its files are already sent to the database
    entry = real(*args, **kwargs)
    pathlib.Path(marker).write_text("inside the transaction")
    time.sleep(120)
    return entry

audit.add = stall
with make_sessionmaker(make_engine(url))() as session:
    principal = orgs.Principal.of(orgs.get_user(session, username="amina"))
    content = submissions.VersionContent(
        dataflow="CGD_BRIDGE:DF_CGD_KE(1.0)", report=validation.report, table=table,
        metadata=yaml.safe_load(open(quality)), mapping_text=open(mapping).read(), dimensions=h.dimensions,
    )
    submissions.create_version(session, content, principal=principal, files=[])
"""


def test_a_killed_process_leaves_no_partial_version(db_url, session, cast, make_version, kenya, tmp_path):
    before = counts(session)
    marker = tmp_path / "marker"
    args = [db_url, str(marker), *(str(kenya.sources[k]) for k in ("data", "metadata", "mapping"))]
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, *args], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the writer never reached the middle of its transaction"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)  # reaps it and closes the pipe
    assert counts(session) == before  # nothing of the half-written version survives
    v = make_version(cast.cso)  # and the database takes the next submission as version 1
    assert v.number == 1
