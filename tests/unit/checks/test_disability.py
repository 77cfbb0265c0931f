"""Washington Group Short Set: recomputed status, missing and invalid answers."""

from __future__ import annotations

DOMAINS = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
SCHEMA = {
    "dataKind": "microdata",
    "fields": [
        *({"name": f"wg_{d}", "type": "string", "role": "wg", "wgDomain": d} for d in DOMAINS),
        {"name": "disability", "type": "string", "role": "disability_status",
         "disabilityValues": {"with": ["yes"], "without": ["no"]}},
    ],
}  # fmt: skip
HEAD = ",".join(f"wg_{d}" for d in DOMAINS) + ",disability\n"


def test_status_matches_cut_off(run):
    body = "1,1,1,1,1,1,no\n1,2,1,1,1,1,no\n3,1,1,1,1,1,yes\n1,1,1,1,1,4,yes\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    assert not {c for c in r.codes() if c.startswith("wg-")}


def test_mismatch_is_reported_per_row(run):
    body = "1,1,1,1,1,1,yes\n3,1,1,1,1,1,no\n2,2,2,2,2,2,no\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    assert [(f.row, f.value) for f in r if f.code == "wg-status-mismatch"] == [(2, "yes"), (3, "no")]


def test_missing_answers_are_reported_never_imputed(run):
    body = "1,,1,1,1,1,no\n,,3,1,1,1,yes\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    missing = [(f.row, f.field) for f in r if f.code == "wg-missing-answer"]
    assert missing == [(2, "wg_hearing"), (3, "wg_seeing"), (3, "wg_hearing")] or sorted(missing) == sorted(
        [(2, "wg_hearing"), (3, "wg_seeing"), (3, "wg_hearing")]
    )
    # row 2 has a missing answer and no 'a lot'/'cannot': unknown, so 'no' is not contradicted
    assert "wg-status-mismatch" not in r.codes()


def test_labels_are_understood_and_invalid_answers_reported(run):
    body = "No difficulty,Some difficulty,A lot of difficulty,1,1,1,yes\nmaybe,1,1,1,1,1,no\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    assert [(f.row, f.value) for f in r if f.code == "wg-invalid-answer"] == [(3, "maybe")]
    assert "wg-status-mismatch" not in r.codes()


def test_ambiguous_pwd_label_is_explained(run):
    schema = {**SCHEMA, "fields": [*SCHEMA["fields"][:6], {"name": "disability", "type": "string",
                                                          "role": "disability_status"}]}  # fmt: skip
    r = run(HEAD + "3,1,1,1,1,1,PWD\n", schema=schema, metadata=False)
    f = next(f for f in r if f.code == "wg-status-mismatch")
    assert "WITHOUT disability" in f.fix


def test_incomplete_set_is_a_warning(run):
    schema = {"dataKind": "microdata", "fields": SCHEMA["fields"][:3]}
    r = run("wg_seeing,wg_hearing,wg_walking\n1,1,1\n", schema=schema, metadata=False)
    assert "wg-incomplete" in r.codes()


def test_an_unknown_status_is_not_an_error_with_an_impossible_fix(run):
    """#13: 'unknown' (or don't know) is a status, neither with nor without disability: the check
    must not ask to list it as one of them; the mapping can drop or keep those rows."""
    body = "1,,1,1,1,1,unknown\n,1,1,1,1,1,Don't know\n1,1,1,1,1,1,no\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    assert "wg-status-mismatch" not in r.codes()


def test_the_schema_names_its_own_unknown_words(run):
    schema = {**SCHEMA, "fields": [*SCHEMA["fields"][:6], {
        "name": "disability", "type": "string", "role": "disability_status",
        "disabilityValues": {"with": ["có"], "without": ["không"], "unknown": ["không rõ"]}}]}  # fmt: skip
    r = run(HEAD + "1,1,1,1,1,1,không\n1,,1,1,1,1,không rõ\n3,1,1,1,1,1,có\n", schema=schema, metadata=False)
    assert "wg-status-mismatch" not in r.codes()
    r = run(HEAD + "1,,1,1,1,1,chưa hỏi\n", schema=schema, metadata=False)
    f = next(f for f in r if f.code == "wg-status-mismatch")
    assert "unknown: [...]" in f.fix


def test_answers_with_extra_spaces_are_understood(run):
    body = "No  difficulty , Some difficulty,a lot of difficulty,1,1,1,yes\n"
    r = run(HEAD + body, schema=SCHEMA, metadata=False)
    assert not {c for c in r.codes() if c in ("wg-invalid-answer", "wg-status-mismatch")}
