"""One owner per observation (#13): overlapping submissions are caught before acceptance and
publication, resolved only by an explicit ``replace``, and never served twice.

The Kenya scorecard is published by 'sauti'; a second CSO ('other-cso', a county watchdog under
its own MoU with the same NSO) then sends data for the same dataflow that repeats some of its
series keys and periods (county KE_042) with other values, plus series of its own (2025).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from sqlalchemy import update

from cgd_bridge.errors import Conflict, Overlapping
from cgd_bridge.store import audit, ownership, published, submissions
from cgd_bridge.store.models import State, Version
from cgd_bridge.store.mous import create_mou

UTC = dt.UTC
COUNTY = "KE_042"


def _key(row: dict[str, Any], dims: list[str]) -> tuple[str, ...]:
    return (*(str(row[d]) for d in dims), str(row["TIME_PERIOD"]))


def _county(table: pa.Table) -> pa.Table:
    """Sauti's KE_042 observations with other values (another CSO measured the same)."""
    rows = table.filter(pc.equal(table["REF_AREA"], COUNTY))
    return rows.set_column(rows.column_names.index("OBS_VALUE"), "OBS_VALUE", pc.add(rows["OBS_VALUE"], 1.5))


def _own_series(table: pa.Table) -> pa.Table:
    """Series only the second CSO has: the same breakdowns in 2025."""
    rows = table.filter(pc.equal(table["REF_AREA"], COUNTY))
    return rows.set_column(
        rows.column_names.index("TIME_PERIOD"), "TIME_PERIOD", pa.array(["2025"] * rows.num_rows)
    )


@pytest.fixture
def overlapping(session, cast, make_version, kenya):
    """Sauti's published version A, and the other CSO's submitted version B overlapping it."""
    create_mou(
        session, cso="other-cso", nso="knbs", dataflows=[kenya.dataflow],
        valid_until=dt.datetime.now(UTC) + dt.timedelta(days=365),
    )  # fmt: skip
    a = make_version(cast.cso, submit=True)
    submissions.accept(session, principal=cast.nso, version_id=a.id)
    submissions.publish(session, principal=cast.nso, version_id=a.id)
    county = _county(kenya.table)
    table = pa.concat_tables([county, _own_series(kenya.table)])
    b = make_version(cast.other_cso, submit=True, table=table, dataset="ke-county-watch-2024")
    return a, b, county


def _served_keys(session, version_ids, kenya) -> list[tuple[str, ...]]:
    out = []
    for _, t in published.load_published(
        session, version_ids, dimensions=kenya.dimensions, attributes=kenya.attributes
    ):
        out += [_key(r, kenya.dimensions) for r in t.select([*kenya.dimensions, "TIME_PERIOD"]).to_pylist()]
    return out


def test_the_overlap_names_the_published_version_counts_and_examples(session, cast, overlapping, kenya):
    a, b, county = overlapping
    found = submissions.overlap(session, principal=cast.nso, version_id=b.id)
    assert found.count == county.num_rows > 0
    [shared] = found.shared
    assert (shared.version_id, shared.producer, shared.dataset) == (a.id, "sauti", a.submission.dataset)
    assert shared.count == county.num_rows
    assert 0 < len(shared.examples) <= ownership.EXAMPLES
    dims = kenya.dimensions
    county_keys = {_key(r, dims) for r in county.to_pylist()}
    for example in shared.examples:
        assert (*example["key"].split("."), example["period"]) in county_keys
        assert COUNTY in example["key"]
    assert found.key == dims
    # the JSON form carries the same
    assert found.to_dict()["shared"][0]["observations"] == county.num_rows


def test_accepting_or_publishing_an_overlap_is_refused_without_replace(session, cast, overlapping):
    a, b, county = overlapping
    with pytest.raises(Overlapping) as caught:
        submissions.accept(session, principal=cast.nso, version_id=b.id)
    err = caught.value
    assert err.status == 409
    assert f"{county.num_rows} series keys and periods" in err.problem
    assert "sauti" in err.problem
    assert COUNTY in err.problem
    assert "replace" in (err.fix or "")
    assert err.to_dict()["overlap"]["shared"][0]["version"] == a.id
    session.expire_all()
    assert submissions.get_version(session, principal=cast.nso, version_id=b.id).state == State.SUBMITTED
    # an admin is no exception
    with pytest.raises(Overlapping):
        submissions.accept(session, principal=cast.admin, version_id=b.id)


