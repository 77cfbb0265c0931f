"""What the server says in the person's language (#17): the DSAT verdict's reasons on the version
page and in the JSON API (stored once as messages with the version), and the errors of the store
and the server (JSON API, web pages, SDMX REST) in Swahili, Nepali or Bangla on request, the
English and the codes unchanged."""

from __future__ import annotations

import html

import pytest

from cgd_bridge.errors import Conflict
from cgd_bridge.i18n import msg, translator
from cgd_bridge.store import orgs, submissions
from cgd_bridge.store.models import Version
from cgd_bridge.store.orgs import Principal
from tests.unit.server.test_web import FLOW, Demo


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


def test_errors_of_the_store_and_the_server_in_the_asked_language(demo: Demo) -> None:
    key = {"Authorization": f"Bearer {demo.keys['amina']}"}
    # the JSON API: a store error, in Swahili when asked, in English when not
    sw = demo.client.get("/api/versions/999999", headers={**key, "Accept-Language": "sw"}).json()["error"]
    assert sw["problem"] == "hakuna toleo 999999"
    assert sw["status"] == 404
    en = demo.client.get("/api/versions/999999", headers=key).json()["error"]
    assert en["problem"] == "there is no version 999999"
    # a web page's error in Bangla, not only its headings
    page = html.unescape(demo.client.get("/versions/999999?lang=bn").text)
    assert "সংস্করণ ৯৯৯৯৯৯ নেই" in page  # a number in a text: in Bangla digits
    assert "there is no version" not in page
    # SDMX REST: the English texts stay (machines read them), the Nepali ones follow, marked
    bad = demo.client.get(
        "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?startPeriod=nope", headers={"Accept-Language": "ne"}
    )
    assert bad.status_code == 400
    assert '<com:Text xml:lang="en">startPeriod=nope is not a time period</com:Text>' in bad.text
    assert '<com:Text xml:lang="ne">startPeriod=nope समय अवधि होइन</com:Text>' in bad.text
    plain = demo.client.get("/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?startPeriod=nope")
    assert 'xml:lang="ne"' not in plain.text
    as_json = demo.client.get(
        "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all?startPeriod=nope&format=jsondata&lang=sw"
    )
    assert "si kipindi cha muda" in as_json.text, as_json.text[:300]
    # a web filter naming no dimension, in Swahili
    split = html.unescape(demo.client.get(f"{FLOW}?by=NOPE&lang=sw").text)
    assert "chati haziwezi kugawanywa kwa 'NOPE'" in split


def test_a_workflow_conflict_says_what_may_come_next_in_any_language(demo: Demo) -> None:
    vid = demo.published["kenya-health-scorecard"]
    with demo.session() as s:
        amina = Principal.of(orgs.get_user(s, username="amina"))
        with pytest.raises(Conflict) as raised:
            submissions.submit(s, principal=amina, version_id=vid)
    problem, _fix = raised.value.texts(translator("sw"))
    assert problem.startswith("toleo 1 la 'ke-health-scorecard-2024' ni published"), problem
    assert "is published" in raised.value.problem  # the English as before
    assert raised.value.problem.startswith("version 1 of 'ke-health-scorecard-2024' is published")


def _error_box(page: str) -> str:
    start = page.index('<div class="error-box">')
    return page[start : page.index("</div>", start)]


@pytest.mark.parametrize(("lang", "stop"), [("ne", "।"), ("bn", "।"), ("sw", "."), ("en", ".")])
def test_the_pages_end_their_composed_sentences_with_the_languages_full_stop(
    demo: Demo, lang: str, stop: str
) -> None:
    """Where a page makes a sentence of a text (the error page's problem, the count of matching
    observations, a chart's unit), it ends it with the language's full stop: the danda "।" in
    Nepali and Bangla, never a "." glued after it (nor both)."""
    box = _error_box(html.unescape(demo.client.get(f"/versions/999999?lang={lang}").text))
    what_went_wrong = box.split("</p>")[0]
    assert what_went_wrong.endswith(stop), what_went_wrong
    assert not what_went_wrong.endswith(("।.", "..", ".।"))
    if stop == "।":
        assert not what_went_wrong.endswith(".")
    flow = html.unescape(demo.client.get(f"{FLOW}?lang={lang}").text)
    match = flow.split("</code> · ", 1)[1].split("</p>", 1)[0]
    assert match.endswith(stop), match
    assert not match.endswith("।.")


def test_the_signed_in_line_is_one_sentence_in_nepali_word_order(demo: Demo) -> None:
    """The name sits where the language puts it ("amina को रूपमा साइन इन"), not after an English
    order of fragments; the markup around it is kept and nothing else is unescaped."""
    from tests.unit.server.test_web import sign_in

    sign_in(demo.client, demo.keys["amina"])
    page = demo.client.get("/submissions?lang=ne").text
    assert "<strong>amina</strong> को रूपमा साइन इन (" in page
    english = demo.client.get("/submissions?lang=en").text
    assert "Signed in as <strong>amina</strong> (" in english


def test_fill_escapes_the_message_and_the_plain_parts_and_keeps_markup_parts() -> None:
    from markupsafe import Markup

    from cgd_bridge.server.web.pages import _fill

    out = _fill("<i>{user}</i> at {org}", user=Markup("<strong>a&b</strong>"), org="<script>")
    assert out == "&lt;i&gt;<strong>a&b</strong>&lt;/i&gt; at &lt;script&gt;"


def test_the_sentence_filter_ends_markup_and_text_alike_and_escapes_text() -> None:
    """A sentence composed in a template (a ``{% set %}`` block with a link) gets the danda
    outside its markup; a plain text is escaped; a stop already there is not doubled."""
    from cgd_bridge.server.web.pages import ENV

    page = ENV.from_string(
        '{% set s %}<a href="/x">{{ who }}</a> (2).{% endset %}{{ s|sentence }} | {{ text|sentence }}'
    )
    ne = page.render(_=translator("ne"), who="KNBS & co", text="a<b।")
    assert ne == '<a href="/x">KNBS &amp; co</a> (2)। | a&lt;b।'
    en = page.render(_=translator("en"), who="KNBS", text="done")
    assert en == '<a href="/x">KNBS</a> (2). | done.'
