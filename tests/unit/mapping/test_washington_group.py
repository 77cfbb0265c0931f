"""Disability status derived from the six Washington Group answers in the mapping (#13).

The export is Kobo-shaped: one row per respondent, the six WG-SS answers as Kobo choice names
(``no_difficulty`` ... ``cannot_do_at_all``), some empty, some ``dont_know`` or ``refused``,
and no precomputed status. Every expected figure is computed independently with pandas from
the same rows, following the Washington Group's published identifiers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.pipeline import examine

ROOT = Path(__file__).resolve().parents[3]
DOMAINS = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
ANSWER = {"no_difficulty": 1, "some_difficulty": 2, "a_lot_of_difficulty": 3, "cannot_do_at_all": 4}


def kobo_export(n: int = 240, seed: int = 454) -> str:
    """A Malawi household survey as KoboToolbox exports it (group paths in the headers, which
    cgd-bridge reads as the question names: ``wg/wg_seeing`` is ``wg_seeing``)."""
    rng = np.random.default_rng(seed)
    names = list(ANSWER)
    rows = []
    for i in range(n):
        answers = rng.choice(names, size=6, p=[0.7, 0.18, 0.08, 0.04])
        if i % 11 == 3:  # not answered
            answers[rng.integers(6)] = ""
        if i % 17 == 5:
            answers[rng.integers(6)] = rng.choice(["dont_know", "refused"])
        if i == 7:  # nothing answered at all
            answers[:] = ""
        sex = ["female", "male"][int(rng.integers(2))]
        district = ["Lilongwe", "Blantyre", "Mzimba", "Zomba"][int(rng.integers(4))]
        used = rng.random() < 0.8
        satisfied = ("yes" if rng.random() < 0.6 else "no") if used else ""
        rows.append([str(i + 1), district, sex, *answers, "yes" if used else "no", satisfied, "2025-03-14"])
    head = ["_index", "hh/district", "hh/sex", *(f"wg/wg_{d}" for d in DOMAINS),
            "services/used_health", "services/satisfied_health", "today"]  # fmt: skip
    return "\n".join(",".join(r) for r in [head, *rows]) + "\n"


def wg_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    """The WG-SS identifiers with pandas, as the Washington Group's analytic guidelines put them."""
    codes = frame[[f"wg/wg_{d}" for d in DOMAINS]].apply(lambda c: c.map(ANSWER))  # NaN when not 1-4
    answered = codes.notna().sum(axis=1)
    some = (codes >= 2).sum(axis=1)
    lot = (codes >= 3).sum(axis=1)
    cannot = (codes == 4).sum(axis=1)
    complete = answered == 6
    out = pd.DataFrame(index=frame.index)
    for name, met in {
        "disability1": some >= 1,
        "disability2": (some >= 2) | (lot >= 1),
        "disability3": lot >= 1,
        "disability4": cannot >= 1,
    }.items():
        # met by an answered domain: with disability, whatever is missing; otherwise only a full
        # set of six answers says "without disability"; anything else is unknown
        out[name] = np.where(met, "PD", np.where(complete, "PWD", "unknown"))
    return out