def test_replace_takes_over_the_overlapping_observations_only(session, cast, overlapping, kenya):
    a, b, county = overlapping
    submissions.accept(
        session, principal=cast.nso, version_id=b.id, replace=True, comment="KE_042 re-measured"
    )
    # the choice made at acceptance carries to publication
    submissions.publish(session, principal=cast.nso, version_id=b.id)
    session.expire_all()
    assert submissions.get_version(session, principal=cast.nso, version_id=a.id).state == State.PUBLISHED
    keys = _served_keys(session, [a.id, b.id], kenya)
    assert len(keys) == len(set(keys))  # one owner per key and period
    dims = kenya.dimensions
    county_keys = {_key(r, dims) for r in county.to_pylist()}
    [(_, a_view), (_, b_view)] = published.load_published(
        session, [a.id, b.id], dimensions=dims, attributes=kenya.attributes
    )
    assert a_view.num_rows == kenya.table.num_rows - county.num_rows
    assert not county_keys & {_key(r, dims) for r in a_view.to_pylist()}
    assert b_view.num_rows == b.observations  # B serves all of its rows
    # the values served for the county are B's
    b_values = {_key(r, dims): r["OBS_VALUE"] for r in b_view.to_pylist()}
    for r in county.to_pylist():
        assert b_values[_key(r, dims)] == r["OBS_VALUE"]
    # nothing is lost: A's stored table is whole, history and lineage say who replaced what
    history = audit.history(session, version=a)
    [replaced] = [e for e in history if e.action == "version.replaced"]
    assert replaced.details["by"] == b.id
    assert replaced.details["observations"] == county.num_rows
    assert replaced.details["by_producer"] == "other-cso"
    row = county.to_pylist()[0]
    line = submissions.lineage(
        session, principal=cast.cso, version_id=a.id, key={d: str(row[d]) for d in (*dims, "TIME_PERIOD")}
    )
    assert line["replaced_by"] == [
        {"version": b.id, "number": 1, "dataset": "ke-county-watch-2024", "producer": "other-cso",
         "observations": 1}
    ]  # fmt: skip
    assert len(line["observations"]) == 1
    published_entry = next(e for e in audit.history(session, version=b) if e.action == "version.published")
    assert published_entry.details["replace"]["versions"] == [a.id]


def test_a_replace_chosen_at_acceptance_does_not_cover_a_newer_overlap(
    session, cast, overlapping, make_version, kenya
):
    """Between acceptance and publication a third version published the same keys: the reviewer's
    choice named only A, so publishing B is refused again."""
    a, b, county = overlapping
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    c = make_version(cast.other_cso, submit=True, table=county, dataset="ke-county-recheck-2024")
    submissions.accept(session, principal=cast.nso, version_id=c.id, replace=True)
    submissions.publish(session, principal=cast.nso, version_id=c.id)
    with pytest.raises(Overlapping) as caught:
        submissions.publish(session, principal=cast.nso, version_id=b.id)
    assert [s["version"] for s in caught.value.overlap["shared"]] == [c.id]
    submissions.publish(session, principal=cast.nso, version_id=b.id, replace=True)
    keys = _served_keys(session, [a.id, b.id, c.id], kenya)
    assert len(keys) == len(set(keys))
    # C was replaced whole by B, which was published last
    [(_, c_view)] = published.load_published(
        session, [c.id], dimensions=kenya.dimensions, attributes=kenya.attributes
    )
    assert c_view.num_rows == 0


def test_replace_false_refuses_even_after_a_replace_at_acceptance(session, cast, overlapping):
    _, b, _ = overlapping
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    with pytest.raises(Conflict):
        submissions.publish(session, principal=cast.nso, version_id=b.id, replace=False)


def test_versions_of_one_submission_do_not_overlap_they_supersede(session, cast, make_version, kenya):
    a1 = make_version(cast.cso, submit=True)
    submissions.accept(session, principal=cast.nso, version_id=a1.id)
    submissions.publish(session, principal=cast.nso, version_id=a1.id)
    a2 = make_version(cast.cso, submit=True, revision_note="Corrected KE_042")
    assert not submissions.overlap(session, principal=cast.nso, version_id=a2.id)
    submissions.accept(session, principal=cast.nso, version_id=a2.id)
    submissions.publish(session, principal=cast.nso, version_id=a2.id)
    session.expire_all()
    assert submissions.get_version(session, principal=cast.nso, version_id=a1.id).state == State.SUPERSEDED
    keys = _served_keys(session, [a2.id], kenya)
    assert len(keys) == kenya.table.num_rows == len(set(keys))


