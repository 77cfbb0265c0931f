"""Realistic CSO exports with the mapping a person would write, for judging `mapping init` (#18).

Each :class:`Case` writes its files (CSV, XLSX, XLSForm) into a folder and says what a correct
mapping has: per dimension of the DSD, the source column (``"column:NAME"``) or the fixed code
(``"value:CODE"``); per mapped column, each label's code. :func:`evaluate` drafts a mapping
for every case (:func:`cgd_bridge.mapping.draft.draft_mapping`) and counts what it got right.

The cases are written here, not taken from the examples: a Swahili county scorecard from Kenya
(Kaunti/Jinsia/Umri, county names with and without "County" and "City", KNBS spellings with
"/" and apostrophes), a KoboToolbox microdata export from Uganda with an English/Swahili form
whose choice names are numbers, an ODK Central export from Tanzania (``group-question``
headers, Swahili choice names, no form), a Ghana aggregate table with abbreviations
(F/M/Both, U/R) and a percentage column, a Senegal table in French, and Kenyan microdata
without a form (single-year ages, a yes/no disability question, "... County" names). The last
two were written after the drafting code and not tuned for. ``rows`` scales the microdata.

One case is a **second export** (learning from earlier work, ``mapping init --learn-from``): the
Kenyan CSO's 2024 scorecard, whose columns were renamed and whose labels are its own (county
abbreviations, Swahili adjectives, age-band codes of its database) that no codelist matching
can guess; the CSO's mapping of its 2023 export and its open-sdg code map say what they mean.
:func:`evaluate` with ``learn=True`` gives every case the bundled mappings as evidence too, and
that case its earlier folder.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
SDG_FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"

#: the SDG dimensions no case here is broken down by
_TOTAL_DIMS = ("INCOME_WEALTH_QUANTILE", "EDUCATION_LEV", "OCCUPATION", "CUST_BREAKDOWN",
               "COMPOSITE_BREAKDOWN", "ACTIVITY", "PRODUCT")  # fmt: skip


@dataclass
class Case:
    """One export, how to draft from it, and the right answers."""

    name: str
    write: Callable[[Path, int], tuple[Path, Path | None]]  # folder, rows -> (data, form)
    dataflow: str
    dimensions: dict[str, str]  # dimension -> "column:NAME" or "value:CODE"
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # dimension -> label -> code
    microdata: bool = False  # one row per respondent (the draft must aggregate it)
    earlier: Callable[[Path], Path] | None = None  # writes the CSO's earlier mappings: the folder


@dataclass
class Score:
    """What the drafts got right, over every case."""

    dimensions: int = 0
    dimensions_right: int = 0
    labels: int = 0
    labels_right: int = 0
    misses: list[str] = field(default_factory=list)
    drafts: dict[str, Any] = field(default_factory=dict)  # case name -> its Draft
    files: dict[str, tuple[Path, Path | None]] = field(default_factory=dict)  # case name -> data, form

    @property
    def dimension_share(self) -> float:
        return self.dimensions_right / self.dimensions if self.dimensions else 1.0

    @property
    def label_share(self) -> float:
        return self.labels_right / self.labels if self.labels else 1.0


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    first = True
    for title, rows in sheets.items():
        ws = wb.active if first else wb.create_sheet()
        assert ws is not None
        ws.title = title
        first = False
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


# -- Kenya: a county scorecard in Swahili, aggregate ------------------------------------------------

_KE_COUNTIES = {"Mombasa County": "KE_001", "Nairobi City": "KE_047", "Kisumu": "KE_042",
                "Taita Taveta County": "KE_006", "Murang'a": "KE_021", "Homa Bay County": "KE_043",
                "Elgeyo-Marakwet": "KE_028"}  # fmt: skip
_KE_SEX = {"Mwanamke": "F", "Mwanaume": "M", "Jumla": "_T"}
_KE_AGE = {"18-24": "Y18T24", "25-34": "Y25T34", "35-44": "Y35T44", "65+": "Y_GE65", "Jumla": "_T"}


def _kenya(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(7)
    out = []
    for county in _KE_COUNTIES:
        for sex in _KE_SEX:
            for age in _KE_AGE:
                n = rng.randint(20, 90)
                out.append([county, sex, age, 2023, n, rng.randint(0, n)])
    header = ["Kaunti", "Jinsia", "Umri", "Mwaka", "Waliohojiwa", "Walioridhika"]
    return _csv(folder / "ke-scorecard-2023.csv", header, out), None


# -- Uganda: a KoboToolbox microdata export with an English/Swahili form ------------------------

_UG_CHOICES = [
    ["list_name", "name", "label::English (en)", "label::Swahili (sw)"],
    ["gender", "1", "Female", "Mwanamke"],
    ["gender", "2", "Male", "Mwanaume"],
    ["residence", "1", "Urban", "Mjini"],
    ["residence", "2", "Rural", "Vijijini"],
    ["ageband", "a", "15-24 years", "miaka 15-24"],
    ["ageband", "b", "25-44 years", "miaka 25-44"],
    ["ageband", "c", "45-64 years", "miaka 45-64"],
    ["yn", "1", "Yes", "Ndiyo"],
    ["yn", "0", "No", "Hapana"],
]
_UG_LABELS = {
    "SEX": {"1": "F", "2": "M"},
    "URBANISATION": {"1": "U", "2": "R"},
    "AGE": {"a": "Y15T24", "b": "Y25T44", "c": "Y45T64"},
}


def _uganda(folder: Path, rows: int) -> tuple[Path, Path | None]:
    survey = [
        ["type", "name", "label::English (en)", "label::Swahili (sw)"],
        ["begin_group", "resp", "Respondent", "Mhojiwa"],
        ["select_one gender", "q1", "What is your gender?", "Jinsia yako ni ipi?"],
        ["select_one ageband", "q2", "Age band", "Kundi la umri"],
        ["select_one residence", "q3", "Place of residence", "Mahali pa makazi"],
        ["end_group", "", "", ""],
        ["select_one yn", "q4", "Did you get the service you needed?", "Ulipata huduma uliyohitaji?"],
        ["text", "comments", "Comments", "Maoni"],
    ]
    form = _xlsx(folder / "ug-form.xlsx", {"survey": survey, "choices": _UG_CHOICES,
                                            "settings": [["form_id"], ["ug_access"]]})  # fmt: skip
    rng = random.Random(11)
    data = [["start", "end", "resp/q1", "resp/q2", "resp/q3", "q4", "comments", "_id", "_uuid",
             "_submission_time", "_index"]]  # fmt: skip
    for i in range(rows):
        data.append(["2024-05-02T09:00:00", "2024-05-02T09:20:00", rng.choice("12"), rng.choice("abc"),
                     rng.choice("12"), rng.choice("10"), "", i + 1, f"uuid-{i}", "2024-05-02T10:00:00",
                     i + 1])  # fmt: skip
    return _xlsx(folder / "uganda-access-survey.xlsx", {"data": data}), form


# -- Tanzania: an ODK Central CSV export, Swahili choice names, no form ----------------------------

_TZ_LABELS = {
    "SEX": {"mwanamke": "F", "mwanaume": "M"},
    "URBANISATION": {"mjini": "U", "vijijini": "R"},
    "AGE": {"15-24": "Y15T24", "25-44": "Y25T44", "45-64": "Y45T64"},
}


def _tanzania(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(5)
    header = ["SubmissionDate", "start", "end", "mhojiwa-jinsia", "mhojiwa-umri", "mhojiwa-makazi",
              "huduma-ameridhika", "meta-instanceID", "KEY"]  # fmt: skip
    out = []
    for i in range(rows):
        out.append(["2024-08-10T12:00:00.000Z", "2024-08-10T11:00:00.000Z", "2024-08-10T11:30:00.000Z",
                    rng.choice(list(_TZ_LABELS["SEX"])), rng.choice(list(_TZ_LABELS["AGE"])),
                    rng.choice(list(_TZ_LABELS["URBANISATION"])), rng.choice(["ndiyo", "hapana"]),
                    f"uuid:{i:08d}", f"uuid:{i:08d}"])  # fmt: skip
    return _csv(folder / "tanzania-huduma-2024.csv", header, out), None


# -- Ghana: an aggregate table with abbreviations and a percentage ---------------------------------

_GH_LABELS = {"SEX": {"F": "F", "M": "M", "Both": "_T"}, "URBANISATION": {"U": "U", "R": "R", "All": "_T"}}


def _ghana(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(3)
    out = [
        [s, loc, 2022, round(rng.uniform(20, 80), 1)]
        for s in _GH_LABELS["SEX"]
        for loc in _GH_LABELS["URBANISATION"]
    ]
    return _csv(folder / "ghana-water-access.csv", ["Gender", "Locality", "Year", "Percent"], out), None


# -- Senegal: an aggregate table in French ---------------------------------------------------------

_SN_LABELS = {
    "SEX": {"Femme": "F", "Homme": "M", "Ensemble": "_T"},
    "URBANISATION": {"Urbain": "U", "Rural": "R", "Ensemble": "_T"},
    "AGE": {"15-24 ans": "Y15T24", "25-64 ans": "Y25T64", "65 ans et plus": "Y_GE65", "Ensemble": "_T"},
}


def _senegal(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(9)
    out = []
    for sexe in _SN_LABELS["SEX"]:
        for milieu in _SN_LABELS["URBANISATION"]:
            for age in _SN_LABELS["AGE"]:
                n = rng.randint(30, 200)
                out.append([sexe, milieu, age, 2023, n, rng.randint(0, n)])
    header = ["Sexe", "Milieu de résidence", "Groupe d'âge", "Année", "Effectif", "Satisfaits"]
    return _csv(folder / "senegal-enquete-services.csv", header, out), None


# -- Kenya: microdata without a form, a single-year age and a yes/no disability question ---------

_KE_MICRO_LABELS = {
    "REF_AREA": {"Nairobi City County": "KE_047", "Kakamega County": "KE_037", "Garissa County": "KE_007"},
    "SEX": {"F": "F", "M": "M"},
    "DISABILITY_STATUS": {"Yes": "PD", "No": "PWD"},
}


def _kenya_micro(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(13)
    header = ["respondent_id", "county", "gender", "age", "has_disability", "interview_date", "satisfied"]
    out = []
    for i in range(rows):
        out.append([f"R{i:05d}", rng.choice(list(_KE_MICRO_LABELS["REF_AREA"])), rng.choice("FM"),
                    rng.randint(18, 80), rng.choice(["Yes", "No"]), f"2024-0{rng.randint(1, 9)}-15",
                    rng.choice(["Yes", "No"])])  # fmt: skip
    return _csv(folder / "kenya-county-survey.csv", header, out), None


# -- Kenya again: the same CSO's second export, renamed columns and its own labels ----------------

#: the CSO's database abbreviates counties; Kakamega is new in 2024 (no earlier mapping has it)
_KE2_AREAS = {"NRB": "KE_047", "MSA": "KE_001", "KSM": "KE_042", "TTV": "KE_006", "HBY": "KE_043",
              "Kakamega": "KE_037"}  # fmt: skip
_KE2_SEX = {"Kike": "F", "Kiume": "M", "Jumla": "_T"}  # Swahili adjectives: female, male
_KE2_AGE = {"AG1": "Y18T24", "AG2": "Y25T34", "AG3": "Y35T44", "AG4": "Y_GE65", "Jumla": "_T"}


def _kenya_second(folder: Path, rows: int) -> tuple[Path, Path | None]:
    rng = random.Random(17)
    out = []
    for area in _KE2_AREAS:
        for sex in _KE2_SEX:
            for age in _KE2_AGE:
                n = rng.randint(20, 90)
                out.append([area, sex, age, 2024, n, rng.randint(0, n)])
    header = ["Eneo", "Jinsia ya mhojiwa", "Kundi", "Mwaka", "Waliohojiwa", "Walioridhika"]
    return _csv(folder / "ke-scorecard-2024.csv", header, out), None


_KE_EARLIER = """\
# The CSO's mapping of its 2023 scorecard, checked by its data officer.
profile: cgd-mapping/1.0
dataset: ke-scorecard-2023
dataflow: CGD_BRIDGE:DF_CGD_KE(1.0)
dimensions:
  FREQ: {value: A}
  REPORTING_TYPE: {value: N}
  SERIES: {value: SP_PSR_SATIS}
  REF_AREA:
    column: Eneo
    map: {KE_047: [NRB, Nairobi City], KE_001: [MSA], KE_042: [KSM], KE_006: [TTV], KE_043: [HBY]}
  SEX:
    column: Jinsia
    map: {F: [Kike], M: [Kiume], _T: [Jumla]}
  AGE: {value: _T}
  DISABILITY_STATUS: {value: _T}
