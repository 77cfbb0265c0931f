"""The web pages in a real browser (issue #5): Debian's headless Chromium driven by Playwright
against a real ``cgd-bridge serve`` on 127.0.0.1, with axe-core run on every main page.

The CSO signs in, fills the metadata form from a file (a wrong value is marked, the record is
saved as YAML and as a draft on the server), uploads a broken Kenya dataset and reads the report
(filtering it), uploads the Kenya example as a new version and submits it; the NSO signs in with
a password, finds it in the inbox, reviews it, loads an official series (a bad file first:
marked at its field) and sees it beside the CGD series in the charts, accepts and publishes it;
the public filters the dataflow and downloads it. Every page visited is checked with axe-core
(all WCAG 2.x A/AA rules and best practices): any violation fails the test, naming the rule, the
elements and the help text. The API documentation (/docs) renders with every request to
another host aborted, under its own Content-Security-Policy.

Chromium comes from Debian (``apt-get install chromium``; scripts/test installs it when it is
missing). Without it the test fails under CI (``CI=true``) and is skipped locally, saying so.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.official import broken_csv, official_csv
from tests.support.paths import ROOT
from tests.support.server import LiveServer, live_server
from tests.support.untranslated import PAGE_TEXT, EnglishFinder, shown_as_they_are

KENYA = ROOT / "examples" / "kenya-health-scorecard"
BROKEN = ROOT / "examples" / "broken" / "total-mismatch" / "data.csv"
FLOW = "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0"


def chromium_path() -> str:
    """Debian's chromium, or fail (CI) / skip (locally) with the fix."""
    found = os.environ.get("CGD_BRIDGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if Path(found).is_file():
        return found
    why = (
        f"Chromium is not installed ({found} is missing): run `apt-get install -y chromium` "
        "(scripts/test does it), or set CGD_BRIDGE_CHROMIUM to its path"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(why)
    pytest.skip(why)


def axe_source() -> str:
    """axe-core's axe.min.js as shipped inside the axe-playwright-python wheel (no download)."""
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail("axe-playwright-python is not installed: pip install -e '.[test]' (scripts/test does it)")
    path = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    if not path.is_file():
        pytest.fail(f"{path} is missing: reinstall axe-playwright-python")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("web-live")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium launched headless by Playwright (skips or fails as :func:`chromium_path`
    says where it is missing), closed afterwards: the browser of every browser test."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


#: the smallest chart text a person should have to read, in CSS pixels as drawn (#17)
MIN_CHART_TEXT_PX = 11
#: the layout facts of a page: sideways scrolling, and the smallest chart text as drawn (the
#: computed font size times the scale the SVG is drawn at, so a shrinking viewBox counts)
LAYOUT = """() => {
  const texts = [...document.querySelectorAll('svg.chart text')].filter(t => t.getClientRects().length);
  const sizes = texts.map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
  const wide = [...document.querySelectorAll('body *')].filter(e =>
      e.getBoundingClientRect().right > window.innerWidth + 1
      && !e.closest('.scroll, .code-list, svg, .visually-hidden, .skip'));
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
          charts: document.querySelectorAll('svg.chart').length, texts: texts.length,
          smallest: sizes.length ? Math.min(...sizes) : null,
          wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.id || ''))};
}"""


class Checked:
    """A browser page whose every visited page is checked with axe-core, for sideways
    scrolling, for the size of its chart text, for its ``lang`` and, in a language other than
    English, for English left untranslated (``finder``)."""

    def __init__(self, page: Any, axe: str, lang: str = "en", finder: EnglishFinder | None = None) -> None:
        self.page = page
        self.axe = axe
        self.lang = lang
        self.finder = finder
        self.checked: list[str] = []
        self.chart_pages: list[str] = []

    def check(self, name: str) -> None:
        assert self.page.get_attribute("html", "lang") == self.lang, f"{name}: <html lang> is not {self.lang}"
        if self.finder is not None:
            english = self.finder.english_in(self.page.evaluate(PAGE_TEXT, self.lang))
            assert not english, (
                f"{name} ({self.page.url}) shows English on a page in {self.lang!r} (words of the "
                "catalogue's English that the translation does not use; add the text to the catalogue, "
                "or mark data with its lang):\n" + "\n".join(english)
            )
        layout = self.page.evaluate(LAYOUT)
        assert layout["scrollWidth"] <= layout["innerWidth"], (
            f"{name} scrolls sideways at {layout['innerWidth']} px: the page is {layout['scrollWidth']} px "
            f"wide ({layout['wide']})"
        )
        if layout["charts"]:
            assert layout["texts"], f"{name}: a chart without text"
            assert layout["smallest"] >= MIN_CHART_TEXT_PX, (
                f"{name}: chart text drawn at {layout['smallest']:.1f} px at {layout['innerWidth']} px wide"
            )
            self.chart_pages.append(name)
        self.page.add_script_tag(content=self.axe)
        result = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations'], "
            "runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', "
            "'best-practice']}})"
        )
        problems = [
            f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"]
        ]
        assert not problems, (
            f"axe-core found accessibility violations on {name} ({self.page.url}):\n" + "\n".join(problems)
        )
        self.checked.append(name)


@contextlib.contextmanager
def checked_tab(
    browser: Any, width: int, lang: str = "en", finder: EnglishFinder | None = None
) -> Iterator[Checked]:
    """A fresh browser (no cookies) at ``width``; its ``Accept-Language`` is ``lang`` (a browser
    set to Swahili sends ``sw-KE``), so the pages choose the language as they would for a person."""
    # bypass_csp lets the test inject axe-core; the pages themselves allow no inline script
    phone = width < 600
    context = browser.new_context(
        bypass_csp=True,
        accept_downloads=True,
        viewport={"width": width, "height": 800 if phone else 900},
        is_mobile=phone,
        has_touch=phone,
        locale={"en": "en-GB", "sw": "sw-KE", "ne": "ne-NP"}.get(lang, lang),
    )
    try:
        yield Checked(context.new_page(), axe_source(), lang, finder)
    finally:
        context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Checked]:
    with checked_tab(browser, 1200) as t:
        yield t


