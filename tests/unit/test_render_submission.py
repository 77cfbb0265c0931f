"""The report's verdict on submission (#13): data checked without its quality metadata or its
mapping is never "ready to submit"; the report says what is missing and how to add it."""

from __future__ import annotations

import json

import pytest

from cgd_bridge.pipeline import validate
from cgd_bridge.render import render_html, render_json, render_text, submission_blockers
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"


@pytest.fixture(scope="module")
def data_only():
    return validate(KENYA / "data.csv")


@pytest.fixture(scope="module")
def no_mapping():
    return validate(KENYA / "data.csv", metadata=KENYA / "quality.yaml")


@pytest.fixture(scope="module")
def complete():
    return validate(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=MAPPING)


def test_data_alone_is_valid_but_not_ready_to_submit(data_only):
    assert data_only.valid  # the data itself has no error ...
    text = render_text(data_only)
    assert "ready to submit" not in text
    assert "can be submitted" not in text
    assert "cannot be submitted yet" in text
    # ... and the report says why, and how to add what is missing
    assert "no quality metadata" in text
    assert "--metadata" in text
    assert "cgd-bridge metadata template" in text
    assert "no mapping" in text
    assert "--mapping" in text


def test_metadata_without_a_mapping_is_not_ready_either(no_mapping):
    blockers = submission_blockers(no_mapping)
    assert len(blockers) == 1
    assert "no mapping" in blockers[0]
    assert "cannot be submitted yet" in render_text(no_mapping)


def test_data_metadata_and_mapping_that_pass_are_ready(complete):
    assert complete.valid
    assert submission_blockers(complete) == []
    text = render_text(complete)
    assert "cannot be submitted yet" not in text
    assert ("ready to submit" in text) or ("can be submitted" in text)


def test_html_and_json_say_the_same(data_only, complete):
    html = render_html(data_only)
    assert "cannot be submitted yet" in html
    assert "no quality metadata" in html
    assert "cannot be submitted yet" not in render_html(complete)
    got = json.loads(render_json(data_only))
    assert got["valid"] is True
    assert got["cgd:submittable"] is False
    assert len(got["cgd:not_submittable_because"]) == 2
    assert json.loads(render_json(complete))["cgd:submittable"] is True


def test_an_invalid_report_says_not_valid_and_lists_what_is_missing_too(tmp_path):
    bad = tmp_path / "d.csv"
    text = (KENYA / "data.csv").read_text(encoding="utf-8")
    bad.write_text(text.replace("Kisumu,Female,18-24", "Kisumu,Femme,18-24", 1), encoding="utf-8")
    report = validate(bad, mapping=MAPPING)
    text = render_text(report)
    assert text.startswith("NOT VALID")
    assert "no quality metadata" in text
