"""Learning from earlier work (`mapping init --learn-from`, #18): evidence from earlier mappings,
the bundled ones and open-sdg maps; a second export of the same CSO gets the earlier choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.cli import main
from cgd_bridge.errors import InputError, MappingError
from cgd_bridge.i18n import ENGLISH
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.draft import draft_mapping
from cgd_bridge.mapping.evidence import Evidence, load_evidence
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.contract import contract_for
from cgd_bridge.structures import Structures
from tests.corpus.mapping_exports import FIRST_EXPORTS, SDG_FLOW, SECOND_EXPORTS, evaluate
from tests.support.paths import ROOT

SECOND = SECOND_EXPORTS[0]


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


def test_a_second_export_gets_the_earlier_choices(structures: Structures, tmp_path: Path) -> None:
    """Renamed columns, county abbreviations, Swahili adjectives and age-band codes: nothing in
    the codelists says what they are, the CSO's 2023 mapping and open-sdg code map do."""
    alone = evaluate(tmp_path / "alone", structures, rows=40, cases=[SECOND])
    assert alone.labels_right == 0
    assert alone.dimension_share < 0.9
    learnt = evaluate(tmp_path / "learnt", structures, rows=40, cases=[SECOND], learn=True)
    assert not learnt.misses, learnt.misses
    text = learnt.drafts[SECOND.name].to_yaml()
    # the comments say where each choice came from
    assert "'NRB' is KE_047 'Nairobi City' as in earlier/ke-scorecard-2023.yaml" in text
    assert "'AG1' is Y18T24 '18 to 24 years old' as in earlier/open-sdg/code-map.csv" in text
    assert "'Eneo' is REF_AREA as in earlier/ke-scorecard-2023.yaml" in text
    # a county the earlier work never saw is still matched by the codelist
    assert "'Kakamega' is the name of KE_037" in text
    out = tmp_path / "m.yaml"
    out.write_text(text, encoding="utf-8")
    loaded, _ = load_mapping(out)
    data, form = learnt.files[SECOND.name]
    h = apply_mapping(open_table(data, form=form), loaded, contract=contract_for(SECOND.dataflow, structures))
    assert not h.unmapped
    assert loaded.dimensions["SERIES"].value == "SP_PSR_SATIS"  # the earlier fixed code, to confirm
    assert any(g.what == "SERIES" and g.confidence < 0.8 for g in learnt.drafts[SECOND.name].guesses)


@pytest.mark.parametrize("case", FIRST_EXPORTS, ids=[c.name for c in FIRST_EXPORTS])
def test_the_bundled_mappings_do_not_mislead_a_first_export(
    case, structures: Structures, tmp_path: Path
) -> None:
    """The Nepal mapping's derived 'yes' -> PD is no evidence that a yes/no column is a disability
    status; Kenyan county codes are no evidence for the SDG dataflow's REF_AREA."""
    score = evaluate(tmp_path, structures, rows=40, cases=[case], learn=True)
    assert not score.misses, score.misses


def _mapping(flow: str, **dims: dict[str, object]) -> Mapping:
    return Mapping.model_validate({"dataflow": flow, "dimensions": dims})


def test_most_sources_win_and_codes_outside_the_codelist_are_ignored() -> None:
    ev = Evidence()
    ev.add_mapping(_mapping(SDG_FLOW, SEX={"column": "g", "map": {"F": ["Wanawake"]}}), "a.yaml")
    ev.add_mapping(_mapping(SDG_FLOW, SEX={"column": "g", "map": {"M": ["wanawake"]}}), "b.yaml")
    ev.add_mapping(_mapping(SDG_FLOW, SEX={"column": "G", "map": {"F": ["WANAWAKE "]}}), "c.yaml")
    hit = ev.label("SEX", " wanawake.", ["F", "M", "_T"])
    assert hit is not None
    assert (hit.choice, hit.sources) == ("F", 2)
    assert hit.share == pytest.approx(2 / 3)
    assert ev.label("SEX", "Wanawake", ["M"]).choice == "M"  # type: ignore[union-attr]
    assert ev.label("SEX", "Wanawake", ["_T"]) is None
    assert ev.label("AGE", "Wanawake", ["F"]) is None  # evidence is per dimension
    # a column: sure for the same dataflow (any version), half as sure for another
    assert ev.column(["g"], "SEX", "IAEG-SDGs:DF_SDG_GLH(1.6)").share == 1.0  # type: ignore[union-attr]
    assert ev.column(["g"], "SEX", "CGD_BRIDGE:DF_CGD_KE(1.0)").share == 0.5  # type: ignore[union-attr]
    assert ev.column(["g"], "AGE", SDG_FLOW) is None


