"""Privacy, small cells with secondary suppression, totals, coherence with the metadata."""

from __future__ import annotations

import pytest

from tests.unit.checks.conftest import AGG_SCHEMA

HEAD = "county,sex,year,respondents,satisfied\n"


@pytest.mark.parametrize(
    "header",
    ["respondent_name", "Phone number", "email", "national_id", "GPS", "latitude", "huduma_number", "_uuid",
     "_submitted_by", "username", "deviceid"],
)  # fmt: skip
def test_identifier_columns_by_name(run, header):
    r = run(f"county,{header}\nA,x\n", metadata=False)
    assert ("pii-column", header) in r.flatten("code", "field")


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (["+254 712 345 678", "0712345679", "0722000111"], "phone numbers"),
        (["a@b.org", "c@d.com", "e@f.ke"], "e-mail addresses"),
        (["-1.28333 36.81667", "-0.1022 34.7617", "-0.3031 36.0800"], "GPS"),
    ],
)
def test_identifier_columns_by_content(run, values, what):
    body = "".join(f"A,{v}\n" for v in values)
    r = run("county,contact\n" + body, metadata=False)
    f = next(f for f in r if f.code == "pii-column")
    assert f.field == "contact"
    assert what in f.problem


def test_free_text_is_a_warning(run):
    body = "".join(
        f"A,My story number {i} is about the clinic where the nurse was rude today\n" for i in range(30)
    )
    r = run("county,comment\n" + body, metadata=False)
    assert ("free-text-column", "comment") in r.flatten("code", "field")


def test_small_cells_and_secondary_suppression_on_aggregates(run):
    body = (
        "Kisumu,Female,2024,3,2\n"  # primary: respondents 3 < 5
        "Kisumu,Male,2024,30,20\n"  # secondary: Total - Male would reveal Female
        "Kisumu,Total,2024,33,22\n"
        "Nakuru,Female,2024,30,20\nNakuru,Male,2024,30,20\nNakuru,Total,2024,60,40\n"
    )
    r = run(HEAD + body, schema=AGG_SCHEMA, metadata=False)
    assert [f.row for f in r if f.code == "small-cell"] == [2]
    sec = [f for f in r if f.code == "secondary-suppression"]
    assert [f.row for f in sec] == [3]
    assert "row 2" in sec[0].problem
    assert r.valid  # warnings: the bridge suppresses on conversion


def test_threshold_from_metadata(run):
    body = "Kisumu,Female,2024,4,4\nKisumu,Male,2024,30,20\nKisumu,Total,2024,34,24\n"
    assert (
        "small-cell"
        not in run(HEAD + body, schema=AGG_SCHEMA, meta={"privacy.disclosure_control.threshold": 3}).codes()
    )
    assert (
        "small-cell"
        in run(HEAD + body, schema=AGG_SCHEMA, meta={"privacy.disclosure_control.threshold": 5}).codes()
    )


def test_small_cells_in_microdata_are_counted_by_combination(run):
    rows = ["Kaski,female"] * 3 + ["Kaski,male"] * 9 + ["Banke,female"] * 7 + ["Banke,male"] * 8
    schema = {"fields": [{"name": "district", "type": "string", "role": "area"},
                         {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX"}],
              "dataKind": "microdata"}  # fmt: skip
    r = run("district,sex\n" + "\n".join(rows) + "\n", schema=schema, metadata=False)
    small = [f for f in r if f.code == "small-cell"]
    assert len(small) == 1
    assert small[0].details["cell"] == {"district": "Kaski", "sex": "female"}
    assert small[0].row is None
    sec = [f.details["cell"] for f in r if f.code == "secondary-suppression"]
    assert sec == [{"district": "Kaski", "sex": "male"}]


def test_total_mismatch_names_total_and_parts(run):
    body = "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Total,2024,41,20\n"
    r = run(HEAD + body, schema=AGG_SCHEMA, metadata=False)
    f = next(f for f in r if f.code == "total-mismatch")
    assert f.row == 4
    assert f.rows == (4, 2, 3)
    assert f.field == "respondents"
    assert "add up to 40" in f.problem
    assert "says 41" in f.problem


def test_total_tolerance(run):
    body = "Kisumu,Female,2024,200,100\nKisumu,Male,2024,200,100\nKisumu,Total,2024,401,200\n"
    assert "total-mismatch" in run(HEAD + body, schema=AGG_SCHEMA, metadata=False).codes()
    assert "total-mismatch" not in run(HEAD + body, schema=AGG_SCHEMA, metadata=False, tolerance=0.01).codes()
    schema = {**AGG_SCHEMA, "totalTolerance": 0.01}
    assert "total-mismatch" not in run(HEAD + body, schema=schema, metadata=False).codes()


def test_count_above_denominator(run):
    r = run(HEAD + "Kisumu,Female,2024,20,25\n", schema=AGG_SCHEMA, metadata=False)
    f = next(f for f in r if f.code == "count-above-denominator")
    assert f.row == 2
    assert "satisfied (25) is larger than respondents (20)" in f.problem


def test_sample_size_against_metadata(run):
    body = "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Total,2024,40,20\n"
    r = run(HEAD + body, schema=AGG_SCHEMA, meta={"sampling.n_achieved": 41})
    f = next(f for f in r if f.code == "sample-size-mismatch")
    assert f.field == "sampling.n_achieved"
    assert "41" in f.problem
    assert "40" in f.problem


def test_periods_and_areas_against_metadata(run):
    body = "Kisumu,Female,2023,20,10\nMombasa,Male,2024,20,10\n"
    r = run(HEAD + body, schema=AGG_SCHEMA, meta={"geography.ref_areas": ["Kisumu", "Nakuru"]})
    flat = {(f.code, f.severity.value) for f in r}
    assert ("period-mismatch", "error") in flat
    assert ("area-mismatch", "error") in flat
    assert ("area-mismatch", "warning") in flat
    period = next(f for f in r if f.code == "period-mismatch")
    assert "'2023'" in period.problem


def test_declared_groups_need_columns(run):
    r = run(
        "county,year,respondents\nKisumu,2024,40\n",
        meta={"population.groups": [{"code": "PD"}, {"code": "F"}]},
    )
    groups = [f.problem for f in r if f.code == "group-not-in-data"]
    assert len(groups) == 2
    assert "disability status" in groups[0]
    assert "sex" in groups[1]
