"""The Atom feed of a dataflow (#19): valid Atom (RFC 4287 essentials, feedparser and lxml), one
entry per publication and withdrawal, only what the reader may see (an embargoed publication
reaches the public when the embargo ends; an MoU reviewer's key sees it at once), ETag and
Last-Modified with 304s."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from lxml import etree

from cgd_bridge.store import submissions

from .conftest import publish

pytestmark = pytest.mark.world_settings(notify_worker=False)
FEED = "/feeds/CGD_BRIDGE/DF_CGD_KE/1.0.atom"
A = "{http://www.w3.org/2005/Atom}"


def _feed(world, who: str | None = None, **headers: str):
    auth = {"Authorization": f"Bearer {world.keys[who]}"} if who else {}
    return world.client.get(FEED, headers={**auth, **headers})


def _check_rfc4287(body: bytes) -> etree._Element:
    root = etree.fromstring(body)
    assert root.tag == f"{A}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{name}")) == 1, name
    assert root.find(f"{A}author/{A}name") is not None
    assert root.find(f"{A}link[@rel='self']") is not None
    ids = set()
    for entry in root.findall(f"{A}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{name}")) == 1, name
        ids.add(entry.findtext(f"{A}id"))
        dt.datetime.fromisoformat(entry.findtext(f"{A}updated").replace("Z", "+00:00"))
    assert len(ids) == len(root.findall(f"{A}entry"))  # ids are unique
    return root


def test_the_public_feed_lists_publications_and_withdrawals_and_nothing_embargoed(world, kenya):
    with world.bridge.sessions() as s:
        open_id = publish(s, kenya, world.producer, world.reviewer, "open-data")
        until = world.clock() + dt.timedelta(days=3)
        hidden = publish(s, kenya, world.producer, world.reviewer, "embargoed-data", embargo_until=until)
        gone = publish(s, kenya, world.producer, world.reviewer, "gone-data")
        submissions.withdraw(s, principal=world.producer, version_id=gone, reason="a wrong file")
    r = _feed(world)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/atom+xml")
    _check_rfc4287(r.content)
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    titles = [e.title for e in parsed.entries]
    assert any("open-data" in t and t.startswith("Published") for t in titles)
    assert any("gone-data" in t and t.startswith("Withdrawn") for t in titles)
    assert not any("embargoed-data" in t for t in titles)
    assert b"OBS_VALUE" not in r.content
    assert all(f"/versions/{open_id}" in e.link or "open-data" not in e.title for e in parsed.entries)
    # the MoU reviewer's key sees the embargoed publication at once; the feed is private to it
    r = _feed(world, "kamau")
    assert any("embargoed-data" in e.title for e in feedparser.parse(r.content).entries)
    assert r.headers["cache-control"] == "private"
    # the embargo ends: the public entry appears, dated from the embargo's end
    world.clock.advance(dt.timedelta(days=4))
    parsed = feedparser.parse(_feed(world).content)
    (entry,) = [e for e in parsed.entries if "embargoed-data" in e.title]
    assert entry.updated.startswith(until.strftime("%Y-%m-%dT%H:%M"))
    assert parsed.entries[0] is entry  # the newest first
    assert hidden


def test_etag_and_last_modified_answer_304(world, kenya):
    with world.bridge.sessions() as s:
        publish(s, kenya, world.producer, world.reviewer, "cached")
    r = _feed(world)
    tag, modified = r.headers["etag"], r.headers["last-modified"]
    assert _feed(world, **{"If-None-Match": tag}).status_code == 304
    assert _feed(world, **{"If-Modified-Since": modified}).status_code == 304
    with world.bridge.sessions() as s:
        publish(s, kenya, world.producer, world.reviewer, "newer")
    r2 = _feed(world, **{"If-None-Match": tag})
    assert r2.status_code == 200
    assert r2.headers["etag"] != tag


def test_an_unknown_dataflow_is_404_and_a_wrong_key_401(world):
    r = world.client.get("/feeds/CGD_BRIDGE/NO_SUCH_FLOW/1.0.atom")
    assert r.status_code == 404
    assert "dataflow" in r.json()["error"]["message"]
    r = world.client.get(FEED, headers={"Authorization": "Bearer cgdb_nope_nope"})
    assert r.status_code == 401
    empty = world.client.get(FEED)
    assert empty.status_code == 200
    assert feedparser.parse(empty.content).entries == []