@pytest.fixture(scope="module")
def journey_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for every run of the journey: each run submits a new version of the Kenya
    example, and accepts and publishes it, so the runs do not need a fresh database."""
    data_dir = tmp_path_factory.mktemp("journeys")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


def navigate(page: Any, selector: str) -> None:
    """Click ``selector`` and wait for the page it leads to (a form post and its redirect)."""
    with page.expect_navigation():
        page.click(selector)


def press(page: Any, name: str) -> None:
    """Press the button called ``name`` (as a person reads it) and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).first.click()


def sign_in_with_key(t: Checked, url: str, key: str) -> None:
    t.page.goto(f"{url}/sign-in")
    t.page.fill("#api_key", key)
    navigate(t.page, "button:has-text('Sign in with the key')")


def upload(t: Checked, data: Path, note: str, *, metadata: bool = True) -> None:
    p = t.page
    p.set_input_files("#data", str(data))
    if metadata:
        p.set_input_files("#metadata", str(KENYA / "quality.yaml"))
    p.select_option("#mapping_choice", "kenya-health-scorecard.yaml")
    p.fill("#revision_note", note)
    navigate(p, "button[value=submit]")


def said(lang: str, text: str, **known: object) -> re.Pattern[str]:
    """What the page says for the message ``text`` in ``lang``: its translation, with the
    placeholders given in ``known`` filled in as the language writes them (a number in its
    digits) and any other matching any text."""
    from cgd_bridge.i18n import translator

    t = translator(lang)
    translated = t.gettext(text)
    pattern = re.escape(translated)
    for name in re.findall(r"\{(\w+)\}", translated):
        value = re.escape(str(t.value(known[name]))) if name in known else ".+?"
        pattern = pattern.replace(re.escape("{" + name + "}"), value)
    return re.compile(pattern)


