"""The submit page's report in Bangla (#17): counts and the finding texts' numbers in Bengali
digits (CLDR's default numbering system for bn), while every machine part of the page (the
HTML attributes, the links) and the downloaded JSON report's numbers are those of English."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from cgd_bridge.i18n import translator
from tests.support.json_numbers import json_numbers
from tests.unit.server.test_web import Demo
from tests.unit.server.test_web_report import _check_wrong_mapping

BENGALI = set("০১২৩৪৫৬৭৮৯")
EN = {"Accept-Language": "en"}
BN = {"Accept-Language": "bn-BD,bn;q=0.9,en;q=0.5"}


def _attributes(page: str) -> list[tuple[str, str]]:
    """The machine attributes of the page: links, ids, form names and values, and the ``data-``
    ones with a number in them (Python's ``\\d`` is any script's digit; the others are messages
    the page's script shows); the per-request ones (the CSRF token, the report's links) left out."""
    found = re.findall(r'\s(href|src|value|id|name|for|action|data-[a-z-]+)="([^"]*)"', page)
    return [
        (k, v)
        for k, v in found
        if (not k.startswith("data-") or re.search(r"\d", v))
        and "/reports/" not in v
        and not re.fullmatch(r"[A-Za-z0-9_.=-]{20,}", v)
    ]


def _json_report(demo: Demo, page: str) -> dict[str, Any]:
    link = re.findall(r'href="(/reports/[A-Za-z0-9_-]+\.json)"', page)
    assert link, "no JSON report link"
    got = demo.client.get(link[0])
    assert got.status_code == 200
    return json.loads(got.content)


def test_the_bangla_report_page_counts_in_bengali_digits_and_keeps_machine_numbers(demo: Demo) -> None:
    en = _check_wrong_mapping(demo, EN)
    bn = _check_wrong_mapping(demo, BN)
    assert en.status_code == bn.status_code == 422
    bn_page = html.unescape(bn.text)
    t = translator("bn")
    # a finding's text with its row number, as the person reads it
    assert "সারি ২" in bn_page
    # each finding's count in the heading, the English page's count in Bengali digits
    counted = re.findall(r"<small>\((\d+), <code>([a-z-]+)</code>\)</small>", en.text)
    assert "constraint-error" in {code for _n, code in counted}
    assert counted
    for n, code in counted:
        assert f"<small>({t.number(int(n))}, <code>{code}</code>)</small>" in bn.text
    assert "<small>(৫৯৮, <code>constraint-error</code>)</small>" in bn.text
    # every attribute (data-code, data-cause, ids, hrefs, form values) is the English page's
    assert _attributes(bn.text) == _attributes(en.text)
    assert len(_attributes(en.text)) > 20
    assert not BENGALI & set("".join(v for _k, v in _attributes(bn.text)))
    # the downloaded JSON report: the same numbers, the texts in Bangla digits
    en_json, bn_json = _json_report(demo, en.text), _json_report(demo, bn.text)
    numbers = [(p, v) for p, v in json_numbers(en_json) if p != "/stats/seconds"]
    assert len(numbers) > 10
    assert numbers == [(p, v) for p, v in json_numbers(bn_json) if p != "/stats/seconds"]
    assert BENGALI & set(json.dumps(bn_json, ensure_ascii=False))


def test_a_swahili_report_page_keeps_latin_digits(demo: Demo) -> None:
    sw = _check_wrong_mapping(demo, {"Accept-Language": "sw"})
    assert sw.status_code == 422
    assert not BENGALI & set(sw.text)
    assert not set("०१२३४५६७८९") & set(sw.text)
    assert translator("sw")("row {row}", row=2) in html.unescape(sw.text)
