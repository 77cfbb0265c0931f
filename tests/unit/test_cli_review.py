"""The answers of the interactive review (`mapping init --interactive`, #18), without a terminal:
what each key means, the search of the codelist, and the review remaking the draft."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.cli_review import Quit, Search, parse, review, search, show
from cgd_bridge.mapping.draft import Candidate, Decisions, Draft, Question, draft_mapping
from cgd_bridge.structures import Structures
from tests.corpus.mapping_exports import SECOND_EXPORTS

SECOND = SECOND_EXPORTS[0]
AREAS = {"KE_047": "Nairobi City", "KE_001": "Mombasa", "KE_042": "Kisumu", "800": "Eight hundred"}


def _label(proposed: str | None = "KE_042") -> Question:
    cands = [Candidate("KE_042", "Kisumu", 0.6, "close"), Candidate("KE_001", "Mombasa", 0.3, "far")]
    return Question("REF_AREA", "KSM", "Eneo", proposed, 0.6, "close", cands, AREAS)


def test_each_key_means_what_the_screen_says() -> None:
    q = _label()
    cands = q.candidates
    assert parse(q, "", cands, []) == "KE_042"  # Enter: the proposal
    assert parse(_label(None), "", cands, []) is None  # Enter with nothing proposed: skipped
    assert parse(q, "2", cands, []) == "KE_001"  # a number: that candidate
    assert parse(q, " s ", cands, []) is None
    assert parse(q, "ke_047", cands, []) == "KE_047"  # a code, any case
    assert parse(q, "800", cands, []) == "800"  # a number beyond the candidates is a code
    assert parse(q, "=800", cands, []) == "800"
    with pytest.raises(Quit):
        parse(q, "Q", cands, [])
    got = parse(q, "nairobi", cands, [])
    assert isinstance(got, Search)
    assert [c.choice for c in got.found][:1] == ["KE_047"]
    assert parse(q, "zzzzqqq", cands, []) == Search("zzzzqqq", [])


def test_a_dimension_answer_is_a_column_or_a_code() -> None:
    q = Question("SEX", None, None, "value:_T", 0.6, "no column", [], {"F": "Female", "_T": "Total"})
    columns = ["Jinsia ya mhojiwa", "Eneo"]
    assert parse(q, "jinsia ya mhojiwa", [], columns) == "column:Jinsia ya mhojiwa"
    assert parse(q, "_t", [], columns) == "value:_T"
    assert [c.choice for c in search(q, "jinsia", columns)] == ["column:Jinsia ya mhojiwa"]
    unused = Question("", None, "Kundi", None, 0.0, "unused", [], {"AGE": "age", "SEX": "sex"})
    assert parse(unused, "age", [], columns) == "dimension:AGE"


def test_the_review_remakes_the_draft_with_the_answers(tmp_path: Path) -> None:
    """Dimensions first; the labels asked are those of the draft remade with those answers."""
    structures = Structures.load(None)
    data, _ = SECOND.write(tmp_path, 40)
    drafts: list[Decisions] = []

    def redraft(decisions: Decisions) -> Draft:
        drafts.append(Decisions(dict(decisions.columns), dict(decisions.labels)))
        return draft_mapping(data, dataflow=SECOND.dataflow, structures=structures, decisions=decisions)

    asked: list[str] = []
    typed = {
        "REF_AREA": "Eneo",
        "column Jinsia ya mhojiwa": "SEX",
        "NRB": "KE_047",
        "Kike": "F",
        "Kiume": "=M",
    }

    def ask(q: Question, candidates: list[Candidate], n: int, of: int) -> str:
        what = q.label or q.dimension or f"column {q.column}"
        asked.append(what)
        return typed.get(what, "s")

    final = review(redraft, ask, lambda line: None)
    assert asked.index("REF_AREA") < asked.index("NRB")  # the labels of the column chosen
    assert len(drafts) == 3  # the first draft, after the dimensions, after the labels
    dims = final.mapping["dimensions"]
    assert dims["REF_AREA"]["column"] == "Eneo"
    assert dims["REF_AREA"]["map"]["KE_047"] == ["NRB"]
    assert dims["SEX"] == {
        "column": "Jinsia ya mhojiwa",
        "map": {"F": ["Kike"], "M": ["Kiume"], "_T": ["Jumla"]},
    }
    assert "'Kike' is F 'Female': chosen in the review" in final.to_yaml()
    # what was skipped stays as drafted: MSA has no code, and is named as not mapped
    assert "'MSA'" in final.to_yaml().split("REF_AREA:")[1].split("SEX:")[0]


def test_a_column_chosen_in_the_review_is_taken_whatever_it_holds(tmp_path: Path) -> None:
    """Even one the draft would never offer (a column of years that is not the period, one whose
    values match no code): the person chose it, and validation judges it."""
    structures = Structures.load(None)
    data = tmp_path / "cohorts.csv"
    rows = [f"{y},{c},{s},{n}" for y in (2022, 2023) for c in (1990, 2000) for s in ("F", "M") for n in (5,)]
    data.write_text("year,cohort,sex,count\n" + "\n".join(rows) + "\n", encoding="utf-8")
    flow = "IAEG-SDGs:DF_SDG_GLH(1.5)"
    alone = draft_mapping(data, dataflow=flow, structures=structures)
    assert "column" not in alone.mapping["dimensions"]["AGE"]
    decided = Decisions(columns={"AGE": "column:cohort"})
    drafted = draft_mapping(data, dataflow=flow, structures=structures, decisions=decided)
    assert drafted.mapping["dimensions"]["AGE"]["column"] == "cohort"
    assert "'cohort' chosen in the review; 0% of its values have a code" in drafted.to_yaml()


def test_a_label_cannot_drive_the_terminal() -> None:
    """A label holding an escape sequence or a line break is shown as plain text."""
    q = Question("REF_AREA", "NRB\x1b[2J\nrm -rf", "Eneo\x07", None, 0.2, "odd \x1b[31mred", [], AREAS)
    shown = show(q, [Candidate("KE_047", "Nairobi\x1b[0m", 0.2, "")], 1, 1)
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "'NRB [2J rm -rf' in column 'Eneo '" in shown


@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_the_question_reads_in_the_language(lang: str) -> None:
    """`mapping init --interactive --lang sw`: the question, the proposal and the keys are in the
    language; the data's label and column, and the codes, stay as they are."""
    from cgd_bridge.i18n import translator

    t = translator(lang)
    q = Question("SEX", "Mwanamke", "jinsia", "value:F", 0.62, "x", [], {"F": "Female", "M": "Male"})
    shown = show(
        q, [Candidate("value:F", "Female", 0.62, ""), Candidate("value:M", "Male", 0.2, "")], 2, 7, t
    )
    head = t("{dimension}: '{label}' in column '{column}' is which code?", dimension="SEX", label="Mwanamke",
             column="jinsia")  # fmt: skip
    assert head in shown
    assert t("code {code}", code="F") in shown
    keys = (
        "Enter: the proposal   1-9 or arrows: a candidate   type: search codes and names   s: skip   q: quit"
    )
    assert t(keys) in shown
    assert "which code" not in shown
    assert "The draft proposes" not in shown