time: {column: Mwaka, format: year}
value: {kind: proportion, numerator: Walioridhika, denominator: Waliohojiwa, scale: 100}
attributes:
  UNIT_MEASURE: {value: PT}
"""


def _kenya_earlier(folder: Path) -> Path:
    """The CSO's earlier work: its 2023 mapping and the sdg-build maps of its open-sdg site."""
    earlier = folder / "earlier"
    (earlier / "open-sdg").mkdir(parents=True, exist_ok=True)
    (earlier / "ke-scorecard-2023.yaml").write_text(_KE_EARLIER, encoding="utf-8")
    (earlier / "quality.yaml").write_text("profile: cgd-quality/1.0\n", encoding="utf-8")  # passed over
    _csv(
        earlier / "open-sdg" / "column-map.csv",
        ["Text", "Value"],
        [["Kundi", "AGE"], ["Mwaka", "TIME_PERIOD"]],
    )
    _csv(earlier / "open-sdg" / "code-map.csv", ["Text", "Dimension", "Value"],
         [[label, "AGE", code] for label, code in _KE2_AGE.items() if label != "Jumla"])  # fmt: skip
    return earlier


def _sdg(**dims: str) -> dict[str, str]:
    base = {"FREQ": "value:A", "REPORTING_TYPE": "value:N", "URBANISATION": "value:_T", "AGE": "value:_T",
            "SEX": "value:_T", "DISABILITY_STATUS": "value:_T"}  # fmt: skip
    base.update(dict.fromkeys(_TOTAL_DIMS, "value:_T"))
    base.update(dims)
    return base