def test_load_evidence_reads_mappings_and_opensdg_maps_and_passes_over_the_rest(tmp_path: Path) -> None:
    earlier = SECOND.earlier(tmp_path)  # type: ignore[misc]
    (earlier / "notes.txt").write_text("hello\n", encoding="utf-8")
    (earlier / "indicator.csv").write_text("Year,Value\n2020,1\n", encoding="utf-8")
    (earlier / "ke-map.xml").write_text("<mes:Structure/>\n", encoding="utf-8")
    ev = load_evidence([earlier], bundled=False)
    assert ev.sources == ["earlier/ke-scorecard-2023.yaml", "earlier/open-sdg/code-map.csv",
                          "earlier/open-sdg/column-map.csv"]  # fmt: skip
    skipped = {source: ENGLISH.text(why) for source, why in ev.skipped}
    assert "not a cgd-mapping/1.0 mapping" in skipped["earlier/quality.yaml"]
    assert "not an sdg-build column map or code map" in skipped["earlier/indicator.csv"]
    assert "earlier/notes.txt" in skipped
    # an SDMX structure map: the note says how to make it evidence (mapping import, its dataflow)
    assert (
        "cgd-bridge mapping import ke-map.xml --dataflow REF -o ke-map.yaml" in skipped["earlier/ke-map.xml"]
    )
    assert ev.column(["Kundi"], "AGE", SDG_FLOW) is not None
    assert ev.label("AGE", "ag2", ["Y25T34"]).choice == "Y25T34"  # type: ignore[union-attr]
    with_bundled = load_evidence([earlier], bundled=True)
    assert "mappings/kenya-health-scorecard.yaml" in with_bundled.sources
    one = load_evidence([earlier / "ke-scorecard-2023.yaml"], bundled=False)  # a file, not a folder
    assert one.sources == ["ke-scorecard-2023.yaml"]
    assert one.label("SEX", "kike", ["F"]) is not None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("profile: cgd-mapping/1.0\ndimensions: [oops\n", "cannot be read as YAML"),
        ("profile: cgd-mapping/1.0\ndimensions: {SEX: {map: {F: 3}}}\n", "field 'dimensions.SEX'"),
    ],
)
def test_a_broken_earlier_mapping_is_named(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_evidence([tmp_path / "old"], bundled=False)
    assert err.value.file == "old/bad.yaml"
    assert words in str(err.value)
    with pytest.raises(InputError, match="not a folder"):
        load_evidence([tmp_path / "missing"], bundled=False)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`cgd-bridge ARGS` in this process, as the console script runs it: (exit code, stderr)."""
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_init_learns_from_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = SECOND.write(tmp_path, 40)
    earlier = SECOND.earlier(tmp_path)  # type: ignore[misc]
    out = tmp_path / "m.yaml"
    args = ["mapping", "init", str(data), "--dataflow", SECOND.dataflow, "-o", str(out)]
    code, err = _run([*args, "--learn-from", str(earlier)], capsys)
    assert code == 0, err
    assert "Learning from 5 earlier mapping files" in err  # 3 in the folder, 2 bundled
    assert "earlier/quality.yaml is not learnt from" in err
    assert "README" not in err  # the bundled folder's README is no earlier mapping
    loaded, _ = load_mapping(out)
    assert loaded.dimensions["AGE"].column == "Kundi"
    assert loaded.dimensions["AGE"].map["Y18T24"] == ["AG1"]
    # without the folder, the same export gets none of it
    code, err = _run([*args, "--force", "--no-bundled"], capsys)
    assert code == 0, err
    loaded, _ = load_mapping(out)
    assert loaded.dimensions["AGE"].column is None


def test_draft_without_evidence_is_unchanged(structures: Structures, tmp_path: Path) -> None:
    """No evidence, no header line about it (what the bundled-examples test relies on)."""
    data, _ = SECOND.write(tmp_path, 40)
    drafted = draft_mapping(data, dataflow=SECOND.dataflow, structures=structures)
    assert "mapped before" not in drafted.to_yaml()


def test_a_fixed_code_earlier_mappings_agree_on_is_surer(structures: Structures) -> None:
    """The Kenya example's SERIES, named after its measure, is what its bundled mapping gives:
    no longer a choice to confirm when learning from it."""
    data = ROOT / "examples" / "kenya-health-scorecard" / "data.csv"
    flow = "CGD_BRIDGE:DF_CGD_KE(1.0)"
    alone = draft_mapping(data, dataflow=flow, structures=structures)
    learnt = draft_mapping(data, dataflow=flow, structures=structures, evidence=load_evidence([]))
    assert [g.what for g in alone.uncertain()] == ["SERIES"]
    assert learnt.uncertain() == []
    assert "as in mappings/kenya-health-scorecard.yaml" in learnt.comments["dimensions.SERIES"]
    assert learnt.mapping["dimensions"]["SERIES"] == alone.mapping["dimensions"]["SERIES"]


def _typed(*pairs: tuple[str, str, str]) -> Evidence:
    e = Evidence()
    for dim, label, code in pairs:
        e.add_label(dim, label, code, "earlier/mw-2023.yaml")
    return e


def test_a_label_spelt_almost_as_one_mapped_before_gets_its_code() -> None:
    """An enumerator's spelling ("Mwammuna", "Nairobi Cty") is close to a label mapped before:
    its code is proposed, saying which label it is like."""
    e = _typed(("SEX", "Mwamuna", "M"), ("SEX", "Mkazi", "F"), ("REF_AREA", "Nairobi City", "KE_047"))
    hit = e.similar_label("SEX", "Mwammuna", ["F", "M", "_T"])
    assert hit is not None
    assert (hit.choice, hit.similar) == ("M", "mwamuna")
    assert hit.score >= 90
    area = e.similar_label("REF_AREA", "Nairobi Cty", ["KE_047", "KE_001"])
    assert area is not None
    assert area.choice == "KE_047"
    # a code outside the target codelist is never proposed
    assert e.similar_label("SEX", "Mwammuna", ["F", "_T"]) is None


@pytest.mark.parametrize(
    ("earlier", "label"),
    [
        (("SEX", "Male", "M"), "Female"),  # contains the other
        (("DISABILITY_STATUS", "with disability", "PD"), "without disability"),  # a negation
        (("AGE", "15-24", "Y15T24"), "16-24"),  # other digits
        (("AGE", "Aged 15 to 24", "Y15T24"), "Aged 15 to 24 or more"),  # more words
        (("SEX", "Mkazi", "F"), "Akazi"),  # one letter in five: another word
        (("SEX", "F", "F"), "M"),  # too short to say
    ],
)
def test_labels_that_only_look_alike_get_no_code(earlier: tuple[str, str, str], label: str) -> None:
    e = _typed(earlier)
    assert e.similar_label(earlier[0], label, [earlier[2], "X", "_T"]) is None


def test_two_earlier_labels_as_close_for_different_codes_say_nothing() -> None:
    e = _typed(("REF_AREA", "Kisumu East", "KE_A"), ("REF_AREA", "Kisumu Easy", "KE_B"))
    assert e.similar_label("REF_AREA", "Kisumu Eas", ["KE_A", "KE_B"]) is None  # as like one as the other
    hit = e.similar_label("REF_AREA", "Kisumu Eastt", ["KE_A", "KE_B"])
    assert hit is not None
    assert hit.choice == "KE_A"


def test_a_draft_proposes_a_misspelt_label_to_confirm(structures: Structures, tmp_path: Path) -> None:
    """In a draft, a label like one mapped before gets that code, below 80 % sure (marked to
    confirm), and the comment says which earlier label it is like."""
    data = tmp_path / "mw-2024.csv"
    data.write_text(
        "year,Gender (Mtundu),respondents,satisfied\n2024,Mkazi,40,20\n2024,Mwammuna,50,30\n",
        encoding="utf-8",
    )
    evidence = _typed(("SEX", "Mkazi", "F"), ("SEX", "Mwamuna", "M"))
    evidence.add_column("Gender (Mtundu)", "SEX", "earlier/mw-2023.yaml", "IAEG-SDGs:DF_SDG_GLH")
    d = draft_mapping(data, dataflow=SDG_FLOW, structures=structures, evidence=evidence)
    assert d.mapping["dimensions"]["SEX"] == {
        "column": "Gender (Mtundu)",
        "map": {"F": ["Mkazi"], "M": ["Mwammuna"]},
    }
    (q,) = [q for q in d.labels if q.label == "Mwammuna"]
    assert q.proposed == "M"
    assert q.confidence < 0.8
    assert "spelt like 'mwamuna'" in q.why
    assert "Mwammuna" in {x.label for x in d.questions("label")}
