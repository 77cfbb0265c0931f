"""The catalogues (Babel/gettext): complete, current, faithful to their placeholders; the
report's findings translated template first and formatted after; plural forms, numbers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import cgd_bridge.checks  # noqa: F401 - registers the finding codes and titles
from cgd_bridge import i18n
from cgd_bridge.findings import Finding, Report, Severity
from cgd_bridge.i18n_tools import POT, extract, pot_text
from cgd_bridge.render import render_html, render_json, render_text

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("sw", "ne", "bn")


def _ids(catalog: object) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}  # type: ignore[attr-defined]


def _po(lang: str) -> object:
    with i18n.po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def test_the_template_is_current_with_the_code() -> None:
    """Re-extract with Babel as babel.cfg says; the committed .pot must hold the same texts."""
    with POT.open("rb") as fh:
        committed = read_po(fh)
    fresh = extract()
    missing = _ids(fresh) - _ids(committed)
    stale = _ids(committed) - _ids(fresh)
    run = (
        "Run: python -m cgd_bridge.i18n_tools extract && python -m cgd_bridge.i18n_tools update, "
        "then translate what the update marks."
    )
    assert not missing, (
        f"messages.pot lacks {len(missing)} text(s), e.g. {sorted(map(str, missing))[:3]}. {run}"
    )
    assert not stale, f"messages.pot has {len(stale)} gone text(s), e.g. {sorted(map(str, stale))[:3]}. {run}"
    assert pot_text(fresh).count("msgid ") == POT.read_text(encoding="utf-8").count("msgid ")


def test_the_template_has_every_kind_of_text() -> None:
    with POT.open("rb") as fh:
        ids = _ids(read_po(fh))
    assert "Sign in with the key" in ids  # a page template
    assert "Blank column name" in ids  # a finding title (register's 4th argument)
    assert "the schema declares a column '{column}' that the file does not have" in ids  # a finding
    assert (
        "Fill in the value; if it is unknown, ask the NSO which code to use (often _U for 'unknown')." in ids
    )
    assert ("{n} error(s)", "{n} error(s)") in ids  # a plural
    from cgd_bridge.server.web.metadata_form import texts

    assert texts() <= ids  # the metadata form's labels and help


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_catalogue_translates_every_message(lang: str) -> None:
    assert lang in i18n.offered()
    with POT.open("rb") as fh:
        template = read_po(fh)
    po = _po(lang)
    have = {(m.id if isinstance(m.id, str) else tuple(m.id)): m for m in po if m.id}  # type: ignore[attr-defined]
    lacking = []
    for m in template:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else tuple(m.id)
        got = have.get(key)
        strings = (got.string if isinstance(got.string, tuple | list) else [got.string]) if got else []
        if got is None or got.fuzzy or not strings or not all(strings):
            lacking.append(key)
    assert not lacking, f"the {lang} catalogue lacks {len(lacking)} message(s), e.g. {lacking[:5]}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_translations_keep_the_placeholders_of_their_message(lang: str) -> None:
    wrong = []
    for m in _po(lang):  # type: ignore[attr-defined]
        if not m.id or not m.string:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        expected = i18n.placeholders(ids[0]) | (i18n.placeholders(ids[-1]) if len(ids) > 1 else set())
        # a plural's forms may each give what their English form gives ("Did you mean {one}?",
        # "one of: {several}"): each form uses only the message's placeholders, all of them together
        used = [i18n.placeholders(s) for s in strings]
        if any(u - expected for u in used) or set().union(*used) != expected:
            wrong.append((ids[0], strings))
        for s in strings:
            s.format(**dict.fromkeys(expected, "x"))  # formats without error
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("lang", SHIPPED)
def test_catalogues_are_marked_for_review_by_a_native_speaker(lang: str) -> None:
    head = i18n.po_path(lang).read_text(encoding="utf-8")[:800]
    assert "awaiting review by a native speaker" in head
    assert re.search(rf'"Language: {lang}\\n"', head)
    assert "Plural-Forms:" in head


def test_missing_texts_fall_back_to_english() -> None:
    sw = i18n.translator("sw")
    assert sw("not in any catalogue: {x}", x=3) == "not in any catalogue: 3"
    assert i18n.translator("xx").lang == "en"


def test_finding_templates_are_translated_and_the_data_is_not() -> None:
    """The column is called like a message id; it must stay as the person wrote it."""
    f = Finding.of(
        "missing-column",
        Severity.ERROR,
        "the schema declares a column '{column}' that the file does not have",
        "Add the column to the data, or remove it from the mapping's schema.",
        {"column": "Sign in", "close": ""},
        file="d.csv",
        row=1,
        field="Sign in",
    )
    sw = i18n.translator("sw")
    problem, fix = f.texts(sw)
    assert "'Sign in'" in problem
    assert "Ingia" not in problem
    assert problem != f.problem
    assert fix != f.fix
    assert f.message.startswith("d.csv, row 1, column 'Sign in': the schema declares")
    assert f.message_in(sw).startswith("d.csv, " + sw("row {row}", row=1))
    d = f.to_dict(sw)
    assert d["type"] == "missing-column"
    assert d["fix"] == fix
    assert d["cgd:english"]["fix"] == f.fix
    assert d["cgd:template"]["params"]["column"] == "Sign in"


def test_fixed_texts_are_their_own_message_ids() -> None:
    f = Finding(
        "blank-row",
        Severity.WARNING,
        "the row is empty",
        "Delete the empty row (or fill it in if data is missing).",
    )
    problem, _fix = f.texts(i18n.translator("ne"))
    assert problem == i18n.translator("ne")("the row is empty") != "the row is empty"


def test_plural_forms_numbers_and_dates() -> None:
    import datetime as dt

    en, sw = i18n.translator("en"), i18n.translator("sw")
    assert en.ngettext("{n} error(s)", "{n} error(s)", 1) == "1 error(s)"
    assert sw.ngettext("{n} error(s)", "{n} error(s)", 1) != sw.ngettext(
        "{n} error(s)", "{n} error(s)", 2
    ).replace("2", "1")
    assert en.number(1234567.5) == "1,234,567.5"
    # Indian grouping (CLDR) in Bangla's own digits (its default numbering system is beng)
    assert i18n.translator("bn").number(1234567) == "১২,৩৪,৫৬৭"
    assert "2024" in sw.date(dt.date(2024, 3, 31))
    assert "Machi" in sw.date(dt.date(2024, 3, 31), "long")
    assert sw.direction == "ltr"


def test_nepali_and_bangla_write_their_own_digits_swahili_and_english_latin() -> None:
    import datetime as dt

    en, sw, ne, bn = (i18n.translator(x) for x in ("en", "sw", "ne", "bn"))
    assert ne.number(1234567.5) == "१२,३४,५६७.५"
    assert bn.number(1234567.5) == "১২,৩৪,৫৬৭.৫"
    assert sw.number(1234567.5) == en.number(1234567.5) == "1,234,567.5"
    assert (en.percent(0.25), sw.percent(0.25), ne.percent(0.25), bn.percent(0.25)) == (
        "25%", "25%", "२५%", "২৫%"
    )  # fmt: skip
    when = dt.datetime(2024, 3, 31, 14, 30)
    assert ne.date(when) == "२०२४ मार्च ३१ १४:३०"
    assert bn.date(dt.date(2024, 3, 31)) == "৩১ মার্চ, ২০২৪"
    assert sw.date(dt.date(2024, 3, 31)) == "31 Mac 2024"
    # the plural's {n}, and any number given to a message, in the locale's digits
    assert "३" in ne.ngettext("{n} error", "{n} errors", 3)
    assert "3" not in ne.ngettext("{n} error", "{n} errors", 3)
    assert bn.gettext("version {n}", n=12).endswith("১২")
    assert sw.gettext("version {n}", n=12).endswith("12")
    # a number as a message shows it (a version, a row, a year): no grouping
    assert ne.gettext("Version {n}", n=2024) == ne.gettext("Version {n}", n="२०२४")
    # data and texts keep their digits: only numbers are written in the locale's
    assert "v2" in bn.gettext("Version {n}", n="v2")
    assert bn.template("{where} is empty", {"where": "column 7"}).startswith("column 7")
    for t in (en, sw, ne, bn):
        assert t.parse_number(t.number(1234567.5)) == 1234567.5


def test_every_offered_language_has_its_default_digits() -> None:
    """A language whose CLDR numbering system is missing from NUMBERING_SCRIPTS would silently
    write Latin digits: every offered language is ``latn`` or known."""
    import unicodedata

    for lang in i18n.offered():
        system = i18n.numbering_system(lang)
        assert system == "latn" or system in i18n.NUMBERING_SCRIPTS, (lang, system)
        digits = i18n.digits(lang)
        assert [unicodedata.decimal(d) for d in digits] == list(range(10)), lang
    assert i18n.numbering_system("ne") == "deva"
    assert i18n.numbering_system("bn") == "beng"
    assert i18n.numbering_system("sw") == "latn"


def _report() -> Report:
    r = Report()
    r.add(
        Finding.of(
            "blank-header", Severity.ERROR, "column {number} has no name",
            "Type a name in row 1 of that column, or delete the column if it is empty.",
            {"number": 3}, file="d.csv", row=1,
        )
    )  # fmt: skip
    return r


def test_the_report_renders_in_swahili_text_json_and_html() -> None:
    sw = i18n.translator("sw")
    fix = sw("Type a name in row 1 of that column, or delete the column if it is empty.")
    text = render_text(_report(), t=sw)
    assert fix in text
    assert sw("Blank column name") in text
    assert "blank-header" in text
    data = json.loads(render_json(_report(), t=sw))
    err = data["tasks"][0]["errors"][0]
    assert err["type"] == "blank-header"
    assert err["fix"] == fix
    assert err["cgd:english"]["fix"].startswith("Type a name")
    assert data["cgd:lang"] == "sw"
    page = render_html(_report(), sw)
    assert '<html lang="sw" dir="ltr">' in page
    from markupsafe import escape

    assert str(escape(fix)) in page


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_finding_code_has_its_long_description_translated(lang: str) -> None:
    """The descriptions (register's 5th argument) are catalogue messages: the HTML report and the
    JSON ``description`` carry the translation, not the English paragraph."""
    from cgd_bridge.findings import CHECKS

    t = i18n.translator(lang)
    untranslated = [code for code, spec in CHECKS.items() if t(spec.description) == spec.description]
    assert not untranslated, f"{lang}: no translated description for {untranslated[:5]}"
    english = CHECKS["blank-header"].description
    page = render_html(_report(), t)
    assert english not in page
    from markupsafe import escape

    assert f"<p>{escape(t(english))}</p>" in page
    data = json.loads(render_json(_report(), t=t))
    assert data["tasks"][0]["errors"][0]["description"] == t(english)


def test_cli_validate_lang_sw_shows_swahili_fixes() -> None:
    case = ROOT / "examples" / "broken" / "missing-value"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    p = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "validate", str(case / "data.csv"), "--lang", "sw",
         "--metadata", str(ROOT / "examples/kenya-health-scorecard/quality.yaml"),
         "--mapping", str(ROOT / "mappings/kenya-health-scorecard.yaml")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    sw = i18n.translator("sw")
    assert (
        sw("Fill in the value; if it is unknown, ask the NSO which code to use (often _U for 'unknown').")
        in p.stdout
    )
    assert p.stdout.startswith(sw("NOT VALID"))
    assert "missing-value" in p.stdout  # the code stays
    bad = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "checks", "--lang", "xx"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert "en, bn, ne, sw" in bad.stderr


def test_redacted_privacy_findings_keep_no_template_parameters_or_english() -> None:
    """The report a non-owner reads withholds what privacy findings quote (#12); the template's
    parameters and the English copy quote it too."""
    from cgd_bridge.store.published import redact_report

    r = Report()
    r.add(
        Finding.of(
            "pii-column", Severity.ERROR, "{problem}", "Remove the {what} from these answers.",
            {"problem": "the column 'notes' holds phone numbers: +254712345678", "what": "phone numbers"},
            file="d.csv", field="notes",
        )
    )  # fmt: skip
    stored = r.to_dict(i18n.translator("sw"))
    assert "+254712345678" in json.dumps(stored)
    shown = redact_report(stored)
    assert "+254712345678" not in json.dumps(shown, ensure_ascii=False)


def test_a_sentence_ends_with_the_languages_own_full_stop() -> None:
    """Nepali and Bangla end a sentence with the danda; a stop already there is replaced, not
    doubled; a question keeps its mark."""
    ne, bn, sw = (i18n.translator(x) for x in ("ne", "bn", "sw"))
    assert ne.sentence("फाइल खाली छ") == "फाइल खाली छ।"
    assert ne.sentence("फाइल खाली छ.") == "फाइल खाली छ।"
    assert bn.sentence("ফাইলটি খালি।") == "ফাইলটি খালি।"
    assert sw.sentence("faili ni tupu।") == "faili ni tupu."
    assert i18n.ENGLISH.sentence("  the file is empty  ") == "the file is empty."
    assert ne.sentence("के यो सही हो?") == "के यो सही हो?"
    assert ne.sentence("") == ""
