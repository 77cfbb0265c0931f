"""The metadata form in a real browser (#17): Debian's Chromium driven by Playwright against a
real ``cgd-bridge serve``, at a phone's width (360 px, touch) and a desktop's (1280 px), in
English and in Swahili.

A CSO fills the quality metadata of the Kenya example step by step (each step posted, the record
saved as the organisation's draft on the way), leaves for another page, comes back through the
drafts list to the step it left, finishes the steps, checks the record and submits data with it.
Every page is checked with axe-core (WCAG 2.x A/AA and best practices) and for sideways scrolling
(the helpers of ``test_web_browser.py``). Without Chromium the test fails under CI and is skipped
locally, saying so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from cgd_bridge import i18n
from cgd_bridge.server.web import metadata_form as mf
from tests.e2e.test_web_browser import KENYA, browser, checked_tab, navigate, upload  # noqa: F401
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("md-live")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


def kenya() -> dict[str, Any]:
    return dict(yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8")))


def fill(page: Any, w: mf.Widget) -> None:
    """Type one field as a person would: text, a choice, ticks; entries: the first one."""
    if w.kind == "section":
        for c in w.children:
            fill(page, c)
    elif w.kind == "entries":
        for c in w.children[:1]:
            fill(page, c)
    elif w.kind in ("select", "yesno"):
        if w.value:
            page.select_option(f"#{w.id}", w.value)
    elif w.kind == "checkboxes":
        for v in w.value:
            page.check(f"input[name='{w.path}'][value='{v}']")
    elif w.kind == "languages":  # a new form has one text for the title
        page.fill(f"#{w.id}", next(iter(w.value.values())))
    elif w.value:
        page.fill(f"#{w.id}", str(w.value))


def open_step(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("details.md-step[open]", "els => els.map(e => e.id)"))


@pytest.mark.parametrize(
    ("width", "lang"),
    [(360, "en"), (1280, "en"), (360, "sw")],
    ids=["phone-360", "desktop-1280", "swahili-phone"],
)
def test_a_cso_fills_the_metadata_in_steps_leaves_comes_back_and_submits(
    site: LiveServer,
    browser: Any,  # noqa: F811 - the fixture of test_web_browser.py
    width: int,
    lang: str,
) -> None:
    t = i18n.translator(lang)
    record = kenya()
    steps = mf.build(record).steps
    with checked_tab(browser, width, lang) as tab:
        p, url = tab.page, site.url
        p.goto(f"{url}/sign-in?lang={lang}")
        p.fill("#api_key", site.keys["amina"])
        navigate(p, "form:has(#api_key) button[type=submit]")
        p.goto(f"{url}/metadata")
        assert p.get_attribute("html", "lang") == lang
        assert open_step(p) == ["step-dataset"]
        assert t("Needed to submit") in p.inner_text("#step-dataset")
        assert p.input_value("#md-dataset-version") == "1.0.0"  # filled in for the person
        assert p.locator("[name=profile]").count() == 0  # the constant is never asked
        tab.check(f"metadata form, step 1 ({lang}, {width} px)")

        def do_step(n: int) -> None:
            view = steps[n]
            assert open_step(p) == [view.id]
            for w in view.widgets:
                fill(p, w)
            if n + 1 < len(steps):
                navigate(p, f"button[value='step:{steps[n + 1].step.key}']")
                assert f"step={steps[n + 1].step.key}" in p.url  # saved as a draft, on to the next
                assert t(
                    "The draft '{name}' was saved on the server.", name=record["dataset"]["id"]
                ) in p.inner_text("main")

        for n in range(3):
            do_step(n)
            tab.check(f"metadata form, step {n + 2} ({lang}, {width} px)")
        done = p.inner_text(".md-progress")
        # away to another page, and back through the drafts list: the step left open again
        p.goto(f"{url}/submissions")
        p.goto(f"{url}/metadata")
        drafts = p.locator("section[aria-labelledby=drafts-title] tbody tr", has_text=record["dataset"]["id"])
        assert drafts.count() >= 1
        navigate(
            p, f"section[aria-labelledby=drafts-title] tbody tr:has-text('{record['dataset']['id']}') >> a"
        )
        assert open_step(p) == ["step-privacy"]
        assert p.input_value("#md-dataset-id") == record["dataset"]["id"]
        assert p.inner_text(".md-progress") == done
        assert p.locator("button[value=submit]").count() == 0  # not complete yet
        tab.check(f"metadata form resumed ({lang}, {width} px)")
        for n in range(3, len(steps)):
            do_step(n)
        # the last step ends with the check: complete, and the next step is there
        navigate(p, f"#{steps[-1].id} button[value=check]")
        assert t(
            "The metadata is complete for submission. Submit data with it, or save it as a draft."
        ) in p.inner_text("main")
        assert p.locator("button[value=submit]").count() == 2
        bar = p.locator(".md-progress progress")
        assert bar.get_attribute("value") == bar.get_attribute("max")  # every field needed to submit
        tab.check(f"metadata form complete ({lang}, {width} px)")
        # a mistake on the way: linked from the summary, in plain words, at its field
        p.click("#step-collection > summary")
        p.fill("#md-producer-contact-email", "not an address")
        navigate(p, ".md-tools button[value=check]")
        assert p.evaluate("document.activeElement.id") == "error-summary"
        link = p.locator("#error-summary a[href='#md-producer-contact-email']")
        assert link.inner_text() == t("Contact e-mail address")
        assert "producer.contact_email" not in p.inner_text("#error-summary")
        assert p.get_attribute("#md-producer-contact-email", "aria-invalid") == "true"
        assert "md-producer-contact-email-error" in (
            p.get_attribute("#md-producer-contact-email", "aria-describedby") or ""
        )
        link.click()
        assert p.evaluate("location.hash") == "#md-producer-contact-email"
        assert p.is_visible("#md-producer-contact-email")
        tab.check(f"metadata form with an error ({lang}, {width} px)")
        p.fill("#md-producer-contact-email", record["producer"]["contact_email"])
        navigate(p, ".md-tools button[value=check]")
        assert p.locator("#error-summary").count() == 0
        # submit data with this metadata: the record as the form has it now
        navigate(p, "button[value=submit] >> nth=0")
        assert p.locator("textarea[name=metadata_text]").count() == 1
        tab.check(f"submit page with the form's metadata ({lang}, {width} px)")
        upload(tab, KENYA / "data.csv", "Metadata filled in on the form.", metadata=False)
        p.wait_for_url("**/versions/*")
        assert p.locator(".state").count() >= 1
        tab.check(f"version page after the form ({lang}, {width} px)")
