"""Table checks: headers, types, constraints, required values, blank rows, keys."""

from __future__ import annotations

from tests.unit.checks.conftest import AGG_SCHEMA

HEAD = "county,sex,year,respondents,satisfied\n"


def test_clean_table_has_no_table_findings(run):
    r = run(HEAD + "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Total,2024,40,20\n",
            schema=AGG_SCHEMA, metadata=False)  # fmt: skip
    assert r.valid, r.flatten("row", "field", "code")
    assert r.stats["rows"] == 3


def test_type_errors_name_row_column_and_value(run):
    r = run(HEAD + "Kisumu,Female,2024,twenty,10\nKisumu,Male,24,20,10\n", schema=AGG_SCHEMA, metadata=False)
    assert ("type-error", 2, "respondents", "twenty") in r.flatten("code", "row", "field", "value")
    assert ("type-error", 3, "year", "24") in r.flatten("code", "row", "field", "value")
    msg = next(f.message for f in r if f.value == "twenty")
    assert msg.startswith("data.csv, row 2, column 'respondents': 'twenty' is not a whole number.")


def test_enum_minimum_and_required(run):
    r = run(HEAD + "Kisumu,Femme,2024,20,10\nKisumu,,2024,-1,0\n", schema=AGG_SCHEMA, metadata=False)
    flat = r.flatten("code", "row", "field")
    assert ("constraint-error", 2, "sex") in flat
    assert ("missing-value", 3, "sex") in flat
    assert ("constraint-error", 3, "respondents") in flat
    enum_msg = next(f.message for f in r if f.code == "constraint-error" and f.field == "sex")
    assert "'Femme'" in enum_msg
    assert "'Female', 'Male', 'Total'" in enum_msg


def test_pattern_and_length_constraints(run):
    schema = {"fields": [{"name": "code", "type": "string",
                          "constraints": {"pattern": "[A-Z]{2}", "maxLength": 2}}]}  # fmt: skip
    r = run("code\nKE\nkenya\n", schema=schema, metadata=False)
    assert r.flatten("code", "row") == [("constraint-error", 3), ("constraint-error", 3)]


def test_headers_blank_duplicate_missing_extra(run):
    r = run(
        "county,sex,sex,,year,respondents,notes\nK,Female,Female,x,2024,3,\n",
        schema=AGG_SCHEMA,
        metadata=False,
    )
    flat = r.flatten("code", "field")
    assert ("duplicate-header", "sex") in flat
    assert ("blank-header", None) in flat
    assert ("missing-column", "satisfied") in flat
    assert ("extra-column", "notes") in flat


def test_missing_column_suggests_the_close_name(run):
    r = run("County,Sex,year,respondents,satisfied_n\nK,Female,2024,3,1\n", schema=AGG_SCHEMA, metadata=False)
    msg = next(f.message for f in r if f.code == "missing-column" and f.field == "satisfied")
    assert "satisfied_n" in msg


def test_blank_rows(run):
    r = run(
        HEAD + "Kisumu,Female,2024,20,10\n,,,,\n\nKisumu,Male,2024,20,10\n", schema=AGG_SCHEMA, metadata=False
    )
    assert [row for row, code in r.flatten("row", "code") if code == "blank-row"] == [3, 4]


def test_duplicate_primary_key_names_all_rows(run):
    body = "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Female,2024,21,10\n"
    r = run(HEAD + body, schema=AGG_SCHEMA, metadata=False)
    dup = [f for f in r if f.code == "duplicate-key"]
    assert len(dup) == 1
    assert dup[0].rows == (2, 4)
    assert dup[0].row == 4


def test_unique_constraint(run):
    schema = {"fields": [{"name": "id", "type": "integer", "constraints": {"unique": True}}]}
    r = run("id\n1\n2\n1\n1\n", schema=schema, metadata=False)
    f = next(f for f in r if f.code == "unique-error")
    assert f.rows == (2, 4, 5)
    assert r.counts[("unique-error", f.severity, "data")] == 2


def test_rows_with_wrong_cell_counts_keep_real_row_numbers(run):
    r = run(
        HEAD + "Kisumu,Female,2024,20,10,extra\nKisumu,Male,2024,x,10\n", schema=AGG_SCHEMA, metadata=False
    )
    flat = r.flatten("code", "row")
    assert ("extra-cell", 2) in flat
    assert ("type-error", 3) in flat  # the row after a skipped row keeps its own number


def test_empty_table(run):
    r = run(HEAD, schema=AGG_SCHEMA, metadata=False)
    assert "empty-table" in r.codes()
    assert not r.valid


def test_counts_stay_exact_beyond_the_kept_limit(run):
    body = "".join(f"A{i},Female,2024,x,1\n" for i in range(3000))
    r = run(HEAD + body, schema=AGG_SCHEMA, metadata=False, batch_rows=1000)
    errors = [f for f in r if f.code == "type-error"]
    assert r.counts[("type-error", errors[0].severity, "data")] == 3000
    assert len(errors) <= 1000
    assert r.partial
    assert r.omitted["type-error"] == 3000 - len(errors)


def test_system_columns_are_noted_not_checked(run):
    r = run("county,_id,_submission_time\nK,1,2024-01-01\n", metadata=False)
    assert ("system-column", "_id") in r.flatten("code", "field")


def test_inferred_schema_flags_typos_in_number_columns(run):
    r = run("county,respondents\nA,10\nB,12\nC,1O\nD,9\n", metadata=False)
    assert ("type-error", 4, "respondents") in r.flatten("code", "row", "field")
    assert r.stats["schema"] == "inferred"