#: what the journey types, in each language (a person in Kisumu writes the notes in Swahili)
TYPED = {
    "en": {"note": "Kilifi tallies reconciled.", "comment": "Consistent with version 1."},
    "sw": {"note": "Hesabu za Kilifi zimepatanishwa.", "comment": "Inalingana na toleo la 1."},
    "ne": {"note": "किलिफीका गणना मिलान गरियो।", "comment": "संस्करण १ सँग मेल खान्छ।"},
}


@pytest.fixture(scope="module")
def shown_texts() -> set[str]:
    return shown_as_they_are(
        *(t for typed in TYPED.values() for t in typed.values()), "KNBS KDHS 2022", "not an address"
    )


@pytest.mark.parametrize(
    ("lang", "width"),
    [pytest.param(lang, width, id=f"{lang}-{name}")
     for lang, width, name in (("en", 360, "phone-360"), ("en", 1280, "desktop-1280"),
                               ("sw", 360, "phone-360"), ("sw", 1280, "desktop-1280"),
                               ("ne", 360, "phone-360"))],
)  # fmt: skip
def test_cso_submits_nso_accepts_public_downloads(
    journey_site: LiveServer, browser: Any, tmp_path: Path, width: int, lang: str, shown_texts: set[str]
) -> None:
    """The three journeys, in English and in Swahili at a phone's width and a desktop's, and in
    Nepali (Devanagari, its danda) on a phone (#17): every page is axe-core clean, none scrolls
    sideways, no chart text is drawn below 11 px, every page says it is in the language chosen,
    and a Swahili or Nepali page shows no English of ours."""
    finder = EnglishFinder(lang, data=shown_texts) if lang != "en" else None
    with checked_tab(browser, width, lang, finder) as tab:
        _journey(journey_site, tab, tmp_path, lang)
        assert len(tab.checked) == 21
        assert tab.chart_pages  # the charts were measured, not skipped


def test_the_english_finder_finds_english(shown_texts: set[str]) -> None:
    """The check above can fail: a Swahili page with a text the catalogue lacks is caught, while
    the data's English names and codes are not."""
    finder = EnglishFinder("sw", data=shown_texts)
    page = "Data zilizochapishwa\nDownload the chart (SVG)\nPersons with disability, Both sexes o…\nREF_AREA"
    assert finder.english_in(page) == ["Download, the, chart: 'Download the chart (SVG)'"]
    assert finder.english_in("Pakua chati (SVG)\nKisumu KE_042\nSauti ya Walemavu Health Watch") == []
    # a request id is no English, whatever words its hexadecimal spells ("bad", "be")
    assert finder.english_in("Taja kitambulisho hiki cha ombi: 0c15bad98aec46f08f377b91f1b9be3e") == []


