"""Generate ``form.xlsx`` and ``data.xlsx`` of the Nepal youth survey example (fictional data).

A youth-led survey on young people's (15-29) use of public services, with the Washington Group
Short Set (WG-SS), collected with KoboToolbox in four districts in 2024:

``form.xlsx``
    the XLSForm (survey, choices and settings sheets; English and Nepali labels);
``data.xlsx``
    the KoboToolbox XLSX export of the submissions: one row per respondent, headers with
    group paths (``respondent/district``), choice *names* as values, the select_multiple
    question both as one space-separated column and as one 0/1 column per choice, and the
    system columns ``_id``, ``_submission_time``, ``_validation_status`` and ``_index``. The
    identifying system columns (``_uuid``, ``_submitted_by``) and GPS are left out of the
    export, as a CSO should do before sharing.

The sample is stratified by district, sex and age group, with a booster sample of young people
with disabilities, so that every district x sex x age group x disability cell has at least
5 respondents (no small cells). ``disability`` follows the WG-SS cut-off in every row: "yes"
if any domain is answered 3 (a lot of difficulty) or 4 (cannot do at all).

Run from anywhere: ``python examples/nepal-youth-survey/make_data.py`` (needs openpyxl).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import random
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook

SEED = 20240902
FORM_ID = "nepal_youth_sdg"
FORM_VERSION = "2024.1"
FIRST_ID = 318_204_517  # Kobo submission ids are large running numbers
COLLECTION_START = dt.datetime(2024, 9, 2, 3, 30, tzinfo=dt.UTC)
COLLECTION_DAYS = 40
EXPORTED = "2024-10-14T08:00:00Z"  # fixed file timestamps, so that reruns give identical bytes

DISTRICTS = {  # name -> (English label, Nepali label)
    "Kathmandu": ("Kathmandu", "काठमाडौं"),
    "Lalitpur": ("Lalitpur", "ललितपुर"),
    "Kaski": ("Kaski", "कास्की"),
    "Banke": ("Banke", "बाँके"),
}
SEXES = {"female": ("Female", "महिला"), "male": ("Male", "पुरुष")}
AGE_GROUPS = {
    "15-19": ("15-19 years", "१५-१९ वर्ष"),
    "20-24": ("20-24 years", "२०-२४ वर्ष"),
    "25-29": ("25-29 years", "२५-२९ वर्ष"),
}
WG_ANSWERS = {
    "1": ("No difficulty", "कुनै कठिनाइ छैन"),
    "2": ("Some difficulty", "केही कठिनाइ छ"),
    "3": ("A lot of difficulty", "धेरै कठिनाइ छ"),
    "4": ("Cannot do at all", "पटक्कै गर्न सक्दिन"),
}
YES_NO = {"yes": ("Yes", "हो"), "no": ("No", "होइन")}
SERVICES = {
    "health": ("Health post or hospital", "स्वास्थ्य चौकी वा अस्पताल"),
    "education": ("School, college or training", "विद्यालय, कलेज वा तालिम"),
    "water": ("Drinking water supply", "खानेपानी आपूर्ति"),
    "justice": ("Police, court or legal aid", "प्रहरी, अदालत वा कानुनी सहायता"),
}
# WG-SS questions, in the Washington Group's wording (English), with a Nepali rendering
WG_QUESTIONS = {
    "wg_seeing": (
        "seeing",
        "Do you have difficulty seeing, even if wearing glasses?",
        "के तपाईंलाई चस्मा लगाउँदा पनि हेर्न कठिनाइ हुन्छ?",
    ),
    "wg_hearing": (
        "hearing",
        "Do you have difficulty hearing, even if using a hearing aid(s)?",
        "के तपाईंलाई श्रवण यन्त्र प्रयोग गर्दा पनि सुन्न कठिनाइ हुन्छ?",
    ),
    "wg_walking": (
        "walking",
        "Do you have difficulty walking or climbing steps?",
        "के तपाईंलाई हिँड्न वा भर्याङ चढ्न कठिनाइ हुन्छ?",
    ),
    "wg_remembering": (
        "remembering",
        "Do you have difficulty remembering or concentrating?",
        "के तपाईंलाई सम्झन वा ध्यान केन्द्रित गर्न कठिनाइ हुन्छ?",
    ),
    "wg_selfcare": (
        "selfcare",
        "Do you have difficulty (with self-care such as) washing all over or dressing?",
        "के तपाईंलाई पूरै शरीर नुहाउने वा लुगा लगाउने जस्ता आफ्नो हेरचाह गर्न कठिनाइ हुन्छ?",
    ),
    "wg_communicating": (
        "communicating",
        "Using your usual (customary) language, do you have difficulty communicating, for "
        "example understanding or being understood?",
        "आफ्नो सामान्य भाषा प्रयोग गर्दा, के तपाईंलाई बुझ्न वा अरूलाई बुझाउन कठिनाइ हुन्छ?",
    ),
}
# how often each domain is the (or a) severe one among respondents with a disability
SEVERE_WEIGHTS = {
    "wg_seeing": 3, "wg_hearing": 2, "wg_walking": 4, "wg_remembering": 3, "wg_selfcare": 1,
    "wg_communicating": 1,
}  # fmt: skip

SURVEY_COLUMNS = (
    "type", "name", "label::English (en)", "label::Nepali (ne)", "hint::English (en)",
    "hint::Nepali (ne)", "required", "constraint", "constraint_message::English (en)",
    "constraint_message::Nepali (ne)", "relevant", "calculation", "read_only", "appearance",
)  # fmt: skip

_WG_CUTOFF = " or ".join(f"${{{q}}} = '3' or ${{{q}}} = '4'" for q in WG_QUESTIONS)


def survey_rows() -> list[dict[str, str]]:
    """The ``survey`` sheet, row by row."""
    rows: list[dict[str, str]] = [
        {"type": "begin_group", "name": "respondent", "label::English (en)": "About you",
         "label::Nepali (ne)": "तपाईंको बारेमा"},
        {"type": "select_one districts", "name": "district", "label::English (en)": "District",
         "label::Nepali (ne)": "जिल्ला", "required": "yes"},
        {"type": "select_one sex", "name": "sex", "label::English (en)": "Sex",
         "label::Nepali (ne)": "लिङ्ग", "required": "yes"},
        {"type": "integer", "name": "age",
         "label::English (en)": "How old are you, in completed years?",
         "label::Nepali (ne)": "तपाईंको उमेर कति पूरा भयो (वर्षमा)?", "required": "yes",
         "constraint": ". >= 15 and . <= 29",
         "constraint_message::English (en)": "This survey is for young people aged 15 to 29.",
         "constraint_message::Nepali (ne)": "यो सर्वेक्षण १५ देखि २९ वर्षका युवाका लागि हो।"},
        {"type": "select_one age_groups", "name": "age_group",
         "label::English (en)": "Age group", "label::Nepali (ne)": "उमेर समूह",
         "hint::English (en)": "Filled in from the age.", "hint::Nepali (ne)": "उमेरबाट आफैं भरिन्छ।",
         "read_only": "yes",
         "calculation": "if(${age} <= 19, '15-19', if(${age} <= 24, '20-24', '25-29'))"},
        {"type": "end_group", "name": "respondent"},
        {"type": "begin_group", "name": "wg",
         "label::English (en)": "Difficulties you may have doing certain activities because of a "
         "health problem",
         "label::Nepali (ne)": "स्वास्थ्य समस्याका कारण केही काम गर्दा हुन सक्ने कठिनाइहरू"},
    ]  # fmt: skip
    for name, (_, en, ne) in WG_QUESTIONS.items():
        rows.append(
            {"type": "select_one wg_answers", "name": name, "label::English (en)": en,
             "label::Nepali (ne)": ne, "required": "yes"}
        )  # fmt: skip
    rows += [
        {"type": "select_one yes_no", "name": "disability",
         "label::English (en)": "With disability (Washington Group cut-off)",
         "label::Nepali (ne)": "अपाङ्गता भएको (वासिङ्टन समूहको मापदण्ड)",
         "hint::English (en)": "Computed: yes if any answer above is 'A lot of difficulty' or "
         "'Cannot do at all'.",
         "hint::Nepali (ne)": "गणना गरिन्छ: माथिको कुनै उत्तर 'धेरै कठिनाइ छ' वा 'पटक्कै गर्न "
         "सक्दिन' भए 'हो'।",
         "read_only": "yes", "calculation": f"if({_WG_CUTOFF}, 'yes', 'no')"},
        {"type": "end_group", "name": "wg"},
        {"type": "begin_group", "name": "services", "label::English (en)": "Public services",
         "label::Nepali (ne)": "सार्वजनिक सेवाहरू"},
        {"type": "select_multiple services", "name": "services_used",
         "label::English (en)": "Which of these public services did you use in the last 12 months?",
         "label::Nepali (ne)": "पछिल्लो १२ महिनामा तपाईंले यीमध्ये कुन-कुन सार्वजनिक सेवा प्रयोग गर्नुभयो?",
         "hint::English (en)": "Select all that apply.", "hint::Nepali (ne)": "लागू हुने सबै छान्नुहोस्।",
         "required": "yes"},
        {"type": "select_one yes_no", "name": "satisfied_health",
         "label::English (en)": "Were you satisfied with your last experience of public health "
         "services?",
         "label::Nepali (ne)": "सार्वजनिक स्वास्थ्य सेवाको पछिल्लो अनुभवबाट तपाईं सन्तुष्ट हुनुहुन्थ्यो?",
         "required": "yes", "relevant": "selected(${services_used}, 'health')"},
        {"type": "end_group", "name": "services"},
    ]  # fmt: skip
    return rows


def choice_rows() -> list[tuple[str, str, str, str]]:
    """The ``choices`` sheet: (list_name, name, English label, Nepali label)."""
    lists = {
        "districts": DISTRICTS,
        "sex": SEXES,
        "age_groups": AGE_GROUPS,
        "wg_answers": WG_ANSWERS,
        "yes_no": YES_NO,
        "services": SERVICES,
    }
    return [(lst, name, en, ne) for lst, choices in lists.items() for name, (en, ne) in choices.items()]


def save_reproducibly(wb: Workbook, path: Path) -> None:
    """Save a workbook with fixed timestamps (openpyxl stamps the current time otherwise)."""
    buffer = io.BytesIO()
    wb.save(buffer)
    stamp = EXPORTED.encode()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            info = zipfile.ZipInfo(item.filename, date_time=(2024, 10, 14, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


def write_form(path: Path) -> None:
    """Write the XLSForm."""
    wb = Workbook()
    survey = wb.active
    survey.title = "survey"
    survey.append(SURVEY_COLUMNS)
    for row in survey_rows():
        survey.append([row.get(col, "") or None for col in SURVEY_COLUMNS])
    choices = wb.create_sheet("choices")
    choices.append(("list_name", "name", "label::English (en)", "label::Nepali (ne)"))
    for row in choice_rows():
        choices.append(row)
    settings = wb.create_sheet("settings")
    settings.append(("form_title", "form_id", "version", "default_language", "style"))
    settings.append(("Youth voices on public services 2024", FORM_ID, FORM_VERSION, "English (en)", "pages"))
    save_reproducibly(wb, path)


# -- the submissions ---------------------------------------------------------------------------


def _wg_answers(rng: random.Random, with_disability: bool) -> dict[str, str]:
    """Six WG-SS answers that give ``with_disability`` under the cut-off."""
    answers = {q: ("2" if rng.random() < 0.12 else "1") for q in WG_QUESTIONS}
    if with_disability:
        names, weights = list(SEVERE_WEIGHTS), list(SEVERE_WEIGHTS.values())
        severe = {rng.choices(names, weights)[0]}
        if rng.random() < 0.25:
            severe.add(rng.choices(names, weights)[0])
        for q in sorted(severe):
            answers[q] = "4" if rng.random() < 0.2 else "3"
        for q in WG_QUESTIONS:
            if q not in severe and rng.random() < 0.3:
                answers[q] = "2"
    return answers


def _services(rng: random.Random, with_disability: bool, age: int) -> list[str]:
    used = []
    if rng.random() < (0.62 if with_disability else 0.55):
        used.append("health")
    if rng.random() < (0.80 if age <= 19 else 0.45) * (0.75 if with_disability else 1.0):
        used.append("education")
    if rng.random() < 0.50:
        used.append("water")
    if rng.random() < 0.12:
        used.append("justice")
    return used or [rng.choice(("health", "water"))]


def respondents(seed: int = SEED) -> list[dict[str, object]]:
    """One record per respondent (resolved question names), in submission order."""
    rng = random.Random(seed)
    people = []
    ages = {"15-19": (15, 19), "20-24": (20, 24), "25-29": (25, 29)}
    for district, sex, group in itertools.product(DISTRICTS, SEXES, AGE_GROUPS):
        # stratified sample with a disability booster: 6-8 without and 5-6 with disability
        n_without, n_with = rng.randint(6, 8), rng.randint(5, 6)
        for with_disability in [False] * n_without + [True] * n_with:
            age = rng.randint(*ages[group])
            wg = _wg_answers(rng, with_disability)
            used = _services(rng, with_disability, age)
            satisfied = None
            if "health" in used:
                p = (0.42 if with_disability else 0.61) + (0.08 if district == "Kaski" else 0.0)
                satisfied = "yes" if rng.random() < p else "no"
            people.append(
                {
                    "district": district, "sex": sex, "age": age, "age_group": group, **wg,
                    "disability": "yes" if with_disability else "no",
                    "services_used": used, "satisfied_health": satisfied,
                }
            )  # fmt: skip
    rng.shuffle(people)  # interviews were not done stratum by stratum
    return people


def export_headers() -> list[str]:
    """The column headers of the Kobo XLSX export (group paths, choice columns, system columns)."""
    headers = ["respondent/district", "respondent/sex", "respondent/age", "respondent/age_group"]
    headers += [f"wg/{q}" for q in WG_QUESTIONS] + ["wg/disability", "services/services_used"]
    headers += [f"services/services_used/{s}" for s in SERVICES]
    headers += ["services/satisfied_health", "_id", "_submission_time", "_validation_status", "_index"]
    return headers


def export_rows(people: list[dict[str, object]], seed: int = SEED) -> list[list[object]]:
    """The export's rows, in header order, with submission times and ids."""
    rng = random.Random(seed + 1)
    offsets = sorted(rng.uniform(0, COLLECTION_DAYS * 86_400) for _ in people)
    rows = []
    submission_id = FIRST_ID
    for i, (person, offset) in enumerate(zip(people, offsets, strict=True)):
        submission_id += rng.randint(1, 9)  # other forms' submissions take the ids in between
        used = person["services_used"]
        assert isinstance(used, list)
        submitted = COLLECTION_START + dt.timedelta(seconds=int(offset))
        rows.append(
            [person["district"], person["sex"], person["age"], person["age_group"]]
            + [person[q] for q in WG_QUESTIONS]
            + [person["disability"], " ".join(used)]
            + [1 if s in used else 0 for s in SERVICES]
            + [person["satisfied_health"], submission_id,
               submitted.strftime("%Y-%m-%dT%H:%M:%S"), "validation_status_approved", i + 1]
        )  # fmt: skip
    return rows


def write_data(path: Path) -> int:
    """Write the Kobo XLSX export; return the number of respondents."""
    people = respondents()
    wb = Workbook()
    ws = wb.active
    ws.title = FORM_ID
    ws.append(export_headers())
    for row in export_rows(people):
        ws.append(row)
    save_reproducibly(wb, path)
    return len(people)


if __name__ == "__main__":
    here = Path(__file__).parent
    write_form(here / "form.xlsx")
    write_data(here / "data.xlsx")
