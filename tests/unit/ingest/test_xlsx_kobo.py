"""Reading XLSX sheets and Kobo/ODK exports with and without their XLSForm."""

from __future__ import annotations

import datetime as dt

import pytest

from cgd_bridge.errors import InputError
from cgd_bridge.ingest import open_table, read_xlsform


def values(table):
    out = []
    for batch in table.batches():
        out.extend(zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True))
    return [list(r) for r in out]


def test_first_sheet_cells_as_text(xlsx):
    path = xlsx(
        "d.xlsx", {"Data": [["a", "b", "c", "d"], [1, 2.5, dt.date(2024, 1, 2), True], [None, 3, None, "x"]]}
    )
    t = open_table(path)
    assert t.info.format == "xlsx"
    assert t.info.sheet == "Data"
    assert values(t) == [["1", "2.5", "2024-01-02", "true"], [None, "3", None, "x"]]


def test_named_sheet_and_unknown_sheet(xlsx):
    path = xlsx("d.xlsx", {"Notes": [["x"]], "Data": [["a"], [1]]})
    assert values(open_table(path, sheet="Data")) == [["1"]]
    with pytest.raises(InputError, match="no sheet called 'Nope'") as exc:
        open_table(path, sheet="Nope")
    assert "Notes, Data" in exc.value.message


def test_trailing_blank_rows_are_not_data_but_inner_ones_are(xlsx):
    path = xlsx("d.xlsx", {"S": [["a"], [1], [None], [2], [None], [None]]})
    assert values(open_table(path)) == [["1"], [None], ["2"]]


def test_not_an_xlsx(write):
    with pytest.raises(InputError, match="Excel") as exc:
        open_table(write("broken.xlsx", b"PK\x03\x04 not really a zip"))
    assert "broken.xlsx" in exc.value.message


def test_kobo_group_paths_and_meta_columns_without_form(write):
    t = open_table(
        write(
            "export.csv",
            "respondent/district,respondent/sex,wg/wg_seeing,_id,_uuid,_submission_time,_gps_latitude\n"
            "Kaski,female,1,1,abc,2024-01-01,27.7\n",
        )
    )
    assert [c.name for c in t.columns][:3] == ["district", "sex", "wg_seeing"]
    kinds = {c.header: c.kind for c in t.columns}
    assert kinds["_id"] == "meta"
    assert kinds["_uuid"] == "meta"
    assert kinds["_gps_latitude"] == "gps"


def test_a_slash_between_words_is_no_group_path(write):
    """'Gender / Mtundu' is a header in two languages, not the question 'Mtundu' of a group
    'Gender ': the name is the whole header, never one with a space in front (#18: the mapping
    builder shows it)."""
    t = open_table(
        write("e.csv", "Gender / Mtundu,respondent/age,Disability (Ulumali)\nMkazi,24,Ali ndi ulumali\n")
    )
    assert [c.name for c in t.columns] == ["Gender / Mtundu", "age", "Disability (Ulumali)"]


def test_ambiguous_group_paths_keep_the_full_header(write):
    t = open_table(write("e.csv", "a/name_q,b/name_q\n1,2\n"))
    assert [c.name for c in t.columns] == ["a/name_q", "b/name_q"]


@pytest.fixture
def form(xlsx):
    return xlsx(
        "form.xlsx",
        {
            "survey": [
                ["type", "name", "label::English (en)", "label::Nepali (ne)"],
                ["begin_group", "respondent", "Respondent", ""],
                ["select_one sex", "sex", "Sex", "लिङ्ग"],
                ["integer", "age", "Age", "उमेर"],
                ["geopoint", "gps", "Location", ""],
                ["end_group", "", "", ""],
                ["select_multiple services", "services_used", "Services", ""],
                ["note", "thanks", "Thank you", ""],
            ],
            "choices": [
                ["list_name", "name", "label::English (en)", "label::Nepali (ne)"],
                ["sex", "female", "Female", "महिला"],
                ["sex", "male", "Male", "पुरुष"],
                ["services", "health", "Health", ""],
                ["services", "water", "Water", ""],
            ],
            "settings": [["form_id", "version"], ["nepal_youth", "2024.1"]],
        },
    )


def test_xlsform_is_read(form):
    f = read_xlsform(form)
    assert f.version == "2024.1"
    assert f.form_id == "nepal_youth"
    assert f.questions["sex"].list_name == "sex"
    assert f.questions["sex"].path == ("respondent",)
    assert "thanks" not in f.questions
    assert f.label_to_name(f.questions["sex"])["महिला"] == "female"


def test_export_with_form_resolves_choice_and_gps_columns(write, form):
    t = open_table(
        write(
            "export.csv",
            "respondent/sex,respondent/age,respondent/gps,_respondent/gps_latitude,services_used,"
            "services_used/health,services_used/water\nfemale,20,27.7 85.3 0 5,27.7,health,1,0\n",
        ),
        form=form,
    )
    by = {c.header: c for c in t.columns}
    assert by["respondent/gps"].kind == "gps"
    assert by["_respondent/gps_latitude"].kind == "gps"
    assert by["services_used/health"].kind == "choice"
    assert by["services_used/health"].question == "services_used"
    assert by["respondent/sex"].question == "sex"


def test_csv_export_of_form_with_repeats_is_refused(write, xlsx):
    f = xlsx(
        "form.xlsx",
        {"survey": [["type", "name"], ["begin_repeat", "member"], ["integer", "age"], ["end_repeat", ""]]},
    )
    with pytest.raises(InputError, match="repeat") as exc:
        open_table(write("export.csv", "member/age\n3\n"), form=f)
    assert "XLSX" in exc.value.message


def test_form_without_survey_sheet(xlsx, write):
    f = xlsx("data_not_form.xlsx", {"Sheet1": [["a"], [1]]})
    with pytest.raises(InputError, match="survey"):
        open_table(write("e.csv", "a\n1\n"), form=f)