CASES = [
    Case("kenya-swahili-scorecard", _kenya, KE_FLOW,
         _sdg(REF_AREA="column:Kaunti", SEX="column:Jinsia", AGE="column:Umri"),
         {"REF_AREA": _KE_COUNTIES, "SEX": _KE_SEX, "AGE": _KE_AGE}),
    Case("uganda-kobo-microdata", _uganda, SDG_FLOW,
         _sdg(REF_AREA="value:800", SEX="column:q1", AGE="column:q2", URBANISATION="column:q3"),
         _UG_LABELS, microdata=True),
    Case("tanzania-odk-csv", _tanzania, SDG_FLOW,
         _sdg(REF_AREA="value:834", SEX="column:mhojiwa-jinsia", AGE="column:mhojiwa-umri",
              URBANISATION="column:mhojiwa-makazi"),
         _TZ_LABELS, microdata=True),
    Case("ghana-aggregate-abbreviations", _ghana, SDG_FLOW,
         _sdg(REF_AREA="value:288", SEX="column:Gender", URBANISATION="column:Locality"),
         _GH_LABELS),
    Case("senegal-french-aggregate", _senegal, SDG_FLOW,
         _sdg(REF_AREA="value:686", SEX="column:Sexe", URBANISATION="column:Milieu de résidence",
              AGE="column:Groupe d'âge"),
         _SN_LABELS),
    Case("kenya-microdata-no-form", _kenya_micro, KE_FLOW,
         _sdg(REF_AREA="column:county", SEX="column:gender", DISABILITY_STATUS="column:has_disability"),
         _KE_MICRO_LABELS, microdata=True),
    Case("kenya-second-export", _kenya_second, KE_FLOW,
         _sdg(REF_AREA="column:Eneo", SEX="column:Jinsia ya mhojiwa", AGE="column:Kundi"),
         {"REF_AREA": _KE2_AREAS, "SEX": _KE2_SEX, "AGE": _KE2_AGE}, earlier=_kenya_earlier),
]  # fmt: skip
#: the cases drafted from the export alone (what #18's goals are measured on)
FIRST_EXPORTS = [c for c in CASES if c.earlier is None]
#: the cases with earlier work to learn from
SECOND_EXPORTS = [c for c in CASES if c.earlier is not None]