def _journey(site: LiveServer, tab: Checked, tmp_path: Path, lang: str) -> None:
    from cgd_bridge.i18n import translator
    from cgd_bridge.server.demo import DEMO_PASSWORD

    T = translator(lang).gettext  # the catalogue's _, as the pages use it
    typed = TYPED[lang]
    p, url = tab.page, site.url
    # home: skip link first in the tab order, and it moves focus to the main content
    p.goto(f"{url}/")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.textContent").strip() == T("Skip to main content")
    p.keyboard.press("Enter")
    assert p.evaluate("document.activeElement.id") == "main"
    tab.check("home")

    # sign-in errors: an error summary linked to the field
    p.goto(f"{url}/sign-in")
    tab.check("sign-in")
    p.fill("#api_key", "not-a-key")
    press(p, T("Sign in with the key"))
    assert p.is_visible(".error-summary a[href='#api_key']")
    assert p.get_attribute("#api_key", "aria-invalid") == "true"
    tab.check("sign-in with an error")

    # the CSO signs in (keyboard only: type the key, press Enter)
    p.fill("#api_key", site.keys["amina"])
    p.press("#api_key", "Enter")
    p.wait_for_url(f"{url}/submissions")
    assert "ke-health-scorecard-2024" in p.content()
    tab.check("my submissions")

    # the metadata form: load the example, break a field, see it marked, save the YAML
    p.goto(f"{url}/metadata")
    tab.check("metadata form")
    p.set_input_files("#existing", str(KENYA / "quality.yaml"))
    navigate(p, "button[value=load]")
    complete = said(
        lang,
        "The metadata is complete for submission. Submit data with it, or save it as a draft.",
    )  # a CSO's words: the record's next step is there
    assert complete.search(p.inner_text("main"))
    assert p.input_value("#md-dataset-id") == "ke-health-scorecard-2024"
    p.click("#step-collection > summary")  # the steps are complete, closed: open the second
    p.fill("#md-producer-contact-email", "not an address")
    navigate(p, "button[value=check]")
    assert p.evaluate("document.activeElement.id") == "error-summary"
    assert p.get_attribute("#md-producer-contact-email", "aria-invalid") == "true"
    tab.check("metadata form with an error")
    p.fill("#md-producer-contact-email", "data@example.org")
    with p.expect_download() as saved:
        p.click("button[value=save]")
    assert "contact_email: data@example.org" in Path(saved.value.path()).read_text(encoding="utf-8")
    # ... and as a draft on the server, listed with who saved it, resumed into the form
    navigate(p, "button[value=store]")
    assert said(lang, "The draft '{name}' was saved on the server.").search(p.inner_text("main"))
    drafts = p.locator("section[aria-labelledby=drafts-title] tbody tr")
    assert drafts.count() >= 1  # one per run of the journey on this server
    assert drafts.locator("td").first.inner_text().startswith("ke-health-scorecard-2024")
    assert drafts.locator("td:has-text('amina')").count() >= 1
    assert p.input_value("#md-producer-contact-email") == "data@example.org"
    tab.check("metadata form with a saved draft")
    navigate(p, "button[value=check]")
    assert complete.search(p.inner_text("main"))
    press(p, T("Submit data with this metadata"))
    form_used = T(
        "The quality metadata filled in on the form is used (dataset {dataset}).",
        dataset="ke-health-scorecard-2024",
    )
    assert form_used in p.inner_text("main")
    tab.check("submit form")

    # a broken upload (with the form's metadata): the report, grouped by finding code, filterable
    upload(tab, BROKEN, typed["note"], metadata=False)
    assert p.get_by_text(T("The dataset has errors"), exact=False).first.is_visible()
    group = p.locator(".finding-group[data-code='total-mismatch']")
    assert group.is_visible()
    fix = "Correct the total or the parts (rows {rows}); if a category is missing, add its row."
    assert said(lang, fix).search(group.inner_text())
    tab.check("validation report")
    p.uncheck("fieldset.filter input[data-sev='error']")
    assert not group.is_visible()
    p.check("fieldset.filter input[data-sev='error']")
    p.select_option("[data-code-filter]", "non-probability-sample")
    assert not group.is_visible()
    assert p.locator(".finding-group[data-code='non-probability-sample']").is_visible()

    # the real example: a new version, sent for review (the form's metadata is still used)
    assert form_used in p.inner_text("main")
    upload(tab, KENYA / "data.csv", typed["note"], metadata=False)
    p.wait_for_url("**/versions/*")
    version_url = p.url
    assert said(lang, "Version {number} of {dataset} was stored and sent for review.").search(
        p.inner_text("main")
    )
    assert p.locator(".state").first.inner_text() == T("submitted")
    tab.check("version page (CSO)")
    p.goto(f"{url}/pulls")
    tab.check("who pulled my data")
    press(p, T("Sign out"))

    # the NSO signs in with a password, reviews and accepts
    p.goto(f"{url}/sign-in")
    p.fill("#username", "kamau")
    p.fill("#password", DEMO_PASSWORD)
    press(p, T("Sign in with the password"))
    p.wait_for_url(f"{url}/inbox")
    assert p.locator(f"a[href='{version_url.removeprefix(url)}']").count() == 1
    tab.check("inbox")
    p.goto(version_url)
    for words in ("DSAT score", "Licence", "Mapping coverage", "Quality metadata", "Charts of the data"):
        assert p.get_by_text(T(words), exact=False).first.is_visible(), words
    assert p.locator("svg.chart[role=img]").count() >= 1
    # the evidence first, the decision at the end of it
    order = p.evaluate(
        "ids => ids.map(i => document.getElementById(i)).map(e => e ? "
        "[...document.querySelectorAll('h2')].indexOf(e) : -1)",
        ["summary-title", "dsat-title", "coverage-title", "changes-title", "charts-title", "metadata-title",
         "actions-title"],
    )  # fmt: skip
    assert -1 not in order, order
    assert order == sorted(order), order
    # the DSAT breakdown: each quality dimension named (in the page's language) with its score
    accuracy = T("Accuracy and reliability, 0-3.").split(",")[0]
    assert p.locator("#dsat-title ~ div table td").filter(has_text=accuracy).count() == 1
    assert p.locator("table.metadata th:has-text('.')").count() == 0  # labels, not dotted YAML keys
    assert p.locator(".misread").first.is_visible()  # PWD means persons WITHOUT disability
    tab.check("review page")
    # a slice of the submitted data, charted before acceptance, with the public page's filter
    p.check("input[name=REF_AREA][value=KE_042]")
    press(p, T("Apply the filter"))
    assert "REF_AREA=KE_042" in p.url
    assert p.is_checked("input[name=REF_AREA][value=KE_042]")
    caption = p.locator("figcaption").first.inner_text()
    with p.expect_download() as got:
        p.locator("a[href*='/chart/'][href*='.csv']").first.click()
    numbers = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
    assert numbers
    sources = {r[T("Source")] for r in numbers}  # the headers in the page's language
    assert T("CGD") in sources
    # an earlier run of the journey on this server may have loaded the official series already
    assert sources <= {T("CGD"), T("Official: {source}", source="KNBS KDHS 2022")}, sources
    with p.expect_download() as got:
        p.locator("a[href*='/chart/'][href*='.svg']").first.click()
    assert "<svg" in Path(got.value.path()).read_text(encoding="utf-8")
    assert caption
    tab.check("review page, a slice charted")

    # the NSO loads its official series to compare with: a bad file is named at its field first
    official_file = tmp_path / "kdhs-2022.csv"
    official_file.write_bytes(broken_csv())
    p.fill("#official-label", "KNBS KDHS 2022")
    p.set_input_files("#official-file", str(official_file))
    press(p, T("Load the official series"))
    assert p.is_visible(".error-summary a[href='#official-file']")
    assert p.get_attribute("#official-file", "aria-invalid") == "true"
    assert "IAEG-SDGs:CL_SEX(1.1)" in p.content()
    tab.check("review page with a bad official file")
    official_file.write_bytes(official_csv())
    p.set_input_files("#official-file", str(official_file))
    press(p, T("Load the official series"))
    assert p.locator(".flash").inner_text().strip()
    assert p.locator("svg.chart .official").count() >= 1
    assert p.locator("tr.official").count() >= 1
    assert p.locator("tr.official td:has-text('KNBS KDHS 2022')").count() >= 1
    tab.check("review page with the official series")
    p.fill("#comment-accept", typed["comment"])
    press(p, T("Accept"))
    assert said(lang, "Version {number} was accepted.").search(p.inner_text("main"))
    press(p, T("Publish"))
    assert said(lang, "Version {number} was published.").search(p.inner_text("main"))
    assert p.locator(".state").first.inner_text() == T("published")
    tab.check("version page, published")
    press(p, T("Sign out"))

    # the public: the dataflow found, filtered, charted, downloaded
    p.goto(f"{url}/dataflows")
    tab.check("dataflows")
    navigate(p, "text=Citizen-generated data, Kenya")
    tab.check("dataflow page")
    p.check("input[name=REF_AREA][value=KE_042]")
    press(p, T("Apply the filter"))
    assert "REF_AREA=KE_042" in p.url
    v1 = p.input_value("#sdmx-v1")
    assert "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/" in v1
    assert "KE_042" in v1
    assert p.locator("svg.chart[role=img]").count() >= 1
    tab.check("dataflow page, filtered")
    with p.expect_download() as info:
        p.click("a:has-text('SDMX-CSV 2.0')")
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    assert rows
    assert {r["REF_AREA"] for r in rows} == {"KE_042"}
    with p.expect_download() as info:
        p.click("a[href*='format=xlsx']")
    sheet = Path(info.value.path())
    with zipfile.ZipFile(sheet) as book:  # a real workbook, its data sheet filled
        assert "xl/workbook.xml" in book.namelist()
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(sheet.read_bytes()), read_only=True)
    data_rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert len(data_rows) == len(rows) + 1, (len(data_rows), len(rows))
    assert any("Kisumu" in str(cell) for cell in data_rows[1])

    # an error page, in plain words
    p.goto(f"{url}/versions/999999")
    assert T("What to do") in p.inner_text("main")
    assert said(lang, "there is no version {id}", id=999999).search(p.inner_text("main"))
    tab.check("error page")


