"""The metadata form's pages (#17): steps posted one after another, drafts that keep every next
step, errors in plain words linked to their fields, defaults from the organisation and its MoU,
the review page's labels, and all of it in Swahili.

Driven through the real web app (Starlette's TestClient) as a CSO, as the public and as an
adversary (a posted ``profile``, a step that does not exist, a submit of an incomplete record).
"""

from __future__ import annotations

import html
import re
from typing import Any

import yaml
from markupsafe import escape

from cgd_bridge import i18n
from cgd_bridge.store.models import MetadataDraft
from tests.unit.server.test_web import KENYA, Demo, csrf, form_of_record, sign_in


def kenya() -> dict[str, Any]:
    return dict(yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8")))


def open_steps(page: str) -> list[str]:
    return re.findall(r'<details class="md-step[^"]*" id="step-([a-z]+)" open>', page)


def value_of(page: str, name: str) -> str | None:
    m = re.search(rf'<input type="text" id="md-[^"]*" name="{re.escape(name)}" value="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else None


def shown_text(page: str) -> str:
    """The page as a person reads it: no attributes, no expert report."""
    page = page.split('<details class="md-report">')[0]
    return re.sub(r"<[^>]+>", " ", page)


def drafts_of(demo: Demo) -> list[MetadataDraft]:
    with demo.session() as s:
        return list(s.query(MetadataDraft).order_by(MetadataDraft.id))


def test_a_cso_fills_the_form_in_steps_saved_as_its_draft_at_each_step(demo_db: Demo) -> None:
    demo = demo_db
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = c.get("/metadata").text
    assert open_steps(page) == ["dataset"]  # the first step open, the others one tap away
    assert 'name="profile"' not in page  # the constant is filled in, never asked
    assert "Template version" not in page
    # filled in from the organisation and its MoU, and marked so
    assert value_of(page, "producer.organisation")
    assert value_of(page, "dataset.version") == "1.0.0"
    assert "Filled in from your organisation&#39;s account" in page
    assert re.search(r'name="use_conditions" value="statistical_purposes_only" checked', page)
    assert value_of(page, "geography.codelist") == "CL_AREA_KE"
    assert "Filled in from your organisation&#39;s MoU with the NSO" in page
    # progress, and why there is no submit button yet
    m = re.search(r"(\d+) of (\d+) fields needed to submit are filled in", page)
    assert m
    assert 0 < int(m.group(1)) < int(m.group(2))
    assert 'value="submit"' not in page
    assert "You can submit data with this metadata once" in page

    # step 1 posted: saved as a draft, on to step 2 with what was typed kept
    token = csrf(c, "/metadata")
    first = {
        "csrf_token": token,
        "dataset.id": "my-survey-2025",
        "dataset.title": "My survey",
        "dataset.version": "1.0.0",
    }
    r = c.post("/metadata", data={**first, "action": "step:collection"}, follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(r"/metadata\?draft=\d+&step=collection#step-collection", r.headers["location"])
    draft_id = int(re.search(r"draft=(\d+)", r.headers["location"]).group(1))
    page = c.get(r.headers["location"].split("#")[0]).text
    assert open_steps(page) == ["collection"]
    assert value_of(page, "dataset.id") == "my-survey-2025"
    assert f'name="draft_id" value="{draft_id}"' in page
    saved = drafts_of(demo)
    assert [d.record["dataset"]["id"] for d in saved] == ["my-survey-2025"]
    assert saved[0].record["profile"] == "cgd-quality/1.0"
    # the next step updates the same draft; a step that does not exist just saves
    r = c.post(
        "/metadata",
        data={
            **first,
            "draft_id": str(draft_id),
            "producer.website": "https://sauti.example",
            "action": "step:nowhere",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/metadata?draft={draft_id}"
    assert [d.record["producer"]["website"] for d in drafts_of(demo)] == ["https://sauti.example"]

    # the whole record, saved: the draft keeps its next step, on every later visit
    whole = {
        **form_of_record(kenya()),
        "csrf_token": token,
        "draft_id": str(draft_id),
        "profile": "cgd-quality/0.1",
    }
    r = c.post("/metadata", data={**whole, "action": "store"}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/metadata?draft={draft_id}").text
    assert "was saved on the server" in page
    assert page.count('value="submit"') == 2  # at the progress and at the end of the form
    assert "Submit data with this metadata" in page
    assert open_steps(page) == []  # nothing left to do: every step closed, the progress full
    m = re.search(r"(\d+) of (\d+) fields needed to submit are filled in", page)
    assert m
    assert m.group(1) == m.group(2)
    assert drafts_of(demo)[0].record["profile"] == "cgd-quality/1.0"  # the constant, whatever was posted
    # submit: the record as the form has it now goes to the submit page
    whole["dataset.id"] = "changed-before-submit"
    r = c.post("/metadata", data={**whole, "action": "submit"})
    assert r.status_code == 200
    assert "filled in on the form is used" in r.text
    assert "changed-before-submit" in html.unescape(r.text)
    # an incomplete record is not carried on: the form with its errors, at their fields
    r = c.post("/metadata", data={**whole, "dataset.id": "", "action": "submit"})
    assert r.status_code == 422
    assert 'href="#md-dataset-id"' in r.text
    assert "filled in on the form is used" not in r.text


def test_errors_are_in_plain_words_and_linked_to_their_fields(demo: Demo) -> None:
    c = demo.client
    record = form_of_record(kenya())
    record.update(
        {"dataset.version": "", "producer.contact_email": "not an address", "sampling.n_planned": "many"}
    )
    r = c.post(
        "/metadata", data={**record, "csrf_token": csrf(c, "/metadata"), "action": "check", "step": "quality"}
    )
    assert r.status_code == 422
    page = r.text
    summary = page.split('id="error-summary"')[1].split("</div>")[0]
    for field_id in ("md-dataset-version", "md-producer-contact-email", "md-sampling-n-planned"):
        assert f'href="#{field_id}"' in summary
        assert re.search(
            rf'id="{field_id}"[^>]*aria-describedby="[^"]*{field_id}-error"[^>]*aria-invalid="true"', page
        )
        assert f'id="{field_id}-error"' in page
    assert 'data-path="dataset.version"' in summary  # the path for experts, in an attribute
    assert "Version number" in summary
    assert "Contact e-mail address" in summary
    assert "This is needed to submit: fill it in." in summary
    assert "The metadata has 3 error(s)" in page  # as the page shows them: one per field
    assert "Write a full e-mail address" in summary
    # the steps with errors are open (their fields are where the links go), and the one asked for
    assert set(open_steps(page)) == {"dataset", "collection", "quality"}
    text = shown_text(page)
    for path in ("dataset.version", "producer.contact_email", "sampling.n_planned", "'dataset.version'"):
        assert path not in text
    assert "Traceback" not in page


def test_the_public_moves_between_steps_and_the_server_keeps_nothing(demo: Demo) -> None:
    c = demo.client
    page = c.get("/metadata").text
    assert value_of(page, "producer.organisation") == ""  # no organisation to fill in from
    assert "Save as a draft on the server" not in page
    r = c.post(
        "/metadata",
        data={"csrf_token": csrf(c, "/metadata"), "dataset.id": "open-survey", "action": "step:coverage"},
    )
    assert r.status_code == 200
    assert open_steps(r.text) == ["coverage"]
    assert value_of(r.text, "dataset.id") == "open-survey"  # carried by the form itself
    assert 'aria-invalid="true"' not in r.text  # moving on is not a check
    assert drafts_of(demo) == []
    r = c.post(
        "/metadata", data={"csrf_token": csrf(c, "/metadata"), "action": "submit"}, follow_redirects=False
    )
    assert r.status_code == 303  # submitting data is for CSO submitters: sign in first
    assert r.headers["location"].startswith("/sign-in")
    assert drafts_of(demo) == []
    assert c.get("/metadata?step=coverage").status_code == 200
    assert open_steps(c.get("/metadata?step=coverage").text) == ["coverage"]


def test_the_form_and_its_errors_in_swahili(demo: Demo) -> None:
    sw = i18n.translator("sw")
    c = demo.client
    sign_in(c, demo.keys["amina"])
    page = c.get("/metadata?lang=sw").text
    for english in (
        "The dataset",
        "Who collected it and how",
        "Needed to submit",
        "Dataset ID",
        "Your progress",
    ):
        assert sw(english) != english
        assert str(escape(sw(english))) in page, english
    assert str(escape(sw("Community scorecard"))) in page  # the choices' labels
    r = c.post("/metadata?lang=sw", data={"csrf_token": csrf(c, "/metadata"), "action": "check"})
    assert r.status_code == 422
    summary = r.text.split('id="error-summary"')[1].split("</div>")[0]
    assert str(escape(sw("This is needed to submit: fill it in."))) in summary
    assert str(escape(sw("Step {n}: {title}", n=1, title=sw("The dataset")))) in summary
    assert "is empty" not in summary


def test_the_review_page_shows_the_metadata_with_the_forms_labels(demo: Demo) -> None:
    c = demo.client
    sign_in(c, demo.keys["amina"])
    vid = demo.published["kenya-health-scorecard"]
    page = c.get(f"/versions/{vid}").text
    block = page.split('id="metadata-title"')[1].split("</section>")[0]
    assert "SDG targets" in block
    assert "Community scorecard" in block  # the value's label, not community_scorecard
    assert "Sdg targets" not in block
    assert "Pii removed" not in block
    assert "N planned" not in block
    assert 'title="purpose.sdg_targets"' in block  # the path, for experts, as a tooltip
    sw = c.get(f"/versions/{vid}?lang=sw").text.split('id="metadata-title"')[1].split("</section>")[0]
    assert str(escape(i18n.translator("sw")("SDG targets"))) in sw
