"""The privacy check and the pipeline with the identifier detector: findings that say which kind,
how many, a masked example and the fix; free-text attributes that would publish identifiers."""

from __future__ import annotations

from pathlib import Path

import yaml

from cgd_bridge.checks import Options
from cgd_bridge.pipeline import convert, validate

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"

NAMES_DEV = [
    "राम बहादुर थापा",
    "सीता कुमारी श्रेष्ठ",
    "हरि प्रसाद घिमिरे",
    "गीता तामाङ",
    "कमला दाहाल",
    "बिष्णु माया लामा",
]


def pii(report, field):
    return [f for f in report if f.code == "pii-column" and f.field == field]


def test_a_devanagari_header_and_names_are_found(run):
    body = "".join(f"Kaski,{name}\n" for name in NAMES_DEV * 3)
    r = run("district,उत्तरदाताको नाम\n" + body, metadata=False)
    [f] = pii(r, "उत्तरदाताको नाम")
    assert "people's names" in f.problem
    assert "18 of 18" in f.problem
    assert f.details["kind"] == "person_name"
    assert not any(name in f.problem for name in NAMES_DEV), "names are masked in the finding"
    assert "Delete this column" in f.fix


def test_a_yes_no_column_named_mobile_is_a_warning_with_its_reason(run):
    body = "".join(f"Kisumu,{'Yes' if i % 3 else 'No'}\n" for i in range(30))
    r = run("county,mobile\n" + body, metadata=False)
    assert not pii(r, "mobile")
    [f] = [f for f in r if f.code == "pii-name-only"]
    assert f.field == "mobile"
    assert "yes/no answers" in f.problem
    assert r.valid


def test_iso_dates_and_household_codes_raise_nothing(run):
    body = "".join(f"Kaski,2024-03-{i % 28 + 1:02d},65312{i % 3 + 1:02d}{i:03d}\n" for i in range(1, 60))
    r = run("district,date,hh_code\n" + body, metadata=False)
    assert not [f for f in r if f.code in ("pii-column", "pii-name-only")], r.flatten("code", "field")


def test_lat_lon_pair_with_unhelpful_names(run):
    body = "".join(f"Nakuru,{-0.30 - i * 0.00713:.6f},{36.07 + i * 0.00419:.6f}\n" for i in range(25))
    r = run("county,point_a,point_b\n" + body, metadata=False)
    for column in ("point_a", "point_b"):
        [f] = pii(r, column)
        assert f.details["kind"] == "coordinates"
        assert "inside KE" in f.problem
        assert "area they fall in" in f.fix


def test_phone_numbers_inside_comments(run):
    phone = ", call me on 0712 345 6{:02d}"
    body = "".join(
        f'Kisumu,"The clinic was closed{phone.format(i) if i % 4 == 0 else ""}"\n' for i in range(40)
    )
    r = run("county,comment\n" + body, metadata=False)
    [f] = pii(r, "comment")
    assert "inside its text" in f.problem
    assert "10 of 40" in f.problem
    assert "Remove the phone numbers" in f.fix


def test_identifiers_after_the_first_batch_are_sampled(run):
    rows = [f"Kisumu,{'' if i < 200 else f'member{i}@kenyacso.or.ke'}\n" for i in range(400)]
    r = run("county,contact\n" + "".join(rows), metadata=False, batch_rows=100)
    [f] = pii(r, "contact")
    assert f.details["kind"] == "email"


# -- attributes: what the mapping would publish ----------------------------------------------------

COMMENTS = [
    "Met Asha Otieno at the dispensary, she will share the list",
    "Call the chair on +977 9841234567 for the ward data",
    "Contact 0712 345 678 for follow-up",
    "write to jane.wanjiku@gmail.com",
]


def kobo_like_with_comments(tmp_path: Path, comments: list[str]) -> tuple[Path, Path]:
    """The Kenya example with a Kobo-style comment column, mapped to COMMENT_OBS as it is."""
    lines = (KENYA / "data.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",group_feedback/comment"]
    for i, line in enumerate(lines[1:]):
        text = comments[i % len(comments)] if i % 3 == 0 else ""
        out.append(f'{line},"{text}"')
    data = tmp_path / "data.csv"
    data.write_text("\n".join(out) + "\n", encoding="utf-8")
    spec = yaml.safe_load(KENYA_MAPPING.read_text(encoding="utf-8"))
    # a Kobo group path: the mapping names the question, as for every Kobo column
    spec["attributes"]["COMMENT_OBS"] = {"column": "comment", "passthrough": True}
    spec["schema"]["fields"].append({"name": "comment", "type": "string"})
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return data, mapping


def test_identifiers_in_a_published_comment_block_validation(tmp_path):
    data, mapping = kobo_like_with_comments(tmp_path, COMMENTS)
    report = validate(data, metadata=KENYA / "quality.yaml", mapping=mapping)
    assert not report.valid
    [f] = [f for f in report if f.code == "identifier-in-attribute"]
    assert f.field == "comment"
    assert "COMMENT_OBS" in f.problem
    for what in ("phone numbers", "e-mail addresses", "people's names"):
        assert what in f.problem
    assert set(f.details["kinds"]) >= {"phone", "email", "person_name"}
    assert "9841234567" not in f.problem
    assert "jane.wanjiku" not in f.problem
    assert "--force does not publish identifiers" in f.fix


def test_forced_conversion_writes_nothing_when_attributes_hold_identifiers(tmp_path):
    data, mapping = kobo_like_with_comments(tmp_path, COMMENTS)
    out = tmp_path / "out.csv"
    result = convert(
        data, metadata=KENYA / "quality.yaml", mapping=mapping, to="sdmx-csv-2.0", output=out, force=True
    )
    assert result.written == 0
    assert result.refused is not None
    assert "identifier-in-attribute" in result.refused
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_comment_without_identifiers_is_published(tmp_path):
    clean = ["Collected in the rainy season", "Two facilities closed on the day of the visit"]
    data, mapping = kobo_like_with_comments(tmp_path, clean)
    report = validate(data, metadata=KENYA / "quality.yaml", mapping=mapping, options=Options())
    assert "identifier-in-attribute" not in report.codes()
    assert "pii-column" not in report.codes()
    out = tmp_path / "out.csv"
    result = convert(data, metadata=KENYA / "quality.yaml", mapping=mapping, to="sdmx-csv-2.0", output=out)
    assert result.refused is None, result.report.flatten("code", "field")
    assert "Collected in the rainy season" in out.read_text(encoding="utf-8")