def test_a_cso_gets_a_plain_403_on_the_inbox(site: LiveServer, tab: Checked) -> None:
    sign_in_with_key(tab, site.url, site.keys["amina"])
    response = tab.page.goto(f"{site.url}/inbox")
    assert response is not None
    assert response.status == 403
    assert "only for NSO reviewers" in tab.page.content()
    tab.check("403 page")


def test_the_api_docs_work_offline(site: LiveServer, browser: Any) -> None:
    """/docs (Swagger UI) renders with every request off the server aborted, under its own CSP."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    context = browser.new_context()  # no bypass_csp: the page's own policy is part of the test
    page = context.new_page()
    outside: list[str] = []
    problems: list[str] = []

    def only_the_bridge(route: Any) -> None:
        if route.request.url.startswith(f"{site.url}/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_bridge)
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'CSP violation: ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline')))"
    )
    try:
        response = page.goto(f"{site.url}/docs")
        assert response is not None
        operations = page.locator(".opblock-summary-path[data-path='/api/submissions']")
        with contextlib.suppress(PlaywrightTimeout):
            operations.first.wait_for(timeout=15_000)
        page.wait_for_load_state("networkidle")
        rendered = operations.count()
        title = page.locator(".information-container .title").all_inner_texts()
    finally:
        context.close()
    assert not outside, f"/docs asked for something off the server: {outside}"
    assert not problems, "\n".join(problems)
    assert rendered == 2, "Swagger UI did not list GET and POST /api/submissions"
    assert title, "Swagger UI shows no title"
    assert title[0].startswith("cgd-bridge"), title
    assert response.status == 200
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]


# ---------------------------------------------------------------- a slow link (#17)
# The size of each file before sending, a progress bar while the files go, and after a failed
# check the files already received are not asked for again. The browser's upload is throttled
# with the DevTools protocol (Network.emulateNetworkConditions), so the bar can be read part-way.

#: Upload bytes per second (about 400 kbit/s): the 300 kB export below takes about six seconds.
UPLOAD_BYTES_PER_SECOND = 50_000


def _careless_export(folder: Path) -> Path:
    """The Kenya data pasted 40 times into one file (about 300 kB): every key comes 40 times, so the
    check fails, and the file is large enough for the progress bar to be read part-way (the
    browser reports upload progress in chunks of 16 kB)."""
    rows = (KENYA / "data.csv").read_text(encoding="utf-8").splitlines()
    path = folder / "scorecard-all-sheets.csv"
    path.write_text("\n".join([rows[0], *rows[1:] * 40]) + "\n", encoding="utf-8")
    return path


def _slow_uploads(page: Any) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_SECOND,
        },
    )


def test_a_slow_link_sees_progress_and_never_sends_a_file_twice(
    site: LiveServer, tab: Checked, tmp_path: Path
) -> None:
    p, url = tab.page, site.url
    careless = _careless_export(tmp_path)
    sign_in_with_key(tab, url, site.keys["amina"])
    p.goto(f"{url}/submit")
    p.set_input_files("#data", str(careless))
    p.set_input_files("#metadata", str(KENYA / "quality.yaml"))
    size_note = p.locator("[data-size-of=data]")
    assert size_note.is_visible()
    expected = f"{round(careless.stat().st_size / 1000)} kB to send"
    assert size_note.inner_text() == expected  # the size, before anything is sent
    p.select_option("#mapping_choice", "kenya-health-scorecard.yaml")
    p.fill("#revision_note", "Kilifi tallies reconciled.")
    tab.check("submit form with files chosen")
    _slow_uploads(p)

    sent = []
    p.on("request", lambda r: sent.append(r))
    with p.expect_navigation(timeout=120_000):
        p.click("button[value=submit]")
        # part-way through: the bar and the words say how much has gone
        p.wait_for_function(
            "() => { const b = document.querySelector('[data-upload-progress] progress');"
            " return b && b.value > 0 && b.value < 100; }",
            timeout=60_000,
        )
        assert "Sending:" in p.inner_text("[data-upload-status]")
    assert p.is_visible("text=The dataset has errors")
    kept = p.locator("#metadata-kept")
    assert kept.is_visible()
    assert "quality.yaml" in kept.inner_text()
    assert p.locator("#data-kept").is_visible()
    tab.check("report with the files kept")
    uploads = [r for r in sent if r.method == "POST"]
    assert [r.url.rsplit("/", 1)[1] for r in uploads] == ["files", "submit"]
    form_body = uploads[1].post_data or ""
    assert "kept_data" in form_body  # the form carried tokens ...
    assert "kept_metadata" in form_body
    assert "Kisumu" not in form_body  # ... not the files again
    assert "dataset:" not in form_body

    # only the corrected data file is sent again; the metadata is the kept one
    sent.clear()
    p.set_input_files("#data", str(KENYA / "data.csv"))
    with p.expect_navigation(timeout=120_000):
        p.click("button[value=submit]")
    p.wait_for_url("**/versions/*")
    assert "was stored and sent for review" in p.content()
    posted = [r for r in sent if r.method == "POST"]
    assert [r.url.rsplit("/", 1)[1] for r in posted] == ["files", "submit"]
    body = posted[1].post_data or ""
    assert "kept_metadata" in body
    assert "dataset:" not in body  # the kept metadata, not sent again
    tab.check("version stored from kept files")


def test_without_javascript_the_form_still_posts_the_files(
    site: LiveServer, browser: Any, tmp_path: Path
) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        p = context.new_page()
        p.goto(f"{site.url}/sign-in")
        p.fill("#api_key", site.keys["amina"])
        navigate(p, "button:has-text('Sign in with the key')")
        p.goto(f"{site.url}/submit")
        p.set_input_files("#data", str(KENYA / "data.csv"))
        p.set_input_files("#metadata", str(KENYA / "quality.yaml"))
        p.select_option("#mapping_choice", "kenya-health-scorecard.yaml")
        p.fill("#revision_note", "A check without scripts.")
        navigate(p, "button[value=check]")
        assert "The dataset is valid" in p.content()
        assert p.locator("#data-kept").is_visible()  # kept for the next try all the same
    finally:
        context.close()