MAPPING = {
    "profile": "cgd-mapping/1.0",
    "dataset": "malawi-service-survey",
    "dataflow": "IAEG-SDGs:DF_SDG_GLH(1.5)",
    "schema": {
        "dataKind": "microdata",
        "fields": [
            {"name": "district", "type": "string", "role": "area"},
            {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX"},
            *({"name": f"wg_{d}", "type": "string", "role": "wg", "wgDomain": d} for d in DOMAINS),
            {"name": "used_health", "type": "string"},
            {"name": "satisfied_health", "type": "string"},
        ],
    },
    "derive": {
        "disability": {
            "washington_group": {"columns": {d: f"wg_{d}" for d in DOMAINS}},
        }
    },
    "dimensions": {
        "FREQ": {"value": "A"},
        "REPORTING_TYPE": {"value": "N"},
        "SERIES": {"value": "SP_PSR_SATIS"},
        "REF_AREA": {"value": "454"},
        "SEX": {"column": "sex", "map": {"F": ["female"], "M": ["male"]}},
        "DISABILITY_STATUS": {"column": "disability", "map": {"PD": ["PD"], "PWD": ["PWD"]}},
        # the SDG DSD's other dimensions: the survey is not broken down by them (the DSD contract)
        **{
            d: {"value": "_T"}
            for d in (
                "AGE",
                "URBANISATION",
                "INCOME_WEALTH_QUANTILE",
                "EDUCATION_LEV",
                "OCCUPATION",
                "CUST_BREAKDOWN",
                "COMPOSITE_BREAKDOWN",
                "ACTIVITY",
                "PRODUCT",
            )
        },
    },
    "time": {"value": "2025"},
    "aggregate": {},
    "totals": ["SEX", "DISABILITY_STATUS"],
    "value": {"kind": "count"},
    "attributes": {"UNIT_MEASURE": {"value": "NUMBER"}, "UNIT_MULT": {"value": "0"}},
}


def mapping(**wg) -> Mapping:
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["derive"]["disability"]["washington_group"].update(wg)
    return Mapping.model_validate(doc)


@pytest.fixture
def export(write) -> Path:
    return write("malawi-kobo.csv", kobo_export())


def frame(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def counts(h) -> dict[tuple[str, str], float]:
    return {(r["SEX"], r["DISABILITY_STATUS"]): r["OBS_VALUE"] for r in h.table.to_pylist()}


def expected_counts(df: pd.DataFrame, status: pd.Series) -> dict[tuple[str, str], float]:
    known = df.assign(status=status)[status != "unknown"]
    sex = known["hh/sex"].map({"female": "F", "male": "M"})
    out: dict[tuple[str, str], float] = {}
    for (s, d), n in known.groupby([sex, known["status"]]).size().items():
        out[(s, d)] = float(n)
    for s, n in known.groupby(sex).size().items():
        out[(s, "_T")] = float(n)
    for d, n in known.groupby("status").size().items():
        out[("_T", d)] = float(n)
    out[("_T", "_T")] = float(len(known))
    return out


def test_the_standard_cut_off_matches_pandas_and_drops_unknown_status_with_a_reason(export):
    df = frame(export)
    status = wg_identifiers(df)["disability3"]
    assert (status == "unknown").sum() >= 5  # the export does have respondents to drop
    h = apply_mapping(open_table(export), mapping())
    assert counts(h) == expected_counts(df, status)
    assert len(h.dropped) == 1
    d = h.dropped[0]
    assert d.count == int((status == "unknown").sum())
    assert "Washington Group" in d.reason
    assert "disability3" in d.reason
    unknown_rows = [i + 2 for i in np.flatnonzero(status == "unknown")]  # file rows (header is 1)
    assert d.rows == unknown_rows[:10]
    assert 9 in d.rows  # row 9: nothing answered at all
    assert not h.unmapped


@pytest.mark.parametrize("cutoff", ["disability1", "disability2", "disability4"])
def test_the_documented_alternative_cut_offs(export, cutoff):
    df = frame(export)
    status = wg_identifiers(df)[cutoff]
    h = apply_mapping(open_table(export), mapping(cutoff=cutoff))
    assert counts(h) == expected_counts(df, status)
    assert sum(d.count for d in h.dropped) == int((status == "unknown").sum())


def test_a_proportion_by_derived_status_matches_pandas(export):
    df = frame(export)
    status = wg_identifiers(df)["disability3"]
    m = yaml.safe_load(yaml.safe_dump(MAPPING))
    m["value"] = {
        "kind": "proportion",
        "where": {"satisfied_health": ["yes"]},
        "of": {"used_health": ["yes"]},
        "decimals": 3,
    }
    m["attributes"] = {"UNIT_MEASURE": {"value": "PT"}}
    h = apply_mapping(open_table(export), Mapping.model_validate(m))
    used = df[(status != "unknown") & (df["services/used_health"] == "yes")]
    st = status[used.index]
    share = (used["services/satisfied_health"] == "yes").groupby(st).mean() * 100
    got = counts(h)
    for code in ("PD", "PWD"):
        assert got[("_T", code)] == round(float(share[code]), 3)


def test_unknown_status_can_be_kept_under_a_code_instead(export):
    df = frame(export)
    status = wg_identifiers(df)["disability3"]
    m = yaml.safe_load(yaml.safe_dump(MAPPING))
    m["derive"]["disability"]["washington_group"]["missing"] = {"value": "unknown"}
    m["dimensions"]["DISABILITY_STATUS"]["map"]["_U"] = ["unknown"]
    h = apply_mapping(open_table(export), Mapping.model_validate(m))
    assert not h.dropped
    assert counts(h)[("_T", "_U")] == float((status == "unknown").sum())


def test_answers_in_other_words_and_unrecognised_answers(write):
    head = ",".join(f"wg_{d}" for d in DOMAINS) + ",sex\n"
    data = write(
        "bd.csv",
        head + "1,1,1,1,1,1,female\n"  # numeric codes: without disability
        "কোনো অসুবিধা নেই,1,1,1,1,1,male\n"  # Bangla label the mapping names: no difficulty
        "1,1,খুব অসুবিধা,1,1,1,female\n"  # Bangla: a lot of difficulty
        "1,1,1,1,5,1,male\n",  # 5 is not a WG answer: unmapped, with the row
    )
    m = yaml.safe_load(yaml.safe_dump(MAPPING))
    m.pop("schema")
    m["derive"] = {
        "disability": {
            "washington_group": {
                "columns": {d: f"wg_{d}" for d in DOMAINS},
                "answers": {"no_difficulty": ["কোনো অসুবিধা নেই"], "a_lot_of_difficulty": ["খুব অসুবিধা"]},
            }
        }
    }
    m["dimensions"]["SEX"]["column"] = "sex"
    h = apply_mapping(open_table(data), Mapping.model_validate(m))
    got = counts(h)
    assert (got[("F", "PWD")], got[("M", "PWD")], got[("F", "PD")]) == (1.0, 1.0, 1.0)
    assert [(u.column, u.value, u.rows) for u in h.unmapped] == [("wg_selfcare", "5", [5])]


def test_a_derive_section_with_a_wrong_column_or_cut_off_names_the_fix(export, tmp_path):
    with pytest.raises(ValueError, match="disability5"):
        mapping(cutoff="disability5")
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    del doc["derive"]["disability"]["washington_group"]["columns"]["hearing"]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(MappingError, match="hearing"):
        load_mapping(path)
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["derive"]["disability"]["washington_group"]["columns"]["seeing"] = "seeing"
    with pytest.raises(MappingError, match="'seeing'"):
        apply_mapping(open_table(export), Mapping.model_validate(doc))
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["derive"]["sex"] = doc["derive"].pop("disability")
    with pytest.raises(MappingError, match="'sex'"):
        apply_mapping(open_table(export), Mapping.model_validate(doc))


def test_rows_with_an_empty_cell_are_dropped_with_their_reason(write):
    rows = ["tinh,gioi_tinh,disability", "Hà Nội,female,no", "Hà Nội,,no", "Đà Nẵng,male,  ", "Huế,male,yes"]
    data = write("vn.csv", "\n".join(rows) + "\n")
    m = yaml.safe_load(yaml.safe_dump(MAPPING))
    m.pop("schema")
    m.pop("derive")
    m["dimensions"]["SEX"]["column"] = "gioi_tinh"
    m["dimensions"]["DISABILITY_STATUS"] = {"column": "disability", "map": {"PD": ["yes"], "PWD": ["no"]}}
    m["drop"] = [
        {"when_empty": "gioi_tinh", "reason": "sex not recorded"},
        {"when_empty": "disability", "reason": "disability not asked"},
    ]
    h = apply_mapping(open_table(data), Mapping.model_validate(m))
    assert [(d.reason, d.column, d.count, d.rows) for d in h.dropped] == [
        ("sex not recorded", "gioi_tinh", 1, [3]),
        ("disability not asked", "disability", 1, [4]),
    ]
    assert not h.unmapped
    assert counts(h)[("_T", "_T")] == 2.0
    with pytest.raises(ValueError, match="when_empty"):
        Mapping.model_validate({**m, "drop": [{"column": "sex", "when_empty": "gioi_tinh", "reason": "r"}]})


def test_a_kobo_export_converts_with_the_mapping_alone(export, tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["value"] = {
        "kind": "proportion",
        "where": {"satisfied_health": ["yes"]},
        "of": {"used_health": ["yes"]},
    }
    doc["attributes"] = {"UNIT_MEASURE": {"value": "PT"}, "UNIT_MULT": {"value": "0"}}
    path = tmp_path / "malawi.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    validation = examine(export, mapping=path)
    report = validation.report
    assert report.error_count == 0, [(f.code, f.message) for f in report if f.severity.name == "ERROR"]
    assert not any(c.startswith("wg-status") for c in report.codes())
    df = frame(export)
    status = wg_identifiers(df)["disability3"]
    h = validation.harmonised
    assert sum(d.count for d in h.dropped) == int((status == "unknown").sum())
    base = {(r["SEX"], r["DISABILITY_STATUS"]): r["OBS_COUNT"] for r in h.table.to_pylist()}
    used = df["services/used_health"] == "yes"
    assert base == expected_counts(df[used], status[used])


def test_a_when_empty_rule_and_a_derive_section_survive_a_round_trip():
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["drop"] = [{"when_empty": "sex", "reason": "sex not recorded"}]
    m = Mapping.model_validate(doc)
    again = Mapping.model_validate(m.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert again.drop == m.drop
    assert again.derive == m.derive
    assert again.derive["disability"].washington_group.with_ == "PD"


def test_the_wg_check_reads_the_answers_in_the_mappings_words(write, tmp_path):
    """Words the mapping adds for the answers (a form's Bangla labels) are no 'invalid answer'
    for the WG check, so validation and the derived status agree."""
    head = ",".join(f"wg_{d}" for d in DOMAINS) + ",sex,used_health,satisfied_health\n"
    rows = [
        "কোনো অসুবিধা নেই,1,1,1,1,1,female,yes,yes",
        "1,1,খুব অসুবিধা,1,1,1,male,yes,no",
        "1,জানি না,1,1,1,1,male,yes,yes",
    ]
    data = write("bd.csv", head + "\n".join(rows) + "\n")
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["derive"]["disability"]["washington_group"]["answers"] = {
        "no_difficulty": ["কোনো অসুবিধা নেই"],
        "a_lot_of_difficulty": ["খুব অসুবিধা"],
        "missing": ["জানি না"],
    }
    doc["schema"]["fields"] = [f for f in doc["schema"]["fields"] if f["name"] != "district"]
    path = tmp_path / "bd.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    validation = examine(data, mapping=path)
    codes = validation.report.codes()
    assert "wg-invalid-answer" not in codes
    assert "wg-missing-answer" in codes  # জানি না (don't know) is a missing answer, reported
    h = validation.harmonised
    assert [(d.count, d.rows) for d in h.dropped] == [(1, [4])]
    assert counts(h)[("_T", "PD")] == 1.0


def test_the_nepal_example_gives_the_same_figures_from_its_raw_answers(tmp_path):
    """The Nepal example's mapping derives the status from the six WG-SS answers of the export
    (``derive``); the export also carries the survey team's precomputed 'disability' column.
    Mapping that column instead gives the very same observations, and the mapping does derive
    (no precomputed column feeds DISABILITY_STATUS)."""
    nepal = ROOT / "examples" / "nepal-youth-survey"
    derived = ROOT / "mappings" / "nepal-youth-survey.yaml"
    doc = yaml.safe_load(derived.read_text(encoding="utf-8"))
    [(column, rule)] = doc["derive"].items()
    assert rule["washington_group"]["cutoff"] == "disability3"
    assert set(rule["washington_group"]["columns"]) == set(DOMAINS)
    assert doc["dimensions"]["DISABILITY_STATUS"]["column"] == column
    del doc["derive"]
    doc["dimensions"]["DISABILITY_STATUS"] = {"column": "disability", "map": {"PD": ["yes"], "PWD": ["no"]}}
    original = tmp_path / "nepal-precomputed.yaml"
    original.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    keys = ["SEX", "AGE", "DISABILITY_STATUS", "OBS_VALUE", "OBS_COUNT", "SOURCE_ROWS"]

    def run(path: Path) -> list[tuple]:
        v = examine(nepal / "data.xlsx", form=nepal / "form.xlsx", mapping=path)
        assert v.report.error_count == 0
        return sorted(tuple(str(r[k]) for k in keys) for r in v.harmonised.table.to_pylist())

    assert run(derived) == run(original)


def test_a_derive_section_and_a_when_empty_rule_travel_through_an_sdmx_structure_map(tmp_path):
    from cgd_bridge.sdmx.read import import_mapping
    from cgd_bridge.sdmx.write import export_structure_map
    from cgd_bridge.structures import Structures

    doc = yaml.safe_load((ROOT / "mappings" / "nepal-youth-survey.yaml").read_text(encoding="utf-8"))
    doc["derive"] = {"wg_status": {"washington_group": {"columns": {d: f"wg_{d}" for d in DOMAINS}}}}
    doc["dimensions"]["DISABILITY_STATUS"] = {"column": "wg_status", "map": {"PD": ["PD"], "PWD": ["PWD"]}}
    doc["drop"] = [{"when_empty": "sex", "reason": "sex not recorded"}]
    m = Mapping.model_validate(doc)
    structures = Structures()
    exported = export_structure_map(m, structures=structures, name="nepal.yaml")
    assert "sex is empty" in exported.text
    path = tmp_path / "nepal.xml"
    path.write_text(exported.text, encoding="utf-8")
    back = import_mapping([path], dataflow=str(m.dataflow), structures=structures).mapping
    assert back.derive == m.derive
    assert back.drop == m.drop


def test_an_answer_the_derivation_cannot_read_names_the_fix(write, tmp_path):
    head = ",".join(f"wg_{d}" for d in DOMAINS) + ",sex,used_health,satisfied_health\n"
    data = write("mw.csv", head + "1,1,1,1,1,1,female,yes,yes\n1,1,a lot,1,sometimes,1,male,yes,no\n")
    doc = yaml.safe_load(yaml.safe_dump(MAPPING))
    doc["schema"]["fields"] = [f for f in doc["schema"]["fields"] if f["name"] != "district"]
    path = tmp_path / "mw.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    report = examine(data, mapping=path).report
    f = next(f for f in report if f.code == "unmapped-value")
    assert (f.row, f.field, f.value) == (3, "wg_selfcare", "sometimes")
    assert "not a Washington Group answer" in f.message
    assert "derive.disability.washington_group.answers" in f.fix
    assert "dimensions.disability" not in f.fix