def test_a_version_without_overlap_publishes_as_before(session, cast, overlapping, make_version, kenya):
    create_mou(
        session, cso="other-cso", nso="knbs", dataflows=["*"],
        valid_until=dt.datetime.now(UTC) + dt.timedelta(days=30),
    )  # fmt: skip
    a, _, _ = overlapping
    fresh = make_version(cast.other_cso, submit=True, table=_own_series(kenya.table), dataset="ke-2025")
    assert not submissions.overlap(session, principal=cast.nso, version_id=fresh.id)
    submissions.accept(session, principal=cast.nso, version_id=fresh.id)
    submissions.publish(session, principal=cast.nso, version_id=fresh.id)
    keys = _served_keys(session, [a.id, fresh.id], kenya)
    assert len(keys) == kenya.table.num_rows + fresh.observations == len(set(keys))


def test_withdrawing_the_replacing_version_gives_the_keys_back(session, cast, overlapping, kenya):
    """Ownership follows the published versions: when the replacing version is withdrawn, the
    version still published serves its observations again (nobody else owns them)."""
    a, b, _ = overlapping
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    submissions.publish(session, principal=cast.nso, version_id=b.id)
    submissions.withdraw(session, principal=cast.other_cso, version_id=b.id, reason="wrong county codes")
    keys = _served_keys(session, [a.id], kenya)
    assert len(keys) == kenya.table.num_rows


def test_legacy_duplicates_are_served_once(session, cast, make_version, kenya):
    """Two versions published before ownership existed (simulated by publishing with replace and
    forgetting the choice) or a version repeating a key: the served view holds each key once."""
    doubled = pa.concat_tables([kenya.table, kenya.table.slice(0, 5)])
    v = make_version(cast.cso, submit=True, table=doubled)
    submissions.accept(session, principal=cast.nso, version_id=v.id)
    submissions.publish(session, principal=cast.nso, version_id=v.id)
    keys = _served_keys(session, [v.id], kenya)
    assert len(keys) == kenya.table.num_rows == len(set(keys))


