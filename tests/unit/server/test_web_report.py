"""The submit page after a check (#17): the report opens with the most likely cause, in the
person's language (Accept-Language), with no English finding text left, and the full report can
be downloaded as HTML and JSON, by the person who checked the files only."""

from __future__ import annotations

import html
import json
import re

from markupsafe import escape

from cgd_bridge.i18n import translator
from cgd_bridge.pipeline import validate
from tests.support.paths import ROOT
from tests.unit.server.test_web import KENYA, Demo, csrf, sign_in

NEPAL = ROOT / "examples" / "nepal-youth-survey"
SW = {"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"}


def _check_wrong_mapping(demo: Demo, headers: dict[str, str]):
    """A CSO checks a Kobo export (Nepal) against the Kenya scorecard's mapping."""
    c = demo.client
    sign_in(c, demo.keys["amina"])
    form = {
        "csrf_token": csrf(c, "/submit"),
        "mapping_choice": "kenya-health-scorecard.yaml",
        "action": "check",
    }
    upload = {
        "data": ("data.xlsx", (NEPAL / "data.xlsx").read_bytes(), "application/octet-stream"),
        "metadata": ("quality.yaml", (KENYA / "quality.yaml").read_bytes(), "application/yaml"),
    }
    return c.post("/submit", data=form, files=upload, headers=headers)


def _english_texts() -> set[str]:
    """Every finding's problem and fix of the same check in English (the words to look for)."""
    report = validate(
        NEPAL / "data.xlsx",
        metadata=KENYA / "quality.yaml",
        mapping=ROOT / "mappings" / "kenya-health-scorecard.yaml",
    )
    texts = set()
    for f in report.findings:
        texts.update(t for t in f.texts() if t)
    return texts


def test_the_page_opens_with_the_cause_in_swahili_and_no_english_finding_text(demo: Demo) -> None:
    r = _check_wrong_mapping(demo, SW)
    assert r.status_code == 422, r.text[:2000]
    page = r.text
    sw = translator("sw")
    assert '<html lang="sw"' in page
    assert 'data-cause="wrong-mapping"' in page
    assert (
        str(escape(sw("Most likely cause: {title}", title=sw("The mapping does not fit this file")))) in page
    )
    # the cause comes before the row-level findings, which follow under it
    assert page.index('data-cause="wrong-mapping"') < page.index('data-code="constraint-error"')
    assert "Safu 5 kati ya 7 ambazo mapping hii inatarajia hazipo" in html.unescape(page)
    text = html.unescape(page)
    left = sorted(t for t in _english_texts() if t in text)
    assert not left, f"English finding texts on the Swahili page: {left[:5]}"


def test_the_findings_long_descriptions_are_in_swahili_with_no_english_paragraph(demo: Demo) -> None:
    """Under each finding's title, its long description (what it means, why it matters) is read
    from the catalogue: no paragraph falls back to English (``lang="en"``)."""
    from cgd_bridge.findings import CHECKS

    r = _check_wrong_mapping(demo, SW)
    assert r.status_code == 422, r.text[:2000]
    text = html.unescape(r.text)
    codes = set(re.findall(r'data-code="([a-z0-9-]+)"', r.text)) & set(CHECKS)
    assert {"constraint-error", "missing-column"} <= codes
    sw = translator("sw")
    for code in codes:
        english = CHECKS[code].description
        assert english not in text, f"{code}: the English description is on the Swahili page"
        assert sw(english) != english, code
        assert sw(english) in text, code
    assert 'lang="en"' not in r.text


def test_the_full_report_downloads_as_html_and_json_for_who_checked(demo: Demo) -> None:
    r = _check_wrong_mapping(demo, SW)
    links = re.findall(r'href="(/reports/[A-Za-z0-9_-]+\.(?:html|json))"', r.text)
    assert len(links) == 2, "the page links the full report as HTML and JSON"
    page_html, page_json = sorted(links)
    c = demo.client
    got = c.get(page_json)
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    data = json.loads(got.content)
    assert data["cgd:lang"] == "sw"
    assert data["diagnosis"]["code"] == "wrong-mapping"
    assert data["stats"]["errors"] > 500  # the full report, not the page's excerpt
    counted = {c["code"]: c["count"] for c in data["cgd:counts"]}
    assert counted["constraint-error"] == 598
    assert all(e["message"] for t in data["tasks"] for e in t["errors"])
    got = c.get(page_html)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/html")
    assert 'data-cause="wrong-mapping"' in got.text
    assert '<html lang="sw"' in got.text
    # another person, or nobody, cannot read it; a made-up token is not found
    c.post("/sign-out", data={"csrf_token": csrf(c, "/")})
    c.cookies.clear()
    assert c.get(page_json, follow_redirects=False).status_code in (303, 401, 403)
    sign_in(c, demo.keys["sita"])
    assert c.get(page_json).status_code == 404
    assert c.get("/reports/" + "x" * 32 + ".json").status_code == 404
    assert c.get(page_json.replace(".json", ".txt")).status_code == 404


def test_a_file_error_on_the_submit_page_is_in_the_page_language(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    form = {
        "csrf_token": csrf(c, "/submit"),
        "mapping_choice": "nepal-youth-survey.yaml",
        "action": "check",
        "sheet": "Karatasi2",
    }
    upload = {
        "data": ("data.xlsx", (NEPAL / "data.xlsx").read_bytes(), "application/octet-stream"),
        "metadata": ("quality.yaml", (NEPAL / "quality.yaml").read_bytes(), "application/yaml"),
    }
    r = c.post("/submit", data=form, files=upload, headers=SW)
    assert r.status_code == 400, r.text[:2000]
    sw = translator("sw")
    text = html.unescape(r.text)
    assert sw("there is no sheet called '{sheet}'", sheet="Karatasi2") in text
    assert "there is no sheet" not in text
