"""Rendered small data answers are kept per (versions read, query, representation) and sent again.

Who asks is still decided per request (the key, the access policy, the audit), so these tests
check that a kept answer is used only when the same versions are read for the same query in
the same representation, that a withdrawal, a revision or another format never gets an old
answer, that ETag / If-None-Match give 304, and that ``answer_cache_mb=0`` turns it off.
"""

from __future__ import annotations

import pytest

from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.answers import AnswerCache, etag_matches, make_answer
from cgd_bridge.store import submissions
from tests.unit.server.conftest import CSV, World, publish

JSON = {"Accept": "application/vnd.sdmx.data+json;version=2.0.0"}


@pytest.fixture
def selections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the service selected and wrote observations (a kept answer does neither): by
    ``select`` and the writer, or from the key index (small SDMX-CSV answers)."""
    calls: list[int] = []
    original = service.select
    indexed = service._indexed_answer

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    def counted_indexed(*args, **kwargs):
        out = indexed(*args, **kwargs)
        if out is not None:
            calls.append(1)
        return out

    monkeypatch.setattr(service, "select", counted)
    monkeypatch.setattr(service, "_indexed_answer", counted_indexed)
    return calls


def _pull(world: World, path: str, headers: dict[str, str] | None = None, who: str = "kamau"):
    auth = {"Authorization": f"Bearer {world.keys[who]}"}
    return world.client.get(path, headers={**CSV, **auth, **(headers or {})})


def test_the_same_query_is_answered_from_the_kept_bytes(world: World, kenya, selections) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    first = _pull(world, world.series)
    second = _pull(world, world.series)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-Observations"] == first.headers["X-Observations"] != "0"
    assert len(selections) == 1
    # the producer asks the same: same versions read, so the same bytes, and both pulls audited
    assert _pull(world, world.series, who="amina").content == first.content
    assert len(selections) == 1
    pulls = world.client.get(
        "/api/organisations/sauti/pulls", headers={"Authorization": f"Bearer {world.keys['amina']}"}
    ).json()
    assert len(pulls) == 3
    assert {p["observations"] for p in pulls} == {int(first.headers["X-Observations"])}


def test_another_format_or_query_is_written_anew(world: World, kenya, selections) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    csv = _pull(world, world.series)
    js = _pull(world, world.series, JSON)
    assert js.headers["content-type"].startswith("application/vnd.sdmx.data+json")
    assert js.content != csv.content
    later = _pull(world, world.series + "?startPeriod=2100")
    assert later.status_code == 404
    assert len(selections) == 3


def test_a_withdrawal_or_a_revision_never_gets_an_old_answer(world: World, kenya, selections) -> None:
    with world.bridge.sessions() as session:
        v1 = publish(session, kenya, world.producer, world.reviewer, "open")
    before = _pull(world, world.series)
    with world.bridge.sessions() as session:
        submissions.withdraw(session, principal=world.producer, version_id=v1, reason="wrong")
    assert _pull(world, world.series).status_code == 404
    with world.bridge.sessions() as session:  # a new dataset of the same producer and dataflow
        publish(session, kenya, world.producer, world.reviewer, "second")
    again = _pull(world, world.series)
    assert again.status_code == 200
    # answered by selecting both times (the withdrawn state reads no version: nothing to select),
    # never from the answer kept for the withdrawn version
    assert len(selections) == 2
    assert again.content == before.content  # same observations, from the other version
    assert again.headers["ETag"] == before.headers["ETag"]


def test_if_none_match_gets_304(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    etag = _pull(world, world.series).headers["ETag"]
    r = _pull(world, world.series, {"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == etag
    assert _pull(world, world.series, {"If-None-Match": '"something-else"'}).status_code == 200


@pytest.mark.world_settings(answer_cache_mb=0)
def test_answer_cache_off(world: World, kenya, selections) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    assert _pull(world, world.series).content == _pull(world, world.series).content
    assert len(selections) == 2


def test_the_cache_keeps_to_its_bounds() -> None:
    cache = AnswerCache(max_bytes=250, max_answer_bytes=100)
    for i in range(5):
        cache.put(i, make_answer(bytes(90), "text/csv", 1, (1,)))
    assert len(cache) == 2  # 2 x 90 <= 250 < 3 x 90
    assert cache.get(0) is None
    assert cache.get(4) is not None
    cache.put("big", make_answer(bytes(101), "text/csv", 1, (1,)))
    assert cache.get("big") is None  # larger than one answer may be


def test_etag_matching() -> None:
    a = make_answer(b"x", "text/csv", 1, (1,))
    assert a.etag.startswith('"')
    assert etag_matches(a.etag, a.etag)
    assert etag_matches(f'"other", W/{a.etag}', a.etag)
    assert etag_matches("*", a.etag)
    assert not etag_matches(None, a.etag)
    assert make_answer(b"y", "text/csv", 1, (1,)).etag != a.etag
