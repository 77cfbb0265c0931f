"""The DSAT verdict's reasons in the person's language (#17) on the version page and in the JSON
API: stored once as messages with the version, shown in Swahili, Nepali or Bangla on request."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest

from cgd_bridge.i18n import msg
from cgd_bridge.store.models import Version
from tests.unit.server.test_web import Demo, _demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with _demo(tmp_path) as d:
        yield d


def test_a_failed_self_assessment_says_why_in_the_pages_and_the_apis_language(demo: Demo) -> None:
    vid = demo.published["kenya-health-scorecard"]
    why = [
        msg("ethics principle '{principle}' is answered 'no'", principle=msg("privacy")),
        msg("the quality scores add up to {total} of 15, below {least}", total=6, least=8),
    ]
    with demo.session() as s:
        v = s.get(Version, vid)
        assert v is not None
        v.dsat = {
            **(v.dsat or {}),
            "pass": False,
            "total": 6,
            "max": 15,
            "reasons": [
                "ethics principle 'privacy' is answered 'no'",
                "the quality scores add up to 6 of 15, below 8",
            ],
            "why": why,
        }
        s.commit()
    english = html.unescape(demo.client.get(f"/versions/{vid}").text)
    assert "ethics principle 'privacy' is answered 'no'" in english
    swahili = html.unescape(demo.client.get(f"/versions/{vid}?lang=sw").text)
    assert "kanuni ya maadili 'faragha' imejibiwa 'hapana'" in swahili
    assert "is answered 'no'" not in swahili
    nepali = html.unescape(demo.client.get(f"/versions/{vid}?lang=ne").text)
    assert "नैतिक सिद्धान्त 'निजता' को उत्तर 'होइन' दिइएको छ" in nepali
    key = {"Authorization": f"Bearer {demo.keys['amina']}"}
    api = demo.client.get(f"/api/versions/{vid}", headers={**key, "Accept-Language": "bn"})
    assert api.status_code == 200, api.text[:300]
    reasons = api.json()["dsat"]["reasons"]
    assert reasons[0] == "নৈতিক নীতি 'ব্যক্তিগত গোপনীয়তা'-এর উত্তর 'না' দেওয়া হয়েছে"
    assert len(reasons) == 2
    assert "is answered" not in reasons[0]
    plain = demo.client.get(f"/api/versions/{vid}", headers=key).json()["dsat"]["reasons"]
    assert plain[0] == "ethics principle 'privacy' is answered 'no'"
