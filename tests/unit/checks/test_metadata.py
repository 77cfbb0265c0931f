"""Metadata checks: completeness by stage, invalid values with their line, and the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.findings import Severity
from cgd_bridge.metadata import load_metadata
from tests.unit.checks.conftest import AGG_SCHEMA

CSV = (
    "county,sex,year,respondents,satisfied\n"
    "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Total,2024,40,20\n"
)


def md_findings(report):
    return [f for f in report if f.target == "metadata"]


def test_missing_submission_field_is_an_error_release_field_a_warning(run):
    r = run(CSV, schema=AGG_SCHEMA, meta={"producer.contact_email": ..., "comparability": ...})
    flat = {(f.code, f.field, f.severity) for f in md_findings(r)}
    assert ("metadata-missing-field", "producer.contact_email", Severity.ERROR) in flat
    assert ("metadata-missing-field", "comparability", Severity.WARNING) in flat
    msg = next(f.message for f in r if f.field == "producer.contact_email")
    assert "required to submit" in msg
    assert "Fill it in" in msg


def test_release_stage_makes_release_fields_errors(run):
    r = run(CSV, schema=AGG_SCHEMA, meta={"comparability": ...}, stage="release")
    f = next(f for f in r if f.field == "comparability")
    assert f.severity is Severity.ERROR
    assert "for release" in f.message


def test_invalid_values_carry_the_yaml_line_and_allowed_values(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(
        "profile: cgd-quality/1.0\n"
        "dataset:\n  id: Kenya Scorecard\n  version: '1.0'\n"
        "method:\n  type: interviews\n"
        "period:\n  reference_start: 31/12/2024\n"
        "sampling:\n  n_achieved: many\n"
        "consent:\n  obtained: sure\n",
        encoding="utf-8",
    )
    md = load_metadata(path)
    flat = {(f.field, f.line) for f in md.findings if f.code == "metadata-invalid-value"}
    assert flat == {
        ("dataset.id", 3), ("dataset.version", 4), ("method.type", 6), ("period.reference_start", 8),
        ("sampling.n_achieved", 10), ("consent.obtained", 12),
    }  # fmt: skip
    method = next(f for f in md.findings if f.field == "method.type")
    assert "community_scorecard" in method.fix
    assert method.message.startswith("q.yaml, line 6")
    # the rest still loads
    assert md.model.dataset is not None
    assert md.model.dataset.id is None


def test_why_a_value_is_invalid_is_said_in_plain_words_of_the_language(tmp_path):
    """Pydantic's own English ("String should match pattern '^[^@...'") is never shown for the
    errors people meet: each is a message of the catalogue, translated with the rest (#17)."""
    from cgd_bridge.i18n import translator

    path = tmp_path / "q.yaml"
    path.write_text(
        "profile: cgd-quality/1.0\n"
        "producer:\n  contact_email: not an address\n"
        "method:\n  type: interviews\n"
        "period:\n  reference_start: 31/12/2024\n"
        "sampling:\n  n_achieved: many\n"
        "consent:\n  obtained: sure\n",
        encoding="utf-8",
    )
    md = load_metadata(path)
    invalid = [f for f in md.findings if f.code == "metadata-invalid-value"]
    assert len(invalid) == 5
    for f in invalid:
        english = f.texts()[0]
        assert "should" not in english, english
        assert "Input" not in english, english
        swahili = f.texts(translator("sw"))[0]
        assert "should" not in swahili, swahili
        assert " it " not in swahili, swahili
    email = next(f for f in invalid if f.field == "producer.contact_email")
    assert "it does not have the form this field needs" in email.texts()[0]


def test_unknown_field_suggests_the_right_one(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text("profile: cgd-quality/1.0\nconsent:\n  obtaned: true\n", encoding="utf-8")
    md = load_metadata(path)
    f = next(f for f in md.findings if f.code == "metadata-unknown-field")
    assert f.field == "consent.obtaned"
    assert "Did you mean 'obtained'" in f.fix
    assert f.line == 3


def test_json_metadata_is_read(tmp_path):
    path = tmp_path / "q.json"
    path.write_text('{"profile": "cgd-quality/1.0", "consent": {"obtained": true}}', encoding="utf-8")
    assert load_metadata(path).model.consent.obtained is True


@pytest.mark.parametrize(
    ("meta", "code", "field"),
    [
        ({"period.reference_end": "2023-01-01"}, "metadata-date-order", "period.reference_end"),
        ({"purpose.sdg_targets": ["16.6", "SDG16"]}, "metadata-sdg-code", "purpose.sdg_targets.1"),
        ({"purpose.sdg_indicators": ["16.6.2", "16-6-2"]}, "metadata-sdg-code", "purpose.sdg_indicators.1"),
        ({"purpose.sdg_series": ["sp_psr_satis"]}, "metadata-sdg-code", "purpose.sdg_series.0"),
        ({"licence.id": "CC-BY"}, "metadata-licence", "licence.id"),
        ({"licence": {"id": "custom"}}, "metadata-licence", "licence.url"),
        ({"consent.obtained": False}, "missing-consent", "consent.obtained"),
        ({"consent": ...}, "missing-consent", "consent.obtained"),
        ({"consent.scope": "aggregate_publication"}, "missing-consent", "consent.scope"),
        ({"dataset.version": "1.1.0", "revision": ...}, "metadata-revision", "revision.note"),
        ({"participation.stages": ["analysis"]}, "metadata-participation", "participation.stages"),
        ({"sampling.design": "convenience"}, "non-probability-sample", "sampling.design"),
        ({"release.published": "2029-01-01"}, "metadata-timeliness", "release.published"),
        ({"profile": "other/2.0"}, "metadata-profile", "profile"),
    ],
)
def test_metadata_rules(run, meta, code, field):
    r = run(CSV, schema=AGG_SCHEMA, meta=meta)
    assert (code, field) in {(f.code, f.field) for f in r}, r.flatten("code", "field")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"quality.self_assessment.ethics.privacy": "no"}, "'privacy' is answered 'no'"),
        ({"quality.self_assessment.dimensions.timeliness_punctuality": 0}, "scores 0"),
        (
            {f"quality.self_assessment.dimensions.{d}": 1 for d in (
                "accuracy_reliability", "timeliness_punctuality", "accessibility_clarity",
                "interpretability", "coherence_comparability")},
            "add up to 5 of 15",
        ),
    ],
)  # fmt: skip
def test_dsat_fails_on_no_zero_or_low_total(run, change, reason):
    r = run(CSV, schema=AGG_SCHEMA, meta=change)
    dsat = [f for f in r if f.code == "dsat-fail"]
    assert any(reason in f.problem for f in dsat), [f.problem for f in dsat]
    assert r.stats["dsat"]["pass"] is False