def evaluate(
    folder: Path, structures: Any, *, rows: int = 200, cases: list[Case] | None = None, learn: bool = False
) -> Score:
    """Draft a mapping for every case and count the dimensions and labels it got right.

    With ``learn``, each draft has the bundled mappings and the case's earlier work as
    evidence (``mapping init --learn-from``). SERIES is not counted: which SDG series a survey
    reports is the NSO's decision, and the draft only proposes one to confirm.
    """
    from cgd_bridge.mapping.draft import draft_mapping
    from cgd_bridge.mapping.evidence import load_evidence

    score = Score()
    for case in cases if cases is not None else CASES:
        where = folder / case.name
        where.mkdir(parents=True, exist_ok=True)
        data, form = case.write(where, rows)
        evidence = None
        if learn:
            evidence = load_evidence([case.earlier(where)] if case.earlier else [], bundled=True)
        drafted = draft_mapping(data, dataflow=case.dataflow, structures=structures, form=form,
                                evidence=evidence)  # fmt: skip
        score.drafts[case.name] = drafted
        score.files[case.name] = (data, form)
        dims = drafted.mapping["dimensions"]
        score.dimensions += 1  # the data kind counts as one choice of structure
        if ("aggregate" in drafted.mapping) == case.microdata:
            score.dimensions_right += 1
        else:
            score.misses.append(f"{case.name}: microdata is {not case.microdata}, not {case.microdata}")
        for dim, want in case.dimensions.items():
            spec = dims.get(dim, {})
            got = f"column:{spec['column']}" if "column" in spec else f"value:{spec.get('value')}"
            score.dimensions += 1
            if got == want:
                score.dimensions_right += 1
            else:
                score.misses.append(f"{case.name}: {dim} is {got}, not {want}")
        for dim, labels in case.labels.items():
            spec = dims.get(dim, {})
            code_of = {label.casefold(): code for code, ls in spec.get("map", {}).items() for label in ls}
            for label, want in labels.items():
                score.labels += 1
                got = code_of.get(label.casefold())
                if got == want:
                    score.labels_right += 1
                else:
                    score.misses.append(f"{case.name}: {dim} '{label}' is {got}, not {want}")
    return score
