"""The metadata form's labels, steps, progress and errors (#17), without a server.

The careless user's and the adversary's tries come first: a field added to the model without a
label, a step that forgets a field, a posted ``profile`` that is not the constant, a whole
section left out, a wrong value, a finding naming YAML paths in its text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cgd_bridge import i18n
from cgd_bridge.metadata.load import load_metadata
from cgd_bridge.metadata.model import CHOICE_LABELS, PROFILE, QualityMetadata
from cgd_bridge.metadata.template import _list_item, _section, allowed_values, render_template
from cgd_bridge.server.web import metadata_form as mf
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml"
LANGS = ("sw", "ne", "bn")


def kenya() -> dict[str, Any]:
    return dict(yaml.safe_load(KENYA.read_text(encoding="utf-8")))


def model_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for name, info in model.model_fields.items():
        out.append((prefix + name, info))
        inner = _section(info.annotation)
        item = _list_item(info.annotation)
        if inner is None and item is not None:
            inner = _section(item)
        if inner is not None:
            out.extend(model_fields(inner, f"{prefix}{name}."))
    return out


def check(record: dict[str, Any], tmp_path: Path) -> list[Any]:
    from cgd_bridge.checks.metadata import metadata_findings

    path = tmp_path / "quality.yaml"
    path.write_text(mf.to_yaml(record), encoding="utf-8")
    loaded = load_metadata(path)
    return [*loaded.findings, *metadata_findings(loaded, stage="submission")]


# ---------------------------------------------------------------- labels


def test_every_model_field_has_a_human_label_in_every_language() -> None:
    fields = model_fields(QualityMetadata)
    assert len(fields) > 90
    for path, info in fields:
        name = path.rsplit(".", 1)[-1]
        assert info.title, f"{path} has no human label: give it one, fld('Label', ...)"
        # not the key made readable ("Sdg targets", "N planned", "Pii removed")
        assert (
            info.title != name.replace("_", " ").capitalize() or " " not in info.title or name == "title"
        ), path
        for lang in LANGS:
            assert i18n.translator(lang).gettext(info.title) != info.title or info.title.isupper(), (
                lang,
                path,
            )


def test_a_field_without_a_label_is_refused_where_it_is_declared() -> None:
    from cgd_bridge.metadata.model import fld

    with pytest.raises(ValueError, match="human label"):
        fld("  ", "submission", "Some help.")


def test_every_allowed_value_has_a_label_in_every_language() -> None:
    for path, info in model_fields(QualityMetadata):
        for value in allowed_values(info.annotation) or []:
            assert value in CHOICE_LABELS, f"{path}: the value {value!r} has no label in CHOICE_LABELS"
    for value in (*mf.SUGGESTED["licence.id"], "yes", "no"):
        assert value in CHOICE_LABELS
    for label in CHOICE_LABELS.values():
        for lang in LANGS:
            translated = i18n.translator(lang).gettext(label)
            assert translated != label or label.startswith(("Creative Commons", "Open Database")), (
                lang,
                label,
            )


def test_the_labels_are_the_form_the_review_page_and_the_template_comments() -> None:
    from cgd_bridge.server.web.views import labelled_metadata

    rows = {r.path: r for r in labelled_metadata(kenya())}
    assert rows["purpose.sdg_targets"].label == "SDG targets"
    assert rows["sampling.n_planned"].label == "Number of respondents planned"
    assert rows["privacy.pii_removed"].label == "Were personal details removed?"
    assert rows["method.type"].value == "Community scorecard"  # the value's label, not its code
    assert rows["population.groups.0.code"].section.endswith("Population groups 1")
    sw = labelled_metadata(kenya(), i18n.translator("sw"))
    assert any(r.label == i18n.translator("sw").gettext("SDG targets") for r in sw)
    assert "# SDG targets: The SDG targets the data speaks to" in render_template()
    widget = mf.build(kenya()).widget("purpose.sdg_targets")
    assert widget is not None
    assert widget.label == "SDG targets"


def test_the_form_extractor_gives_the_catalogues_every_label() -> None:
    found = mf.texts()
    assert {"SDG targets", "Dataset ID", "Community scorecard", "Yes"} <= found
    assert not any(t.endswith((" 1", " 2")) for t in found)  # no "Groups 1": entries are numbered on the page


# ---------------------------------------------------------------- steps and progress


def test_every_field_is_in_exactly_one_step_and_the_constant_in_none() -> None:
    top = [n for n in QualityMetadata.model_fields if n not in mf.CONSTANTS]
    placed = [f for s in mf.STEPS for f in s.fields]
    assert sorted(placed) == sorted(top), "every top-level field in one step, once"
    assert len(set(mf.STEP_KEYS)) == len(mf.STEPS)
    form = mf.build(kenya())
    assert form.widget("profile") is None  # filled in, never asked
    assert [s.number for s in form.steps] == list(range(1, len(mf.STEPS) + 1))


def test_progress_counts_what_the_completeness_check_needs(tmp_path: Path) -> None:
    empty = mf.build({})
    assert empty.progress.done_now == 0
    assert empty.progress.needed_now > 25
    assert empty.progress.needed_release > empty.progress.needed_now
    # every field the check says is missing at submission is counted as needed now
    missing = {
        f.field for f in check({}, tmp_path) if f.code == "metadata-missing-field" and f.severity == "error"
    }
    needed_tops = {w.path.split(".")[0] for w in mf.missing_now(empty)}
    assert missing - {"profile"} == needed_tops
    full = mf.build(kenya())
    assert full.progress.complete_now
    assert full.progress.complete_release
    assert mf.missing_now(full) == []
    # one field taken away: one fewer, in its step
    record = kenya()
    del record["sampling"]["frame"]
    form = mf.build(record)
    assert form.progress.done_now == form.progress.needed_now - 1
    assert [w.path for w in mf.missing_now(form)] == ["sampling.frame"]
    assert not form.step_of("sampling.frame").progress.complete_now
    assert form.step_of("dataset.id").progress.complete_now


def test_an_optional_section_filled_in_must_be_complete() -> None:
    form = mf.build({"identification": {}})
    w = form.widget("identification.disability_method")
    assert w is not None
    assert not w.needed_release
    # a population group with only a label needs its code; the empty entry offered needs nothing
    form = mf.build({"population": {"groups": [{"label": "Wanawake"}]}})
    code = form.widget("population.groups.0.code")
    spare = form.widget("population.groups.1.code")
    assert code is not None
    assert code.needed_now
    assert spare is not None
    assert not spare.needed_now
    assert code in mf.missing_now(form)


def test_defaults_fill_empty_fields_only_and_are_marked_with_their_source() -> None:
    defaults = {
        "organisation": {"producer": {"organisation": "Sauti ya Walemavu", "type": "CSO"}},
        "mou": {
            "use_conditions": ["statistical_purposes_only"],
            "producer": {"organisation": "Not this one"},
        },
    }
    form = mf.build(None, defaults=defaults)
    org = form.widget("producer.organisation")
    assert org is not None
    assert org.value == "Sauti ya Walemavu"
    assert org.defaulted == "organisation"
    use = form.widget("use_conditions")
    assert use is not None
    assert use.value == ["statistical_purposes_only"]
    assert use.defaulted == "mou"
    assert set(mf.DEFAULT_NOTES) >= {"organisation", "mou"}
    # what the record says wins, and is not marked
    form = mf.build({"producer": {"organisation": "Another name"}}, defaults=defaults)
    org = form.widget("producer.organisation")
    assert org is not None
    assert org.value == "Another name"
    assert not org.defaulted
    kind = form.widget("producer.type")
    assert kind is not None
    assert kind.value == "CSO"
    assert kind.defaulted == "organisation"


def test_the_profile_is_the_constant_whatever_is_posted() -> None:
    record = mf.record_from_form({"profile": ["cgd-quality/0.1"], "dataset.id": ["x-survey"]})
    assert record["profile"] == PROFILE
    assert next(iter(record)) == "profile"
    assert mf.record_from_form({})["profile"] == PROFILE


# ---------------------------------------------------------------- errors in plain words


@pytest.mark.parametrize("lang", ["en", *LANGS])
def test_errors_name_the_field_by_its_label_never_its_path(lang: str, tmp_path: Path) -> None:
    t = i18n.translator(lang)
    record = kenya()
    del record["dataset"]  # a whole section left out: each of its needed fields is named
    record["producer"]["contact_email"] = "not an address"
    record["period"]["reference_end"] = "2020-01-01"  # before its start
    record["licence"] = {"id": "custom"}  # its fix names licence.url
    form = mf.build(record)
    errors = mf.form_errors(check(record, tmp_path), form, t)
    by_path = {e.path: e for e in errors}
    assert {"dataset.id", "dataset.version", "dataset.title"} <= set(by_path)
    assert by_path["dataset.id"].text == t.gettext("This is needed to submit: fill it in.")
    assert by_path["dataset.id"].label == t.gettext("Dataset ID")
    assert by_path["dataset.id"].id == "md-dataset-id"
    assert by_path["dataset.id"].step.step.key == "dataset"
    email = by_path["producer.contact_email"]
    assert email.text.startswith(t.gettext("This value is not in the form the field needs."))
    assert t.gettext("Write a full e-mail address, e.g. data@example.org.") in email.text
    assert "reference_end" not in by_path["period.reference_end"].text
    assert f"\u201c{t.gettext('Link to the licence text')}\u201d" in by_path["licence.url"].text
    keys = {p for p in mf.paths(form.widgets) if "." in p or "_" in p}
    keys |= {p.rsplit(".", 1)[-1] for p in keys if "_" in p.rsplit(".", 1)[-1]}
    for e in errors:
        assert not [k for k in keys if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", e.text)], (
            e.path,
            e.text,
        )
    # the summary's order is the form's: step by step
    assert [e.step.number for e in errors] == sorted(e.step.number for e in errors)
    assert sum(s.errors for s in form.steps) == len(errors)


def test_a_finding_naming_fields_in_its_text_reads_with_their_labels() -> None:
    names = {
        "purpose.sdg_targets": "SDG targets",
        "sdg_targets": "SDG targets",
        "limitations": "Known limitations",
    }
    text = "Add 5.5 to purpose.sdg_targets; say why in 'limitations'. The limitations of sdg_targets"
    assert mf.humanise(text, names) == (
        "Add 5.5 to \u201cSDG targets\u201d; say why in \u201cKnown limitations\u201d. "
        "The limitations of \u201cSDG targets\u201d"
    )


def test_an_error_that_belongs_to_no_field_is_still_said(tmp_path: Path) -> None:
    record = {**kenya(), "profile": "other-template/2.0"}  # a file of another template, loaded
    findings = check(record, tmp_path)
    form = mf.build(record)
    assert not [e for e in mf.form_errors(findings, form) if e.path == "profile"]
    unplaced = mf.unplaced_errors(findings, form)
    assert len(unplaced) == 1
    assert "other-template/2.0" in unplaced[0]
    assert PROFILE in unplaced[0]
    assert unplaced[0][0].isupper()
