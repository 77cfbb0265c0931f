"""Drafting a mapping (`cgd-bridge mapping init`, #18): matching, realistic exports, the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.cli import main
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.draft import _Codes, _with_form, draft_mapping, match_label, normalise
from cgd_bridge.sdmx.contract import contract_for
from cgd_bridge.structures import Structures
from tests.corpus.mapping_exports import CASES, FIRST_EXPORTS, KE_FLOW, evaluate
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard" / "data.csv"


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


@pytest.fixture(scope="module")
def ke_codes(structures: Structures) -> dict[str, _Codes]:
    return {
        "REF_AREA": _Codes("CGD_BRIDGE:CL_AREA_KE(1.0)", structures),
        "SEX": _Codes("IAEG-SDGs:CL_SEX(1.1)", structures),
        "AGE": _Codes("IAEG-SDGs:CL_AGE(1.1)", structures),
        "DISABILITY_STATUS": _Codes("IAEG-SDGs:CL_DISABILITY(1.0)", structures),
    }


def test_normalise_drops_case_accents_punctuation_and_area_words() -> None:
    assert normalise("  Taita-Taveta COUNTY ") == "taita taveta"
    assert normalise("Nairobi City") == "nairobi"
    assert normalise("Murang’a") == normalise("Murang'a") == "murang a"
    assert normalise("Fémmes") == "female"
    assert normalise("Mwanamke") == normalise("F") == "female"


@pytest.mark.parametrize(
    ("dimension", "label", "code"),
    [
        ("REF_AREA", "Nairobi City", "KE_047"),
        ("REF_AREA", "Nairobi", "KE_047"),
        ("REF_AREA", "Mombasa County", "KE_001"),
        ("REF_AREA", "Taita Taveta", "KE_006"),
        ("REF_AREA", "Elgeyo-Marakwet County", "KE_028"),
        ("SEX", "Mwanaume", "M"),
        ("SEX", "FEMALE", "F"),
        ("SEX", "Both sexes", "_T"),
        ("SEX", "Jumla", "_T"),
        ("AGE", "60+", "Y_GE60"),
        ("AGE", "18 to 24 years", "Y18T24"),
        ("AGE", "miaka 25-34", "Y25T34"),
        ("DISABILITY_STATUS", "Without disability", "PWD"),
        ("DISABILITY_STATUS", "With disability", "PD"),
    ],
)
def test_a_label_gets_its_code(ke_codes: dict[str, _Codes], dimension: str, label: str, code: str) -> None:
    got, confidence, why = match_label(label, dimension, ke_codes[dimension])
    assert got == code, why
    assert confidence >= 0.8


def test_an_age_range_the_codelist_lacks_is_not_invented(ke_codes: dict[str, _Codes]) -> None:
    got, confidence, _ = match_label("17-23", "AGE", ke_codes["AGE"])
    assert got != "Y17T23"
    assert got is None or confidence < 0.8


@pytest.mark.parametrize("case", FIRST_EXPORTS, ids=[c.name for c in FIRST_EXPORTS])
def test_realistic_export_is_drafted_right(case, structures: Structures, tmp_path: Path) -> None:
    score = evaluate(tmp_path, structures, rows=40, cases=[case])
    assert not score.misses, score.misses
    drafted = score.drafts[case.name]
    out = tmp_path / "mapping.yaml"
    out.write_text(drafted.to_yaml(), encoding="utf-8")
    loaded, _ = load_mapping(out)  # the file loads with the existing loader
    assert loaded.dataflow == case.dataflow
    assert "% sure" in drafted.to_yaml().split("dimensions:")[1]  # every guess is commented
    # and it maps every row: no label without a code, observations for every row
    data, form = score.files[case.name]
    contract = contract_for(case.dataflow, structures)
    h = apply_mapping(open_table(data, form=form), loaded, contract=contract)
    assert not h.unmapped
    assert h.table.num_rows > 0


def test_a_swahili_export_labels_keep_the_words_they_came_with(
    structures: Structures, tmp_path: Path
) -> None:
    case = next(c for c in CASES if c.name == "uganda-kobo-microdata")
    data, form = case.write(tmp_path, 30)
    drafted = draft_mapping(data, dataflow=case.dataflow, structures=structures, form=form)
    sex = drafted.mapping["dimensions"]["SEX"]["map"]
    assert {"1", "Female", "Mwanamke"} <= set(sex["F"])  # the form's labels in both languages
    assert drafted.mapping["totals"] == {"SEX": "_T", "AGE": "Y15T64", "URBANISATION": "_T"}


# -- the command -------------------------------------------------------------------------------


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`cgd-bridge ARGS` in this process, as the console script runs it: (exit code, out, err)."""
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_init_writes_the_file_and_lists_what_to_confirm(tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.yaml"
    # --no-bundled: the example's own bundled mapping would confirm its SERIES
    args = ["mapping", "init", str(KENYA), "--dataflow", KE_FLOW, "-o", str(out), "--no-bundled"]
    code, _, err = _run(args, capsys)
    assert code == 0, err
    assert "to confirm" in err
    assert "SERIES" in err
    loaded, _ = load_mapping(out)
    assert loaded.dimensions["SEX"].column == "sex"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.yaml"
    out.write_text("mine\n", encoding="utf-8")
    args = ["mapping", "init", str(KENYA), "--dataflow", KE_FLOW, "-o", str(out)]
    code, _, err = _run(args, capsys)
    assert code == 2
    assert "--force" in err
    assert out.read_text(encoding="utf-8") == "mine\n"
    code, _, err = _run([*args, "--force"], capsys)
    assert code == 0, err
    assert out.read_text(encoding="utf-8").startswith("# Drafted by")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dataflow", "NOPE:DF_NONE(1.0)"], "DF_NONE"),
        (["--dataflow", KE_FLOW, "--form", "missing-form.xlsx"], "missing-form.xlsx"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: list[str], words: str, capsys) -> None:
    code, _, err = _run(["mapping", "init", str(KENYA), *args, "-o", str(tmp_path / "m.yaml")], capsys)
    assert code == 2
    assert words in err
    assert "Traceback" not in err
    assert not (tmp_path / "m.yaml").exists()


def test_odd_labels_cannot_break_the_file_and_unknown_ones_are_not_guessed(
    structures: Structures, tmp_path: Path
) -> None:
    """A label with a line break stays inside its comment (no YAML injected); a county that is
    not in the codelist is left out of the map, named, and listed to confirm."""
    data = tmp_path / "scorecard.csv"
    data.write_text(
        'county,sex,year,respondents,satisfied\nAtlantis,Female,2024,10,5\nKisumu,"Fe\nmale: x",2024,10,5\n'
        "Kisumu,Male,2024,10,5\nNakuru,Female,2024,10,4\nNakuru,Male,2024,9,3\n",
        encoding="utf-8",
    )
    drafted = draft_mapping(data, dataflow=KE_FLOW, structures=structures)
    out = tmp_path / "m.yaml"
    out.write_text(drafted.to_yaml(), encoding="utf-8")
    loaded, _ = load_mapping(out)
    assert "Atlantis" not in {
        label for labels in loaded.dimensions["REF_AREA"].map.values() for label in labels
    }
    assert "# not mapped (rows left out): 'Atlantis'" in drafted.to_yaml()
    assert any(g.what == "REF_AREA 'Atlantis'" for g in drafted.uncertain())
    assert all("\n" not in g.line() for g in drafted.guesses)
    # five cells with respondents and satisfied: aggregate data, a proportion
    assert loaded.aggregate is None
    assert loaded.value is not None
    assert loaded.value.kind == "proportion"


def test_the_numerator_is_the_count_that_fits_in_the_denominator(
    structures: Structures, tmp_path: Path
) -> None:
    data = tmp_path / "scorecard.csv"
    data.write_text(
        "county,sex,year,visits,respondents,satisfied\nKisumu,Female,2024,40,10,5\nKisumu,Male,2024,31,12,7\n"
        "Nakuru,Female,2024,52,10,4\nNakuru,Male,2024,38,9,3\n",
        encoding="utf-8",
    )
    drafted = draft_mapping(data, dataflow=KE_FLOW, structures=structures)
    assert drafted.mapping["value"]["numerator"] == "satisfied"  # visits outnumber the respondents
    assert drafted.mapping["value"]["denominator"] == "respondents"


def test_a_question_is_known_by_its_label_in_every_language(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == "uganda-kobo-microdata")
    data, form = case.write(tmp_path, 10)
    table = open_table(data, form=form)
    column = next(c for c in table.columns if c.name == "q1")
    texts = _with_form(column, ["1", "2"], table.form).texts
    assert "What is your gender?" in texts
    assert "Jinsia yako ni ipi?" in texts  # the Swahili label too, matched against SEX's names