def test_dsat_yaml_yes_no_booleans_are_understood(tmp_path, examples: Path):
    text = (examples / "kenya-health-scorecard" / "quality.yaml").read_text(encoding="utf-8")
    md = load_metadata(examples / "kenya-health-scorecard" / "quality.yaml")
    assert "dsat-fail" not in {f.code for f in md.findings}
    assert text  # the example has a passing self-assessment
    from cgd_bridge.checks import dsat_score

    verdict = dsat_score(md.model)
    assert verdict is not None
    assert verdict["pass"] is True
    assert verdict["total"] >= 8


def test_the_examples_metadata_is_complete_for_release(examples: Path):
    from cgd_bridge.checks.metadata import metadata_findings

    for name in ("kenya-health-scorecard", "nepal-youth-survey"):
        md = load_metadata(examples / name / "quality.yaml")
        found = md.findings + metadata_findings(md, stage="release")
        assert [f for f in found if f.severity is Severity.ERROR] == [], [f.message for f in found]


def test_dsat_reasons_name_the_principle_in_words_and_in_the_persons_language(run):
    """#17: the reasons a self-assessment fails are messages, not English strings: the report's
    JSON (and the version page and API, through the same ``dsat_in``) says them in any language,
    the principle named in words, not by its YAML key."""
    from cgd_bridge.findings import dsat_in
    from cgd_bridge.i18n import translator

    r = run(CSV, schema=AGG_SCHEMA, meta={"quality.self_assessment.ethics.fairness_no_harm": "no"})
    dsat = r.stats["dsat"]
    assert dsat["reasons"] == ["ethics principle 'fairness and no harm' is answered 'no'"]
    sw = r.to_dict(translator("sw"))["cgd:stats"]["dsat"]
    assert sw["reasons"] == ["kanuni ya maadili 'haki bila kusababisha madhara' imejibiwa 'hapana'"]
    assert sw["pass"] is False
    bn = dsat_in(dsat, translator("bn"))["reasons"]
    assert bn == ["নৈতিক নীতি 'ন্যায্যতা ও ক্ষতি না করা'-এর উত্তর 'না' দেওয়া হয়েছে"]
    assert r.to_dict()["cgd:stats"]["dsat"]["reasons"] == dsat["reasons"]  # English stays English
    # a verdict stored before the messages were kept is shown as it was stored
    old = {k: v for k, v in dsat.items() if k != "why"}
    assert dsat_in(old, translator("sw")) == old
    assert dsat_in(None, translator("sw")) is None