def test_ownership_is_columnar_on_a_large_dataflow():
    """100k observations per version: ownership and overlap by Arrow hash joins, no Python per row.

    Not a timing: tracemalloc sees Python objects only (Arrow buffers live outside it), so a loop
    that made a tuple or a set entry per key would show 10 MB or more here; the joins show about
    3 MB (numpy's index arrays, which tracemalloc does see).
    """
    import tracemalloc

    n = 100_000
    areas = pa.array([f"KE_{i % 47:03d}" for i in range(n)])
    periods = pa.array([str(2000 + (i // 47) % 25) for i in range(n)])
    series = pa.array([f"S{i // (47 * 25)}" for i in range(n)])
    old = pa.table(
        {"SERIES": series, "REF_AREA": areas, "TIME_PERIOD": periods, "OBS_VALUE": pa.array([1.0] * n)}
    )
    new = old.slice(n // 2)
    tracemalloc.start()
    try:
        claims = ownership.compute([(2, new), (1, old)], ["SERIES", "REF_AREA", "TIME_PERIOD"]).claims
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * 1024 * 1024, f"{peak / 2**20:.1f} MiB of Python objects for 100k keys"
    assert claims[2].whole
    assert pc.sum(claims[1].served).as_py() == n // 2
    assert claims[1].replaced() == {2: n - n // 2}


def test_the_admin_cli_shows_the_overlap_and_needs_replace(db_url, session, cast, overlapping):
    """`cgd-bridge admin version overlap|accept|publish`: the same rules as the API and the page."""
    from click.testing import CliRunner

    from cgd_bridge.cli import cli

    a, b, county = overlapping

    def run(*args: str):
        return CliRunner().invoke(cli, [*args, "--database-url", db_url], catch_exceptions=True)

    shown = run("admin", "version", "overlap", str(b.id))
    assert shown.exit_code == 1
    assert f"shares {county.num_rows} series keys and periods" in shown.stdout
    assert f"version 1 (id {a.id}) of '{a.submission.dataset}' by sauti" in shown.stdout
    assert COUNTY in shown.stdout
    refused = run("admin", "version", "accept", str(b.id), "--as", "wanjiru")
    assert isinstance(refused.exception, Overlapping)
    assert COUNTY in refused.stdout  # the keys are printed before the refusal
    ok = run(
        "admin", "version", "accept", str(b.id), "--as", "wanjiru", "--replace", "--comment", "re-measured"
    )
    assert ok.exit_code == 0, (ok.output, ok.exception)
    ok = run("admin", "version", "publish", str(b.id), "--as", "wanjiru")
    assert ok.exit_code == 0, (ok.output, ok.exception)
    assert "is published" in ok.stdout
    session.expire_all()
    assert submissions.get_version(session, principal=cast.nso, version_id=b.id).state == State.PUBLISHED
    assert run("admin", "version", "overlap", str(b.id)).exit_code == 0  # it owns those keys now


def test_lineage_does_not_name_a_replacing_version_the_reader_may_not_see(session, cast, overlapping, kenya):
    """The replacing version is restricted (not open): the public reading the open version's
    lineage learns that its observation was replaced, not by which dataset or producer."""
    a, b, county = overlapping
    session.execute(update(Version).where(Version.id == b.id).values(is_open=False))
    session.commit()
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    submissions.publish(session, principal=cast.nso, version_id=b.id)
    row = county.to_pylist()[0]
    key = {d: str(row[d]) for d in (*kenya.dimensions, "TIME_PERIOD")}
    public = submissions.lineage(session, principal=None, version_id=a.id, key=key)
    assert public["replaced_by"] == [
        {"version": None, "observations": 1, "note": "replaced by a version you may not see"}
    ]
    assert "ke-county-watch" not in str(public)
    nso = submissions.lineage(session, principal=cast.nso, version_id=a.id, key=key)
    assert nso["replaced_by"][0]["dataset"] == "ke-county-watch-2024"


def test_two_overlapping_publications_at_once_do_not_both_succeed(
    sessions, session, cast, overlapping, make_version, monkeypatch
):
    """Two reviewers publish two overlapping versions of different submissions at the same time.

    Neither is published when both were accepted, so each acceptance saw no overlap. Each
    publication checks the overlap and then writes; a barrier holds every publication that has
    checked until the other one has checked too (or a few seconds passed), which is exactly the
    interleaving in which both checks see nothing published. The store must serialise the check
    and the write per dataflow: one publication succeeds, the other is refused with the overlap.
    """
    import threading

    a, b, _ = overlapping
    # A (published) is withdrawn: B and C, of two submissions, are accepted and not published
    submissions.withdraw(session, principal=cast.cso, version_id=a.id, reason="start again")
    submissions.accept(session, principal=cast.nso, version_id=b.id)
    c = make_version(cast.cso, submit=True, dataset="ke-health-recount-2024")
    submissions.accept(session, principal=cast.nso, version_id=c.id)
    assert not submissions.overlap(session, principal=cast.nso, version_id=b.id)
    assert not submissions.overlap(session, principal=cast.nso, version_id=c.id)

    barrier = threading.Barrier(2, timeout=3)
    real = ownership.overlap

    def checked_then_wait(*args: Any, **kw: Any) -> ownership.Overlap:
        found = real(*args, **kw)
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other publication waits for the store's lock: go on alone
        return found

    outcomes: dict[int, BaseException | None] = {}

    def publish(version_id: int) -> None:
        with sessions() as own:
            try:
                submissions.publish(own, principal=cast.nso, version_id=version_id)
                outcomes[version_id] = None
            except BaseException as exc:  # noqa: BLE001 - the outcome is what the test reads
                outcomes[version_id] = exc

    monkeypatch.setattr(ownership, "overlap", checked_then_wait)
    threads = [threading.Thread(target=publish, args=(vid,)) for vid in (b.id, c.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(outcomes) == {b.id, c.id}, outcomes
    ok = [vid for vid, exc in outcomes.items() if exc is None]
    refused = [exc for exc in outcomes.values() if exc is not None]
    assert len(ok) == 1, outcomes
    [exc] = refused
    assert isinstance(exc, Overlapping), repr(exc)
    session.expire_all()
    states = [submissions.get_version(session, principal=cast.nso, version_id=v).state for v in (b.id, c.id)]
    assert sorted(states) == sorted([State.PUBLISHED, State.ACCEPTED])


def _mentions(entries: list[dict[str, Any]], *words: str) -> list[str]:
    text = str(entries)
    return [w for w in words if w in text]


def test_history_does_not_name_a_replacing_version_the_reader_may_not_see(session, cast, overlapping):
    """The replacing version B (other-cso) is restricted: the public and sauti (another CSO) read
    in A's history that observations were replaced, not by which version, dataset or producer;
    B's producer and the MoU reviewer read the whole entry."""
    a, b, county = overlapping
    session.execute(update(Version).where(Version.id == b.id).values(is_open=False))
    session.commit()
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    submissions.publish(session, principal=cast.nso, version_id=b.id)
    for reader in (None, cast.cso):
        entries = submissions.history(session, principal=reader, version_id=a.id)
        [replaced] = [e for e in entries if e["action"] == "version.replaced"]
        assert replaced["details"]["observations"] == county.num_rows
        assert replaced["details"]["by"] is None
        assert "may not see" in replaced["details"]["note"]
        assert not _mentions(entries, "ke-county-watch", "other-cso", f"'by': {b.id}"), entries
    for reader in (cast.other_cso, cast.nso):
        entries = submissions.history(session, principal=reader, version_id=a.id)
        [replaced] = [e for e in entries if e["action"] == "version.replaced"]
        assert replaced["details"]["by"] == b.id
        assert replaced["details"]["by_dataset"] == "ke-county-watch-2024"
        assert replaced["details"]["by_producer"] == "other-cso"


def test_history_of_the_replacing_version_does_not_name_a_replaced_one_the_reader_may_not_see(
    session, cast, overlapping
):
    """The other way round: A (sauti) is restricted and B replaces it; B's history (acceptance
    and publication with ``replace``) names A only to those who may see A."""
    a, b, county = overlapping
    session.execute(update(Version).where(Version.id == a.id).values(is_open=False))
    session.commit()
    submissions.accept(session, principal=cast.nso, version_id=b.id, replace=True)
    submissions.publish(session, principal=cast.nso, version_id=b.id)
    entries = submissions.history(session, principal=None, version_id=b.id)
    chosen = [e for e in entries if (e["details"] or {}).get("replace")]
    assert [e["action"] for e in chosen] == ["version.accepted", "version.published"]
    for e in chosen:
        assert e["details"]["replace"]["observations"] == county.num_rows
        assert e["details"]["replace"]["versions"] == []
        assert not _mentions(chosen, "sauti", a.submission.dataset), chosen
    entries = submissions.history(session, principal=cast.cso, version_id=b.id)
    [published_entry] = [e for e in entries if e["action"] == "version.published"]
    assert published_entry["details"]["replace"]["versions"] == [a.id]
    assert published_entry["details"]["replace"]["shared"][0]["producer"] == "sauti"


@pytest.mark.parametrize("lang", ["sw", "ne"])
def test_the_admin_cli_shows_the_overlap_in_the_language(db_url, session, cast, overlapping, lang):
    """#17: `admin version overlap` and the refusal's error line in CGD_BRIDGE_LANG's language,
    the counts in the language's plural form; keys, dataset names and producers as they are."""
    from click.testing import CliRunner

    from cgd_bridge.cli import cli
    from cgd_bridge.i18n import translator
    from tests.support.untranslated import EnglishFinder

    a, b, county = overlapping
    runner = CliRunner(env={"CGD_BRIDGE_LANG": lang})
    shown = runner.invoke(cli, ["admin", "version", "overlap", str(b.id), "--database-url", db_url])
    assert shown.exit_code == 1, shown.output
    t = translator(lang)
    assert t.number(county.num_rows) in shown.stdout
    found = ownership.overlap(session, b)
    data = {found.dataflow, ".".join(found.key), a.submission.dataset, "sauti"}
    data |= {f"{e['key']} {e['period']}" for sh in found.shared for e in sh.examples}
    finder = EnglishFinder(lang, data=data)
    assert not finder.english_in(shown.stdout), finder.english_in(shown.stdout)
    refused = runner.invoke(cli, ["admin", "version", "accept", str(b.id), "--as", "wanjiru",
                                  "--database-url", db_url])  # fmt: skip
    assert isinstance(refused.exception, Overlapping)
    said = refused.exception.message_in(t)  # the error line main() prints
    left = EnglishFinder(lang, data=data | {b.submission.dataset, "replace"}).english_in(said)
    assert not left, (left, said)
