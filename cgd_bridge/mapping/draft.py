"""Drafting a mapping from a CSO's export and the target dataflow (``cgd-bridge mapping init``, #18).

:func:`draft_mapping` reads the data (and its XLSForm, if any) and the target DSD's contract
(:mod:`cgd_bridge.sdmx.contract`) and guesses a complete ``cgd-mapping/1.0`` file:

- for each dimension, the source column whose name and form labels (every language the form
  carries) are closest to the dimension's names, and most of whose distinct values match the
  codelist's codes or names after normalisation (:func:`normalise`: case, accents,
  punctuation, common abbreviations and words such as "County" or "City");
- each label's best code (:func:`match_label`) with a confidence;
- a fixed code where no column fits (FREQ from the time column's shape, the codelist's total
  ``_T`` or not-applicable ``_Z``; SERIES and REF_AREA from the names of the measures and the
  file, flagged for confirmation);
- TIME_PERIOD and the measure by the shape of the values; for microdata (an XLSForm, no numeric
  column, or rows repeating the same categories) an ``aggregate`` count of respondents with its
  totals;
- the Washington Group ``derive:`` when the six WG-SS domain columns are there.

Every guess carries a reason and a confidence (:class:`Guess`); :meth:`Draft.to_yaml` writes
them as comments beside what they chose, and :meth:`Draft.uncertain` lists those to confirm.
Fuzzy matching is rapidfuzz's (a maintained C++ library), not hand-written.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import ENGLISH, N_, Translator
from cgd_bridge.ingest import SourceColumn, SourceTable, XLSForm, open_table
from cgd_bridge.ingest.kobo import is_meta
from cgd_bridge.ingest.schema import schema_for
from cgd_bridge.mapping.evidence import Evidence
from cgd_bridge.mapping.language import gettext, ngettext, percent, speaking
from cgd_bridge.mapping.model import PROFILE, Mapping
from cgd_bridge.sdmx.contract import Contract, contract_for

#: below this confidence a guess is listed on the terminal to confirm
CONFIDENT = 0.8
#: a label counts as matching a code (for scoring a column) at this confidence
MATCHES = 0.85
#: rows read to guess from
SAMPLE_ROWS = 20_000
#: a column with more distinct values than this is not a breakdown
MAX_LABELS = 300
#: the most labels an unused column named like a dimension may hold to put a fixed code in doubt
NAMED_ONLY_VALUES = 12

#: words that carry no meaning for matching an area or group name
_STOP = {"county", "city", "district", "province", "region", "municipality", "sub", "the", "of",
         "persons", "person", "people", "kaunti", "jimbo", "years", "year", "old", "aged", "yrs"}  # fmt: skip
#: common abbreviations and words of other languages, normalised to a codelist's English word
_WORDS = {
    "f": "female", "fem": "female", "women": "female", "woman": "female", "girls": "female",
    "girl": "female", "mwanamke": "female", "wanawake": "female", "femme": "female",
    "femmes": "female", "mujer": "female", "mujeres": "female", "mulher": "female",
    "m": "male", "men": "male", "man": "male", "boys": "male", "boy": "male", "mwanaume": "male",
    "wanaume": "male", "homme": "male", "hommes": "male", "hombre": "male", "hombres": "male",
    "homem": "male", "mjini": "urban", "vijijini": "rural", "urbain": "urban", "urbano": "urban",
    "rurale": "rural", "st": "saint", "mt": "mount",
}  # fmt: skip
#: labels that mean "all" (the codelist's total code)
_TOTALS = {"total", "all", "both", "both sexes", "overall", "all ages", "jumla", "wote", "ensemble",
           "todos", "todas", "_t", "t", "any", "national"}  # fmt: skip
_YES = {"yes", "y", "true", "1", "ndiyo", "oui", "si", "sí", "sim", "with disability", "disabled"}
_NO = {"no", "n", "false", "0", "hapana", "non", "nao", "não", "without disability", "not disabled"}
#: more names of the dimensions most citizen data is broken down by (in several languages)
_ALIASES = {
    "SEX": ["sex", "gender", "jinsia", "sexe", "sexo"],
    "AGE": ["age", "age group", "age band", "umri", "rika", "edad", "tranche d age"],
    "REF_AREA": ["area", "county", "district", "region", "province", "country", "location",
                 "kaunti", "ward", "municipality", "state"],
    "DISABILITY_STATUS": ["disability", "disability status", "ulemavu", "handicap", "disabled"],
    "URBANISATION": ["urban rural", "urbanisation", "residence", "settlement", "location type",
                     "makazi"],
    "INCOME_WEALTH_QUANTILE": ["wealth quintile", "income quintile", "quintile", "wealth"],
    "EDUCATION_LEV": ["education", "education level", "schooling", "elimu"],
}  # fmt: skip
_TIME_NAMES = ("year", "period", "time", "date", "mwaka", "annee", "ano", "submission_time",
               "today", "end", "start")  # fmt: skip
_DENOMINATOR_NAMES = ("respondents", "denominator", "sample", "n", "total", "base", "population",
                      "surveyed", "interviewed", "waliohojiwa")  # fmt: skip
_WG = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
_WG_WORDS = {
    "seeing": ("seeing", "see", "vision", "glasses", "kuona"),
    "hearing": ("hearing", "hear", "kusikia"),
    "walking": ("walking", "walk", "climbing", "mobility", "kutembea"),
    "remembering": ("remembering", "remember", "concentrating", "cognition", "kukumbuka"),
    "selfcare": ("selfcare", "self_care", "self care", "washing", "dressing"),
    "communicating": ("communicating", "communication", "understood", "kuwasiliana"),
}
_YEAR = re.compile(r"^(19|20)\d\d$")
_MONTH = re.compile(r"^(19|20)\d\d-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(19|20)\d\d-?Q[1-4]$", re.I)
_DATE = re.compile(r"^((19|20)\d\d)-\d\d-\d\d")
_INT = re.compile(r"^-?\d+$")
_NUM = re.compile(r"^-?\d+(\.\d+)?$")
_RANGE = re.compile(r"^(\d{1,3})\s*(?:-|–|to|a|hadi|à|\s)\s*(\d{1,3})$")
_OVER = re.compile(r"^(\d{1,3})\s*(?:\+|and over|and above|or more|or older|na zaidi|et plus|y mas)$")
_UNDER = re.compile(r"^(?:under|below|less than|chini ya)\s*(\d{1,3})$")


@dataclass
class Guess:
    """One choice the draft made: what, the choice, how sure (0-1) and why."""

    what: str
    choice: str
    confidence: float
    why: str

    def line(self, t: Translator = ENGLISH) -> str:
        """The guess as one line for the terminal, in the language of ``t`` (its ``choice`` and
        ``why`` are in the language the draft was made in)."""
        return t.gettext(
            N_("{what}: {choice} ({sure} sure: {why})"),
            what=self.what,
            choice=self.choice,
            sure=percent(self.confidence),
            why=self.why,
        )


@dataclass(frozen=True)
class Candidate:
    """One answer a review can pick: ``column:NAME`` or ``value:CODE`` for a dimension, a code
    for a label; with its name (the code's name, a column's first values), confidence and why."""

    choice: str
    name: str
    confidence: float
    why: str


@dataclass
class Question:
    """A choice to confirm (:meth:`Draft.questions`): a dimension's column or fixed code
    (``label`` None), one label's code, or which dimension a column no dimension reads is
    (``dimension`` empty, ``column`` set; the answers ``dimension:ID``). ``proposed`` is what the
    draft chose (None: nothing), ``candidates`` the best answers first; ``codes`` what a search
    looks in (the codelist, or the dimensions)."""

    dimension: str
    label: str | None
    column: str | None
    proposed: str | None
    confidence: float
    why: str
    candidates: list[Candidate]
    codes: dict[str, str]


@dataclass
class Decisions:
    """Answers given in a review, which a new draft takes as given (confidence 1):
    ``columns`` dimension -> ``column:NAME`` or ``value:CODE``; ``labels`` (dimension, label) ->
    code; ``time`` TIME_PERIOD's source, ``{"column": NAME, "format": year|month|quarter|date|
    period}`` or ``{"value": "2024"}``; ``value`` the measure in its short form (see
    :func:`measure_problems`). A time or measure that does not fit the data is passed over (the
    draft's own guess stays): callers check them first with :func:`time_problems` and
    :func:`measure_problems`."""

    columns: dict[str, str] = field(default_factory=dict)
    labels: dict[tuple[str, str], str] = field(default_factory=dict)
    time: dict[str, str] | None = None
    value: dict[str, str] | None = None


#: the question of TIME_PERIOD's source and of the measure (OBS_VALUE) in :attr:`Draft.asks`
TIME, MEASURE = "TIME_PERIOD", "OBS_VALUE"
#: the formats a time column can have (:class:`cgd_bridge.mapping.model.TimeMap`)
TIME_FORMATS = ("year", "month", "quarter", "date", "period")
#: the kinds of measure of aggregate data (one row per cell) and of microdata
AGGREGATE_KINDS = ("column", "count", "proportion")
MICRODATA_KINDS = ("count", "proportion", "mean", "median")
#: one period: a year, month, quarter or date
PERIOD = re.compile(r"^(19|20)\d\d(-(0[1-9]|1[0-2])|-?Q[1-4]|-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))?$")


def choice_of(what: str, spec: dict[str, str]) -> str:
    """A time or measure answer as one text a review can pick (``time:{...}``/``measure:{...}``)."""
    return f"{'time' if what == TIME else 'measure'}:" + json.dumps(spec, ensure_ascii=False, sort_keys=True)


def spec_of(choice: str) -> dict[str, str] | None:
    """The time or measure answer in ``choice`` (:func:`choice_of`), or None."""
    kind, _, text = choice.partition(":")
    if kind not in ("time", "measure"):
        return None
    try:
        got = json.loads(text)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in got.items()} if isinstance(got, dict) else None


def describe(spec: dict[str, str]) -> str:
    """A time or measure answer in words, for a review."""
    if "format" in spec or ("value" in spec and "kind" not in spec):
        if "value" in spec:
            return gettext(N_("every row: {period}"), period=spec["value"])
        return gettext(
            N_("column '{column}' ({format})"),
            column=spec.get("column", ""),
            format=_time_word(spec.get("format", "year")),
        )
    kind, col, den = spec.get("kind", ""), spec.get("column", ""), spec.get("denominator", "")
    answer = spec.get("answer", "")
    if kind == "column":
        return gettext(N_("the value of column '{column}'"), column=col)
    if kind == "count":
        return (
            gettext(N_("the sum of column '{column}'"), column=col)
            if col
            else gettext(N_("the number of respondents"))
        )
    if kind == "proportion" and answer and den:
        return gettext(
            N_("share answering '{answer}' to '{column}' among those who answered '{asked}', %"),
            answer=answer,
            column=col,
            asked=den,
        )
    if kind == "proportion" and answer:
        return gettext(
            N_("share answering '{answer}' to '{column}' among all respondents, %"), answer=answer, column=col
        )
    if kind == "proportion":
        return f"'{col}' / '{den}' x 100"
    if kind == "median":
        said = gettext(N_("the median of column '{column}'"), column=col)
    else:
        said = gettext(N_("the mean of column '{column}'"), column=col)
    return said + (gettext(N_(" among those who answered '{asked}'"), asked=den) if den else "")


#: the formats of a time column, in words
_TIME_WORDS = {
    "year": N_("year"),
    "month": N_("month"),
    "quarter": N_("quarter"),
    "date": N_("date"),
    "period": N_("period"),
}


def _time_word(fmt: str) -> str:
    """A time column's format in the drafting language (a format of no known name as it is)."""
    return gettext(_TIME_WORDS[fmt]) if fmt in _TIME_WORDS else fmt


def time_problems(spec: dict[str, str], columns: list[str]) -> list[tuple[str, str, str]]:
    """What is wrong with a time answer, as ``(field, problem, subject)``: field ``column``,
    ``format`` or ``value``; problem ``no-column`` (not a column of the data), ``unknown-format``
    or ``not-a-period`` (a fixed value that is no year, month, quarter or date)."""
    out = []
    if "value" in spec:
        if not PERIOD.match(spec["value"].strip()):
            out.append(("value", "not-a-period", spec["value"]))
        return out
    if spec.get("column", "") not in columns:
        out.append(("column", "no-column", spec.get("column", "")))
    if spec.get("format", "year") not in TIME_FORMATS:
        out.append(("format", "unknown-format", spec.get("format", "")))
    return out


def measure_problems(
    spec: dict[str, str], *, microdata: bool, columns: list[str], numeric: list[str],
    answers: dict[str, list[str]],
) -> list[tuple[str, str, str]]:  # fmt: skip
    """What is wrong with a measure answer, as ``(field, problem, subject)``.

    The short form: ``kind`` (aggregate data: ``column``, ``count`` or ``proportion``;
    microdata: ``count``, ``proportion``, ``mean`` or ``median``), ``column`` (aggregate: the
    value, or the numerator; microdata: the question a proportion counts an answer of, or the
    number a mean or median is of), ``denominator`` (aggregate proportion: the column of people
    asked; microdata: the question whose respondents are counted in, "" for all) and ``answer``
    (microdata proportion: the answer counted). Problems: ``unknown-kind``, ``needs-column``,
    ``no-column``, ``not-numeric``, ``same-column``, ``needs-answer``, ``unknown-answer``.
    """
    kinds = MICRODATA_KINDS if microdata else AGGREGATE_KINDS
    kind = spec.get("kind", "")
    if kind not in kinds:
        return [("kind", "unknown-kind", kind)]
    out = []
    col, den = spec.get("column", ""), spec.get("denominator", "")
    needs_col = not (microdata and kind == "count")
    if needs_col and not col:
        out.append(("column", "needs-column", ""))
    elif col and col not in columns:
        out.append(("column", "no-column", col))
    elif col and col not in numeric and not (microdata and kind in ("count", "proportion")):
        out.append(("column", "not-numeric", col))
    if den and den not in columns:
        out.append(("denominator", "no-column", den))
    elif kind == "proportion" and not microdata:
        if not den:
            out.append(("denominator", "needs-column", ""))
        elif den not in numeric:
            out.append(("denominator", "not-numeric", den))
        elif den == col:
            out.append(("denominator", "same-column", den))
    if microdata and kind == "proportion" and col in columns:
        out += _answer_problems(spec.get("answer", ""), col, answers)
    return out


def _answer_problems(answer: str, col: str, answers: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    if not answer:
        return [("answer", "needs-answer", col)]
    if col in answers and answer not in answers[col]:
        return [("answer", "unknown-answer", answer)]
    return []


def short_measure(value: dict[str, Any]) -> dict[str, str]:
    """A mapping's ``value:`` section in the short form of :func:`measure_problems`."""
    out = {"kind": str(value.get("kind", "column"))}
    where, of = value.get("where") or {}, value.get("of") or {}
    col = value.get("column") or value.get("numerator") or next(iter(where), "")
    if col:
        out["column"] = str(col)
    if value.get("denominator") or of:
        out["denominator"] = str(value.get("denominator") or next(iter(of)))
    if where:
        cond = where[next(iter(where))]
        labels = cond if isinstance(cond, list) else (cond.get("in") or cond.get("contains") or [])
        if labels:
            out["answer"] = str(labels[0])
    return out


@dataclass
class Draft:
    """A drafted mapping: the mapping as plain data, and every guess behind it."""

    mapping: dict[str, Any]
    guesses: list[Guess] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # "dimensions.SEX" / "map.SEX.F" -> why
    header: list[str] = field(default_factory=list)
    asks: list[Question] = field(default_factory=list)  # every choice with its candidates
    data_columns: list[str] = field(default_factory=list)  # what a column question can search
    #: every label of a column a dimension reads, with its code, confidence and candidates (as a
    #: :class:`Question`, whether sure or not): what the web mapping builder shows
    labels: list[Question] = field(default_factory=list)
    #: every data column the mapping reads for nothing, with the dimensions it could be (the
    #: ones not given a column; ``dimension:ID``), whether a review asks of it or not
    unused: list[Question] = field(default_factory=list)
    microdata: bool = False
    numeric_columns: list[str] = field(default_factory=list)
    #: the distinct values of each column of a few (the answers a proportion can count)
    answers: dict[str, list[str]] = field(default_factory=dict)

    def dimension_choices(self) -> list[Question]:
        """Each dimension's choice (column or fixed code) with its candidates, in key order."""
        return [
            q for q in self.asks if q.label is None and q.dimension and q.dimension not in (TIME, MEASURE)
        ]

    def other_choice(self, what: str) -> Question:
        """The question of TIME_PERIOD's source (``TIME``) or of the measure (``MEASURE``)."""
        return next(q for q in self.asks if q.label is None and q.dimension == what)

    def measure(self) -> dict[str, str]:
        """The drafted measure in its short form (:func:`measure_problems`)."""
        return short_measure(self.mapping["value"])

    def questions(self, kind: str = "column") -> list[Question]:
        """The uncertain choices (below :data:`CONFIDENT`) of one kind, ``column`` (a
        dimension's column or fixed code) or ``label`` (a label's code), in file order."""
        return [q for q in self.asks if (q.label is None) == (kind == "column") and q.confidence < CONFIDENT]

    def uncertain(self) -> list[Guess]:
        """The guesses below :data:`CONFIDENT`: the ones a person should confirm."""
        return [g for g in self.guesses if g.confidence < CONFIDENT]

    def to_yaml(self) -> str:
        """The mapping file, every guess commented with its reason and confidence."""
        return _render(self)

    def model(self) -> Mapping:
        """The drafted mapping checked by the mapping model (what ``load_mapping`` reads)."""
        return Mapping.model_validate(self.mapping)


@dataclass
class _Column:
    name: str
    key: str
    texts: list[str]  # the names and labels it is known by
    values: list[str]  # distinct non-empty values, in first-seen order
    kind: str
    select: bool = False
    labels: dict[str, list[str]] = field(default_factory=dict)  # value -> form labels

    @property
    def integers(self) -> bool:
        return bool(self.values) and all(_INT.match(v) for v in self.values)

    @property
    def numbers(self) -> bool:
        return bool(self.values) and all(_NUM.match(v) for v in self.values)


def normalise(text: str) -> str:
    """Text as it is compared: no accents, case or punctuation, common words and abbreviations
    replaced by the codelists' English ones, and words such as "County" or "City" left out.

    >>> normalise("Nairobi City"), normalise("  Taita-Taveta County "), normalise("Mwanamke")
    ('nairobi', 'taita taveta', 'female')
    """
    decomposed = unicodedata.normalize("NFKD", text)
    # Latin accents go (é -> e); the vowel signs of other scripts (Devanagari ...) stay
    plain = "".join(ch for ch in decomposed if not 0x300 <= ord(ch) <= 0x36F)
    words = re.sub(r"[^\w+]+", " ", plain.casefold().replace("_", " ")).split()
    kept = [_WORDS.get(w, w) for w in words if w not in _STOP]
    return " ".join(kept) if kept else " ".join(words)


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w+]+", " ", text.casefold().replace("_", " ")).split())


class _Codes:
    """A codelist's codes and names, normalised once, for matching labels."""

    def __init__(self, codelist: str | None, structures: Any) -> None:
        self.codes: dict[str, str] = {}
        if codelist:
            try:
                self.codes = structures.names(codelist)
            except Exception:  # noqa: BLE001 - an unreadable codelist: nothing to match against
                self.codes = {}
        self.by_code = {c.casefold(): c for c in self.codes}
        self.by_name: dict[str, str] = {}
        for code, name in self.codes.items():
            self.by_name.setdefault(normalise(name), code)
        self.choices = {code: normalise(name) for code, name in self.codes.items()}

    def total(self) -> str | None:
        return "_T" if "_T" in self.codes else None


def _age_code(label: str, codes: dict[str, str]) -> str | None:
    text = re.sub(r"\b(years?|yrs?|miaka|aged|age|umri|old|ans|años|anos)\b", " ", label.casefold())
    text = " ".join(text.replace("_", " ").split())
    raw = text
    m = _RANGE.match(text) or _RANGE.match(raw)
    if m:
        code = f"Y{int(m[1])}T{int(m[2])}"
        return code if code in codes else None
    m = _OVER.match(text) or _OVER.match(raw.replace(" ", ""))
    if m:
        code = f"Y_GE{int(m[1])}"
        return code if code in codes else None
    m = _UNDER.match(text)
    if m:
        code = f"Y0T{int(m[1]) - 1}"
        return code if code in codes else None
    return None


_Match = tuple[str | None, float, str]  # (code, confidence, why)


def match_label(
    label: str, dimension: str, codes: _Codes, *, yes_no: bool = False
) -> tuple[str | None, float, str]:
    """The best code for ``label`` of a column mapped to ``dimension``: (code, confidence, why)."""
    if not codes.codes:
        return None, 0.0, gettext(N_("the codelist is not known"))
    plain = _plain(label)
    if label.strip().casefold() in codes.by_code:
        return codes.by_code[label.strip().casefold()], 1.0, gettext(N_("the label is the code"))
    if plain in _TOTALS and codes.total():
        return "_T", 0.95, gettext(N_("'{label}' means all (the codelist's total)"), label=label)
    if dimension == "AGE":
        code = _age_code(label, codes.codes)
        if code:
            return code, 0.97, gettext(N_("the age range of '{label}' is {code}"), label=label, code=code)
    if dimension == "DISABILITY_STATUS" and yes_no and {"PD", "PWD"} <= set(codes.codes):
        if plain in _YES:
            return (
                "PD",
                0.9,
                gettext(N_("'{label}' in a disability column: persons with disability"), label=label),
            )
        if plain in _NO:
            return (
                "PWD",
                0.9,
                gettext(N_("'{label}' in a disability column: persons without disability"), label=label),
            )
    norm = normalise(label)
    if norm in codes.by_name:
        code = codes.by_name[norm]
        return (
            code,
            0.98,
            gettext(
                N_("'{label}' is the name of {code}, '{name}'"),
                label=label,
                code=code,
                name=codes.codes[code],
            ),
        )
    if not norm:
        return None, 0.0, gettext(N_("empty label"))
    best = process.extractOne(norm, codes.choices, scorer=fuzz.WRatio)
    if best is None:
        return None, 0.0, gettext(N_("no code is close"))
    _, score, code = best
    second = process.extract(norm, codes.choices, scorer=fuzz.WRatio, limit=2)
    gap = score - second[1][1] if len(second) > 1 else score
    confidence = score / 100 * (0.9 if gap >= 5 else 0.7)
    return (
        str(code),
        round(confidence, 2),
        gettext(
            N_("'{label}' is close to {code} '{name}' ({score} %)"),
            label=label,
            code=code,
            name=codes.codes[code],
            score=f"{score:.0f}",
        ),
    )


def _best_of(
    col: _Column,
    value: str,
    dimension: str,
    codes: _Codes,
    yes_no: bool,
    evidence: Evidence | None = None,
    decisions: Decisions | None = None,
) -> tuple[str | None, float, str]:
    """The best code for a value, trying its form labels (every language) too: the code chosen
    in a review, then the one earlier mappings gave the value (or one of its labels), then the
    codelist's."""
    if decisions is not None and (dimension, value) in decisions.labels:
        chosen = decisions.labels[(dimension, value)]
        if chosen == "":  # left without a code on purpose: its rows stay out
            return (
                None,
                1.0,
                gettext(N_("'{label}' is left without a code: chosen in the review"), label=value),
            )
        if chosen in codes.codes:
            return (
                chosen,
                1.0,
                gettext(
                    N_("'{label}' is {code} '{name}': chosen in the review"),
                    label=value,
                    code=chosen,
                    name=codes.codes[chosen],
                ),
            )
    best: _Match = (None, 0.0, gettext(N_("no code is close")))
    labels = col.labels.get(value, [])
    if evidence:
        sure, best = _from_evidence(value, labels, dimension, codes, evidence)
        if sure is not None:
            return sure
    # a choice name that is a number ("1", "2") says nothing: its labels do
    texts = labels if labels and value.isdigit() else [value, *labels]
    for text in texts:
        got = match_label(text, dimension, codes, yes_no=yes_no)
        if got[1] > best[1]:
            best = got
        if best[1] >= 0.98:
            break
    return best


def _from_evidence(
    value: str, labels: list[str], dimension: str, codes: _Codes, evidence: Evidence
) -> tuple[_Match | None, _Match]:
    """What earlier mappings say of a value (or one of its form labels): the code a label mapped
    before has (sure: first), else the code of an earlier label spelt almost the same (proposed
    below :data:`CONFIDENT`, to confirm; a codelist match that is surer wins over it)."""
    for text in [value, *labels]:
        hit = evidence.label(dimension, text, codes.codes)
        if hit is not None:
            name = codes.codes[hit.choice]
            if text == value:
                why = gettext(
                    N_("'{label}' is {code} '{name}' {where}"),
                    label=text,
                    code=hit.choice,
                    name=name,
                    where=hit.where(),
                )
            else:
                why = gettext(
                    N_("'{label}' (the label of '{value}') is {code} '{name}' {where}"),
                    label=text,
                    value=value,
                    code=hit.choice,
                    name=name,
                    where=hit.where(),
                )
            return (hit.choice, round(0.9 + 0.09 * hit.share, 2), why), (None, 0.0, "")
    best: _Match = (None, 0.0, gettext(N_("no code is close")))
    for text in [value, *labels]:
        hit = evidence.similar_label(dimension, text, codes.codes)
        if hit is None:
            continue
        confidence = round(min(0.79, 0.6 + 0.2 * (hit.score - 80) / 20), 2)
        if confidence > best[1]:
            name = codes.codes[hit.choice]
            why = gettext(
                N_("'{label}' is spelt like '{similar}', {code} '{name}' {where} ({score} % alike)"),
                label=text,
                similar=hit.similar,
                code=hit.choice,
                name=name,
                where=hit.where(),
                score=hit.score,
            )
            best = (hit.choice, confidence, why)
    return None, best


def _label_candidates(
    col: _Column, value: str, codes: _Codes, best: _Match, limit: int = 5
) -> list[Candidate]:
    """The codes a review offers for ``value``: the draft's choice first, then the codes whose
    names are closest to the value or its form labels (rapidfuzz)."""
    out: dict[str, Candidate] = {}
    if best[0] is not None:
        out[best[0]] = Candidate(best[0], codes.codes.get(best[0], ""), best[1], best[2])
    for text in [value, *col.labels.get(value, [])]:
        norm = normalise(text)
        if not norm:
            continue
        for _, score, code in process.extract(norm, codes.choices, scorer=fuzz.WRatio, limit=limit):
            code = str(code)
            if code not in out or out[code].confidence < score / 100 * 0.7:
                out[code] = Candidate(
                    code,
                    codes.codes[code],
                    round(score / 100 * 0.7, 2),
                    gettext(
                        N_("'{label}' is {score} % like '{name}'"),
                        label=text,
                        score=f"{score:.0f}",
                        name=codes.codes[code],
                    ),
                )
    first = [out.pop(best[0])] if best[0] is not None and best[0] in out else []
    return first + sorted(out.values(), key=lambda c: -c.confidence)[: limit - len(first)]


def _names_of(dim: str) -> list[str]:
    """What a column for ``dim`` may be called: its id in words and its aliases."""
    return [dim.replace("_", " "), *_ALIASES.get(dim, [])]


def _name_score(col: _Column, names: list[str]) -> float:
    best = 0.0
    for text in col.texts:
        t = _plain(text)
        for name in names:
            n = _plain(name)
            if not t or not n:
                continue
            if t == n:
                return 1.0
            words = t.split()
            if n in words or any(w.startswith(n) for w in words if len(n) >= 3):
                best = max(best, 0.9)
            best = max(best, fuzz.token_set_ratio(t, n) / 100 * 0.85)
    return best


# -- reading the data ----------------------------------------------------------------------------


def _columns(table: SourceTable) -> list[_Column]:
    distinct: dict[str, dict[str, None]] = {c.key: {} for c in table.columns}
    seen = 0
    for batch in table.batches(SAMPLE_ROWS):
        for c in table.columns:
            if c.key not in batch.schema.names:
                continue
            bucket = distinct[c.key]
            if len(bucket) > MAX_LABELS:
                continue
            for v in batch.column(c.key).to_pylist():
                if v is not None and str(v).strip() != "":
                    bucket.setdefault(str(v).strip(), None)
        seen += batch.num_rows
        if seen >= SAMPLE_ROWS:
            break
    return [_with_form(c, list(distinct[c.key]), table.form) for c in table.columns]


def _with_form(c: SourceColumn, values: list[str], form: XLSForm | None) -> _Column:
    """A column with the names and choice labels (every language) its XLSForm question gives."""
    q = form.questions.get(c.question or "") if form and c.kind == "data" else None
    texts = [c.name, c.header]
    labels: dict[str, list[str]] = {}
    select = False
    if q is not None and form is not None:
        texts += [label for label in (q.labels or ((q.label,) if q.label else ())) if label not in texts]
        if q.base_type in ("select_one", "select_multiple"):
            select = q.base_type == "select_one"
            for name, names in form.choices.get(q.list_name or "", {}).items():
                labels[name] = list(names)
    return _Column(c.name, c.key, texts, values, c.kind, select, labels)


def _is_microdata(cols: list[_Column], table: SourceTable, rows: int) -> bool:
    """One row per respondent: an XLSForm export, no numeric column, or rows that repeat the same
    combination of categories (aggregate data has one row per cell: each combination once)."""
    if table.form is not None:
        return True
    numeric = [c for c in cols if c.kind == "data" and c.numbers and not _is_time(c)]
    if not numeric:
        return True
    if any(_name_score(c, list(_DENOMINATOR_NAMES)) >= 0.85 for c in numeric if c.integers):
        return False  # a count of people asked: one row per cell
    # identifiers (a value per row) are no categories; in a small table every column may look so
    categories = [c.key for c in cols if c.kind == "data" and c.values and not c.numbers
                  and not _is_time(c) and (len(c.values) < rows or rows < 20)]  # fmt: skip
    if not categories:
        return False
    seen: set[tuple[Any, ...]] = set()
    total = 0
    for batch in table.batches(SAMPLE_ROWS):
        columns = [batch.column(k).to_pylist() if k in batch.schema.names else [None] * batch.num_rows
                   for k in categories]  # fmt: skip
        seen.update(zip(*columns, strict=True))
        total += batch.num_rows
        if total >= SAMPLE_ROWS:
            break
    return total >= 1.5 * len(seen)


def _is_time(col: _Column) -> str | None:
    """The time format of a column by the shape of its values, or None."""
    if not col.values:
        return None
    for fmt, pattern in (("year", _YEAR), ("month", _MONTH), ("quarter", _QUARTER), ("date", _DATE)):
        if all(pattern.match(v) for v in col.values):
            return fmt
    return None


# -- the draft -----------------------------------------------------------------------------------


def draft_mapping(
    data: str | Path,
    *,
    dataflow: str,
    structures: Any,
    form: str | Path | None = None,
    sheet: str | None = None,
    evidence: Evidence | None = None,
    decisions: Decisions | None = None,
    t: Translator | None = None,
) -> Draft:
    """Draft a complete mapping of ``data`` to ``dataflow`` (``AGENCY:ID(VERSION)``).

    ``evidence`` (:func:`cgd_bridge.mapping.evidence.load_evidence`): earlier mappings, whose
    labels and column names are proposed first. ``decisions``: answers of a review
    (``mapping init --interactive``), taken as given. ``t``: the language of the reasons and
    the header comments (default: the one set by :func:`cgd_bridge.mapping.language.speaking`,
    else English); the mapping's keys and values are the same in every language.

    Raises:
        InputError: the data or form cannot be read.
        StructureError: the dataflow or its DSD is not known.
    """
    table = open_table(data, sheet=sheet, form=form)
    contract = contract_for(dataflow, structures)
    cols = _columns(table)
    rows = sum(b.num_rows for b in table.batches(SAMPLE_ROWS))
    if not rows:
        raise MappingError(
            N_("the data has no rows to draft a mapping from"),
            fix=N_("Give the export with its data rows, not only the column names."),
            file=table.file,
        )
    drafter = _Drafter(table, contract, structures, cols, rows, dataflow)
    drafter.evidence, drafter.decisions = evidence, decisions or Decisions()
    with speaking(t):
        return drafter.draft()


class _Drafter:
    def __init__(self, table: SourceTable, contract: Contract, structures: Any, cols: list[_Column],
                 rows: int, dataflow: str) -> None:  # fmt: skip
        self.table, self.contract, self.structures = table, contract, structures
        self.cols, self.rows, self.dataflow = cols, rows, dataflow
        self.guesses: list[Guess] = []
        self.comments: dict[str, str] = {}
        self.used: set[str] = set()
        self.named_by: str | None = None  # the text SERIES was named after
        self.codes = {d.id: _Codes(d.codelist, structures) for d in contract.dimensions}
        self.evidence: Evidence | None = None
        self.decisions = Decisions()
        self.asks: list[Question] = []
        self.labels: list[Question] = []  # every label of a mapped column, sure or not
        self.options: dict[str, list[Candidate]] = {}  # dimension -> the answers a review offers

    def guess(self, what: str, choice: str, confidence: float, why: str, key: str | None = None) -> None:
        what, choice, why = _one_line(what), _one_line(choice), _one_line(why)
        self.guesses.append(Guess(what, choice, round(min(confidence, 1.0), 2), why))
        if key:
            self.comments[key] = gettext(
                N_("{why}; {sure} sure"), why=why, sure=percent(min(confidence, 1.0))
            ) + (" - CONFIRM" if confidence < CONFIDENT else "")

    def data_cols(self) -> list[_Column]:
        return [c for c in self.cols if c.kind == "data" and c.name not in self.used and not is_meta(c.name)]

    def draft(self) -> Draft:
        microdata = _is_microdata(self.cols, self.table, self.rows)
        m: dict[str, Any] = {"profile": PROFILE, "dataset": _dataset_name(self.table.path)}
        schema, _ = schema_for(self.table)
        descriptor = schema.to_descriptor()
        descriptor["dataKind"] = "microdata" if microdata else "aggregate"
        m["schema"] = descriptor
        m["version"] = "1.0.0"
        m["dataflow"] = self.dataflow
        derive = self.washington_group()
        time, freq = self.time(microdata)
        value, unit = self.measure(microdata)
        dims = self.dimensions(derive)
        fixed = self.fixed(dims, freq, value)
        if microdata and not self.decisions.value:
            value, unit = self.proportion_of_yes(fixed.get("SERIES", {}).get("value")) or (value, unit)
        m["dimensions"] = {
            d: dims.get(d) or fixed[d] for d in self.contract.dimension_ids if d in dims or d in fixed
        }
        _schema_roles(descriptor, m["dimensions"])
        m["time"] = time
        if derive:
            m["derive"] = derive
        if microdata:
            m["aggregate"] = {}
            m["totals"] = self.totals(m["dimensions"])
        m["value"] = value
        m["attributes"] = self.attributes(unit)
        drafted = (
            gettext(
                N_("Drafted by 'cgd-bridge mapping init' from {file} and {form} for {dataflow}."),
                file=self.table.file,
                form=self.table.form.file,
                dataflow=self.dataflow,
            )
            if self.table.form
            else gettext(
                N_("Drafted by 'cgd-bridge mapping init' from {file} for {dataflow}."),
                file=self.table.file,
                dataflow=self.dataflow,
            )
        )
        header = [
            _one_line(drafted),
            gettext(
                N_("Every guess is commented with why and how sure; check those marked CONFIRM, then run")
            ),
            gettext(N_("'cgd-bridge validate DATA --mapping THIS_FILE' (docs/mapping.md).")),
            gettext(N_("The data looks like microdata (one row per respondent)."))
            if microdata
            else gettext(N_("The data looks like aggregate data (one row per cell).")),
        ]
        if self.evidence:
            sources = self.evidence.sources
            header.append(gettext(N_("Labels and columns mapped before are proposed first, from:")))
            header += [f"  {_one_line(source)}" for source in sources[:10]]
            if len(sources) > 10:
                header.append("  " + gettext(N_("and {n} more"), n=len(sources) - 10))
        data_columns = [c.name for c in self.cols if c.kind == "data"]
        unused = self.unused_questions(m)
        asked = [q for q in unused if q.confidence < 0]  # the columns of a few categories
        for q in unused:
            q.confidence = 0.0
        others = [self.time_question(m["time"]), self.measure_question(m["value"], microdata)]
        asks = self.dimension_questions(m["dimensions"]) + asked + others + self.asks
        data = [c for c in self.cols if c.kind == "data"]
        numeric = [c.name for c in data if c.numbers]
        answers = {c.name: c.values for c in data if len(c.values) <= 30}
        return Draft(m, self.guesses, self.comments, header, asks, data_columns, self.labels, unused,
                     microdata, numeric, answers)  # fmt: skip

    def unused_questions(self, m: dict[str, Any]) -> list[Question]:
        """Every data column the mapping reads for nothing: which dimension is it? The answers:
        the dimensions not given a column, the one its name is most like first. A column of a
        few categories (renamed, in another language) is one a review asks of (its confidence
        is -1 until :meth:`draft` sets it to 0): skipping leaves it unused."""
        read = _read_columns(m)
        out = []
        dims = m["dimensions"]
        free = [d for d in self.contract.dimension_ids if "column" not in dims.get(d, {})]
        fixed = [
            d for d in free if "value" in dims.get(d, {}) and d not in ("FREQ", "REPORTING_TYPE", "SERIES")
        ]
        for c in self.cols:
            if c.kind != "data" or c.name in read or is_meta(c.name) or not c.values:
                continue
            ask = not (len(c.values) > 30 or c.numbers or _is_time(c) or c.name.startswith("_"))
            cands = []
            for d in fixed if ask else free:
                name = _name_score(c, [d.replace("_", " "), *_ALIASES.get(d, [])])
                cands.append(
                    Candidate(
                        f"dimension:{d}",
                        _concept(d),
                        round(0.3 + 0.5 * name, 2),
                        gettext(N_("its name is {share} like {dimension}"), share=percent(name), dimension=d),
                    )
                )
            cands.sort(key=lambda x: -x.confidence)
            why = gettext(N_("no dimension reads it; its values: {values}"), values=_sample(c))
            names = {cand.choice.split(":", 1)[1]: cand.name for cand in cands}
            if ask:
                out.append(Question("", None, c.name, None, -1.0, why, cands[:6], names))
            else:
                out.append(Question("", None, c.name, None, 0.0, why, cands, names))
        return out

    def time_question(self, time: dict[str, Any]) -> Question:
        """TIME_PERIOD's source as a review asks it: the draft's, then every column of years,
        months, quarters or dates, and the years of a date column as one value for every row."""
        g = next((g for g in self.guesses if g.what == TIME), Guess(TIME, "", 0.0, ""))
        proposed = None if time.get("value") == "CONFIRM" else dict(time)
        cands: dict[str, Candidate] = {}
        if proposed:
            cands[choice_of(TIME, proposed)] = Candidate(choice_of(TIME, proposed), describe(proposed),
                                                         g.confidence, g.why)  # fmt: skip
        for c in self.cols:
            fmt = _is_time(c) if c.kind in ("data", "meta") else None
            if fmt is None:
                continue
            found = [({"column": c.name, "format": fmt}, 0.5, _every_value(c.name, fmt))]
            if fmt == "date":
                found += [
                    (
                        {"value": y},
                        0.4,
                        gettext(N_("a date of '{column}' is in {year}"), column=c.name, year=y),
                    )
                    for y in sorted({v[:4] for v in c.values})[:3]
                ]
            for spec, sure, why in found:
                choice = choice_of(TIME, spec)
                cands.setdefault(choice, Candidate(choice, describe(spec), sure, why))
        chosen = choice_of(TIME, proposed) if proposed else None
        return Question(TIME, None, None, chosen, g.confidence, g.why, list(cands.values())[:9], {})

    def measure_question(self, value: dict[str, Any], microdata: bool) -> Question:
        """The measure as a review asks it: the draft's, then the other measures the columns
        make (aggregate: each numeric column as it is or summed, each count of a column of
        people asked; microdata: the number of respondents, the share giving each answer of a
        yes/no question, the mean and median of each numeric column)."""
        g = next((g for g in self.guesses if g.what == MEASURE), Guess(MEASURE, "", 0.0, ""))
        proposed = (
            None if "CONFIRM" in (value.get("column"), value.get("numerator")) else short_measure(value)
        )
        specs: list[dict[str, str]] = [proposed] if proposed else []
        data = [c for c in self.cols if c.kind == "data" and not is_meta(c.name)]
        mine = set(short_measure(value).values())  # the draft's measure columns, and not those of others
        nums = [
            c for c in data if c.numbers and not _is_time(c) and (c.name not in self.used or c.name in mine)
        ]
        if microdata:
            specs.append({"kind": "count"})
            for c in data:
                for v in c.values if len(c.values) <= 3 and not c.numbers else []:
                    if _plain(v) in _YES:
                        specs.append({"kind": "proportion", "column": c.name, "answer": v})
            specs += [{"kind": k, "column": c.name} for c in nums for k in ("mean", "median")]
        else:
            dens = sorted(
                [c for c in nums if c.integers], key=lambda c: -_name_score(c, list(_DENOMINATOR_NAMES))
            )
            for den in dens[:2]:
                specs += [{"kind": "proportion", "column": c.name, "denominator": den.name}
                          for c in nums if c is not den and c.integers and self.at_most(c, den)]  # fmt: skip
            specs += [{"kind": "column", "column": c.name} for c in nums]
            specs += [{"kind": "count", "column": c.name} for c in nums if c.integers]
        cands: dict[str, Candidate] = {}
        for n, spec in enumerate(specs):
            sure, why = (
                (g.confidence, g.why) if n == 0 and proposed else (0.4, gettext(N_("the columns allow it")))
            )
            cands.setdefault(
                choice_of(MEASURE, spec), Candidate(choice_of(MEASURE, spec), describe(spec), sure, why)
            )
        chosen = choice_of(MEASURE, proposed) if proposed else None
        return Question(MEASURE, None, None, chosen, g.confidence, g.why, list(cands.values())[:9], {})

    def dimension_questions(self, dimensions: dict[str, Any]) -> list[Question]:
        """Each dimension's choice as a review asks it: the proposal, then the other columns
        that fit, the codes its name suggests and the codelist's total or not-applicable code."""
        chosen = {g.what: g for g in self.guesses}
        out = []
        for d in self.contract.dimension_ids:
            spec, g = dimensions.get(d), chosen.get(d)
            if spec is None or g is None:
                continue
            proposed = f"column:{spec['column']}" if "column" in spec else f"value:{spec['value']}"
            options = {c.choice: c for c in self.options.get(d, [])}
            codes = self.codes[d].codes
            for alt in ("_T", "_Z"):  # the codelist's total, not applicable: no breakdown by it
                if alt in codes and f"value:{alt}" not in options:
                    options[f"value:{alt}"] = Candidate(
                        f"value:{alt}", codes[alt], 0.3, gettext(N_("no column breaks the data down by it"))
                    )
            first = options.pop(proposed, Candidate(proposed, "", g.confidence, g.why))
            nothing = proposed.endswith(":CONFIRM")  # no proposal: only the other answers
            cands = ([] if nothing else [first]) + sorted(options.values(), key=lambda c: -c.confidence)
            out.append(
                Question(d, None, None, None if nothing else proposed, g.confidence, g.why, cands[:6], codes)
            )
        return out

    # -- Washington Group ------------------------------------------------------------------------

    def washington_group(self) -> dict[str, Any] | None:
        found: dict[str, str] = {}
        for domain in _WG:
            for c in self.data_cols():
                names = [_plain(t) for t in c.texts]
                if any(domain in n.replace(" ", "") or any(w in n for w in _WG_WORDS[domain]) for n in names):
                    if c.name not in found.values() and (c.select or len(c.values) <= 8):
                        found[domain] = c.name
                        break
        if len(found) < 6:
            return None
        self.used.update(found.values())
        self.guess(
            "derive wg_disability",
            "Washington Group disability3",
            0.9,
            gettext(
                N_("the six WG-SS domain columns are there: {columns}"), columns=", ".join(found.values())
            ),
            key="derive",
        )
        return {
            "wg_disability": {
                "washington_group": {
                    "columns": found,
                    "cutoff": "disability3",
                    "with": "yes",
                    "without": "no",
                    "missing": "drop",
                    "reason": "Washington Group status unknown: a question is not answered and none "
                    "meets the cut-off",
                }
            }
        }

    # -- time and measures -------------------------------------------------------------------------

    def time(self, microdata: bool) -> tuple[dict[str, Any], str]:
        decided = self.decisions.time
        names = [c.name for c in self.cols if c.kind in ("data", "meta")]
        if decided and not time_problems(decided, names):
            freq = {"year": "A", "month": "M", "quarter": "Q", "date": "D", "period": "A"}
            if "value" in decided:
                v = decided["value"].strip()
                self.guess(
                    TIME,
                    v,
                    1.0,
                    gettext(N_("every row is {period}: chosen in the review"), period=v),
                    key="time",
                )
                shape = _period_shape(v)
                return {"value": v}, freq[shape]
            col, form = decided["column"], decided.get("format", "year")
            self.used.add(col)
            self.guess(
                TIME,
                _column(col),
                1.0,
                gettext(
                    N_("'{column}' ({format}) chosen in the review"), column=col, format=_time_word(form)
                ),
                key="time",
            )
            return {"column": col, "format": form}, freq[form]
        cands = []
        for c in self.cols:
            if c.kind not in ("data", "meta"):
                continue
            fmt = _is_time(c)
            if fmt is None:
                continue
            named = _name_score(c, list(_TIME_NAMES))
            cands.append((named + (0.5 if c.kind == "data" else 0), c, fmt))
        cands.sort(key=lambda t: -t[0])
        freq = {"year": "A", "month": "M", "quarter": "Q", "date": "A"}
        if not cands:
            self.guess(
                "TIME_PERIOD",
                gettext(N_("none found")),
                0.0,
                gettext(
                    N_("no column holds years, months, quarters or dates: give {example}"),
                    example="'time: {value: YYYY}'",
                ),
                key="time",
            )
            return {"value": "CONFIRM"}, "A"
        _, c, fmt = cands[0]
        if fmt == "date":
            years = sorted({v[:4] for v in c.values})
            self.used.add(c.name)
            if len(years) == 1:
                self.guess(
                    "TIME_PERIOD",
                    years[0],
                    0.85,
                    gettext(N_("every date in '{column}' is in {year}"), column=c.name, year=years[0]),
                    key="time",
                )
                return {"value": years[0]}, "A"
            self.guess(
                "TIME_PERIOD",
                _column(c.name),
                0.6,
                ngettext(
                    "'{column}' holds dates of {n} year; the period is each date's",
                    "'{column}' holds dates of {n} years; the period is each date's",
                    len(years),
                    column=c.name,
                ),
                key="time",
            )
            return {"column": c.name, "format": "date"}, "D"
        self.used.add(c.name)
        self.guess("TIME_PERIOD", _column(c.name), 0.95, _every_value(c.name, fmt), key="time")
        return {"column": c.name, "format": fmt}, freq[fmt]

    def measure(self, microdata: bool) -> tuple[dict[str, Any], str]:
        decided = self.decided_measure(microdata)
        if decided is not None:
            return decided
        if microdata:
            self.guess(
                "OBS_VALUE",
                gettext(N_("count of respondents")),
                0.7,
                gettext(
                    N_(
                        "microdata: each observation counts the respondents of its cell; for a "
                        "proportion, write kind: proportion with where/of (docs/mapping.md)"
                    )
                ),
                key="value",
            )
            return {"kind": "count"}, "NUMBER"
        nums = [c for c in self.data_cols() if c.numbers]
        dens = sorted(nums, key=lambda c: -_name_score(c, list(_DENOMINATOR_NAMES)))
        den = dens[0] if dens and _name_score(dens[0], list(_DENOMINATOR_NAMES)) >= 0.85 else None
        counts = [c for c in nums if c is not den and c.integers]
        if den is not None:  # a part of the people asked is never more than them
            counts = [c for c in counts if self.at_most(c, den)]
        if den is not None and counts:
            num = counts[0]
            self.used.update({den.name, num.name})
            self.guess(
                "OBS_VALUE",
                f"{num.name} / {den.name} x 100",
                0.85,
                gettext(
                    N_("'{asked}' is named like the number asked and '{count}' is a count of them"),
                    asked=den.name,
                    count=num.name,
                ),
                key="value",
            )
            return {
                "kind": "proportion",
                "numerator": num.name,
                "denominator": den.name,
                "scale": 100,
                "decimals": 1,
            }, "PT"
        if nums:
            col = ([c for c in nums if c is not den] or nums)[0]
            self.used.add(col.name)
            kind = "count" if col.integers else "column"
            self.guess(
                "OBS_VALUE",
                _column(col.name),
                0.6,
                gettext(N_("'{column}' is the only measure-like column"), column=col.name),
                key="value",
            )
            if kind == "count":
                return {"kind": "count", "numerator": col.name}, "NUMBER"
            return {"kind": "column", "column": col.name}, "PT"
        self.guess("OBS_VALUE", gettext(N_("none found")), 0.0, gettext(N_("no numeric column")), key="value")
        return {"kind": "column", "column": "CONFIRM"}, "NUMBER"

    def decided_measure(self, microdata: bool) -> tuple[dict[str, Any], str] | None:
        """The measure chosen in a review as the mapping's ``value:`` and its unit, or None (none
        chosen, or one that does not fit the data: the draft's own guess then)."""
        spec = self.decisions.value
        data = [c for c in self.cols if c.kind == "data"]
        if not spec or measure_problems(
            spec, microdata=microdata, columns=[c.name for c in data],
            numeric=[c.name for c in data if c.numbers], answers={c.name: c.values for c in data},
        ):  # fmt: skip
            return None
        kind, col, den = spec["kind"], spec.get("column", ""), spec.get("denominator", "")
        self.used |= {c for c in (col, den) if c}
        self.guess(MEASURE, describe(spec), 1.0, gettext(N_("chosen in the review")), key="value")
        if kind == "proportion" and microdata:
            value: dict[str, Any] = {"kind": "proportion", "where": {col: [spec["answer"]]}}
            if den:
                value["of"] = {den: {"answered": True}}
            return {**value, "scale": 100, "decimals": 1}, "PT"
        if kind == "proportion":
            return {
                "kind": "proportion",
                "numerator": col,
                "denominator": den,
                "scale": 100,
                "decimals": 1,
            }, "PT"
        if kind == "count":
            return ({"kind": "count", "numerator": col} if col else {"kind": "count"}), "NUMBER"
        if kind in ("mean", "median"):
            value = {"kind": kind, "column": col, "decimals": 1}
            if den:
                value["of"] = {den: {"answered": True}}
            return value, "NUMBER"
        whole = next((c for c in data if c.name == col), None)
        return {"kind": "column", "column": col}, "NUMBER" if whole is not None and whole.integers else "PT"

    def at_most(self, part: _Column, whole: _Column) -> bool:
        """True when ``part`` <= ``whole`` on every row read where both are numbers."""
        for batch in self.table.batches(SAMPLE_ROWS):
            a = batch.column(part.key).to_pylist() if part.key in batch.schema.names else []
            b = batch.column(whole.key).to_pylist() if whole.key in batch.schema.names else []
            for x, y in zip(a, b, strict=False):
                if (
                    x is not None
                    and y is not None
                    and _NUM.match(x)
                    and _NUM.match(y)
                    and float(x) > float(y)
                ):
                    return False
            break
        return True

    # -- dimensions ------------------------------------------------------------------------------

    def dimensions(self, derive: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        scored = []
        for d in self.contract.dimensions:
            if d.id in ("FREQ", "REPORTING_TYPE", "SERIES"):
                continue
            codes = self.codes[d.id]
            if not codes.codes:
                continue
            if d.id == "DISABILITY_STATUS" and derive:
                out[d.id] = {"column": "wg_disability", "map": {"PD": ["yes"], "PWD": ["no"]}}
                self.guess(
                    d.id,
                    _column("wg_disability"),
                    0.95,
                    gettext(N_("derived from the six Washington Group answers (derive: below)")),
                    key=f"dimensions.{d.id}",
                )
                continue
            for c in self.data_cols():
                got = self.score_column(d.id, c, codes)
                if got is not None:
                    scored.append((got[0], d.id, c, got[1], got[2]))
        scored.sort(key=lambda t: -t[0])
        taken: set[str] = set()
        for score, dim, c, why, _ in scored:
            option = Candidate(f"column:{c.name}", _sample(c), round(min(score, 1.0), 2), why)
            self.options.setdefault(dim, []).append(option)
        for score, dim, c, why, matches in scored:
            if dim in out or c.name in taken:
                continue
            taken.add(c.name)
            out[dim] = self.column_map(dim, c, matches)
            self.guess(dim, _column(c.name), score, why, key=f"dimensions.{dim}")
        self.used |= taken
        return out

    def score_column(self, dim: str, c: _Column, codes: _Codes) -> tuple[float, str, list[_Match]] | None:
        """How well column ``c`` fits ``dim``: (score, why, each value's match), or None."""
        decided = self.decisions.columns.get(dim, "")
        if decided and decided != f"column:{c.name}":
            return None
        if not decided and (not c.values or len(c.values) > MAX_LABELS or _is_time(c)):
            return None  # a column chosen in a review is taken whatever it holds
        name = _name_score(c, _names_of(dim))
        seen = self.evidence.column(c.texts, dim, self.dataflow) if self.evidence else None
        many_numbers = c.numbers and not c.select and name < 0.85 and len(c.values) > 20
        if many_numbers and seen is None and not decided:
            return None
        yes_no = dim == "DISABILITY_STATUS" and name >= 0.85
        matches = [_best_of(c, v, dim, codes, yes_no, self.evidence, self.decisions) for v in c.values]
        share = sum(1 for m in matches if m[1] >= MATCHES) / max(len(c.values), 1)
        if decided:
            why = gettext(
                N_("'{column}' chosen in the review; {share} of its values have a code"),
                column=c.name,
                share=percent(share),
            )
            return 1.0, why, matches
        if seen is not None and (seen.share >= 1 or share >= 0.5):
            # read for this dimension before: for the same dataflow, whatever its labels now
            why = gettext(
                N_("'{column}' is {dimension} {where}; {share} of its values have a code"),
                column=c.name,
                dimension=dim,
                where=seen.where(),
                share=percent(share),
            )
            return 0.8 + 0.1 * seen.share + 0.1 * share, why, matches
        if share < 0.5 or (share < 0.8 and name < 0.5):
            return None
        if dim not in _ALIASES and name < 0.5 and share < 1:
            return None
        why = ngettext(
            "name {name} like {dimension}; {share} of its {n} value match the codelist",
            "name {name} like {dimension}; {share} of its {n} values match the codelist",
            len(c.values),
            name=percent(name),
            dimension=dim,
            share=percent(share),
        )
        return 0.35 * name + 0.65 * share, why, matches

    def column_map(
        self, dim: str, c: _Column, matches: list[tuple[str | None, float, str]]
    ) -> dict[str, Any]:
        by_code: dict[str, list[str]] = {}
        codes = self.codes[dim]
        for value, (code, conf, why) in zip(c.values, matches, strict=True):
            cands = _label_candidates(c, value, codes, (code, conf, why))
            ask = Question(dim, value, c.name, code if conf >= 0.5 else None, conf, why, cands, codes.codes)
            self.labels.append(ask)
            if conf < CONFIDENT:
                self.asks.append(ask)
            if code is None or conf < 0.5:
                self.guess(
                    f"{dim} '{value}'",
                    gettext(N_("no code")),
                    conf,
                    gettext(N_("{why}; its rows are left out until it is mapped"), why=why),
                )
                self.comments[f"unmapped.{dim}"] = (
                    self.comments.get(f"unmapped.{dim}", gettext(N_("not mapped (rows left out):")) + " ")
                    + f"'{_one_line(value)}' "
                )
                continue
            labels = by_code.setdefault(code, [])
            labels.append(value)
            for extra in c.labels.get(value, []):  # the form's labels, in every language
                if extra not in labels:
                    labels.append(extra)
            self.guess(f"{dim} '{value}'", code, conf, why, key=f"map.{dim}.{code}.{value}")
        return {"column": c.name, "map": by_code}

    def named_like(self, dim: str) -> str | None:
        """An unused column of few distinct labels named like ``dim`` (say "Gender (Mtundu)" for
        SEX), whose labels matched no code: a fixed code for ``dim`` is then no sure guess."""
        for c in self.data_cols():
            if c.values and not c.numbers and len(c.values) <= NAMED_ONLY_VALUES and not _is_time(c):
                if _name_score(c, _names_of(dim)) >= 0.85:
                    return c.name
        return None

    def fixed(self, dims: dict[str, Any], freq: str, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for d in self.contract.dimensions:
            if d.id in dims:
                continue
            codes = self.codes[d.id].codes
            key = f"dimensions.{d.id}"
            decided = self.decided_value(d.id, value)
            if decided is not None:
                out[d.id] = {"value": decided}
            elif d.id == "FREQ" and freq in codes:
                out[d.id] = {"value": freq}
                said = gettext(N_("the time period is {code} '{name}'"), code=freq, name=codes[freq])
                self.guess(d.id, freq, 0.9, said, key=key)
            elif d.id == "REPORTING_TYPE" and "N" in codes:
                out[d.id] = {"value": "N"}
                self.guess(
                    d.id, "N", 0.8, gettext(N_("data of one country is reported as national")), key=key
                )
            elif d.id == "SERIES":
                out[d.id] = self.named_code(d.id, self.measure_words(value), 0.5, key)
            elif d.id == "REF_AREA":
                out[d.id] = self.named_code(
                    d.id, [self.table.path.stem, self.table.path.parent.name], 0.8, key
                )
            elif "_T" in codes or "_Z" in codes:
                code = "_T" if "_T" in codes else "_Z"
                out[d.id] = {"value": code}
                named = self.named_like(d.id)
                if named is None:
                    said = (
                        gettext(N_("no column is broken down by it: the codelist's total"))
                        if code == "_T"
                        else gettext(N_("no column is broken down by it: not applicable"))
                    )
                    self.guess(d.id, code, 0.9, said, key=key)
                else:  # a column is named like it, but its values match none of its codes
                    said = (
                        gettext(N_("the codelist's total, but column '{column}' is named like {dimension} "
                                   "and most of its values match none of its codes: is it this dimension?"),
                                column=named, dimension=d.id)
                        if code == "_T"
                        else gettext(N_("not applicable, but column '{column}' is named like {dimension} "
                                        "and most of its values match none of its codes: is it this "
                                        "dimension?"), column=named, dimension=d.id)
                    )  # fmt: skip
                    self.guess(d.id, code, 0.4, said, key=key)
            else:
                out[d.id] = {"value": "CONFIRM"}
                self.guess(
                    d.id,
                    gettext(N_("none")),
                    0.0,
                    gettext(N_("no column fits and the codelist has no total: give a code")),
                    key=key,
                )
        return out

    def decided_value(self, dim: str, value: dict[str, Any]) -> str | None:
        """The code a review chose for ``dim`` (None: none chosen)."""
        codes = self.codes[dim].codes
        decided = self.decisions.columns.get(dim, "")
        code = decided[len("value:") :]
        if not decided.startswith("value:") or code not in codes:
            return None
        if dim == "SERIES":  # what it was named after still gives the proportion of yes answers
            _, named, text = self.named(dim, self.measure_words(value), 0.5)
            self.named_by = text if named == code else None
        said = gettext(N_("{code} '{name}' chosen in the review"), code=code, name=codes[code])
        self.guess(dim, code, 1.0, said, key=f"dimensions.{dim}")
        return code

    def proportion_of_yes(self, series: str | None) -> tuple[dict[str, Any], str] | None:
        """For microdata whose SERIES is a proportion named after a yes/no question: the share
        of respondents answering yes (among all of them: who was asked is not guessed)."""
        if not series or not self.codes["SERIES"].codes.get(series, "").casefold().startswith("proportion"):
            return None
        col = next((c for c in self.cols if self.named_by in c.texts), None)
        yes = [v for v in (col.values if col else []) if _plain(v) in _YES]
        if col is None or len(yes) != 1:
            return None
        self.guesses = [g for g in self.guesses if g.what != "OBS_VALUE"]
        why = gettext(
            N_(
                "{series} is a proportion and '{column}' the yes/no question it was named after; "
                "the share is among all respondents: if only some were asked, add 'of:' "
                "(docs/mapping.md)"
            ),
            series=series,
            column=col.name,
        )
        self.guess(
            "OBS_VALUE",
            gettext(N_("share of '{column}' = {answer}"), column=col.name, answer=yes[0]),
            0.6,
            why,
            key="value",
        )
        value = {"kind": "proportion", "where": {col.name: [yes[0]]}, "scale": 100, "decimals": 1}
        return value, "PT"

    def measure_words(self, value: dict[str, Any]) -> list[str]:
        names = [str(value.get(k)) for k in ("numerator", "column") if value.get(k)]
        texts = []
        for c in self.cols:
            if c.name in names:
                texts += c.texts
        if not texts:  # microdata: the yes/no questions most likely measured
            texts = [t for c in self.data_cols() if c.select and len(c.values) <= 3 for t in c.texts[2:]]
        return texts

    def named(self, dim: str, texts: list[str], weight: float) -> tuple[float, str, str]:
        """The code whose name the texts name best: (score 0-100, code, text); the next best
        become the answers a review offers."""
        codes = self.codes[dim]
        best: tuple[float, str, str] = (0.0, "", "")
        choices = {c: _plain(n) for c, n in codes.codes.items()}
        others: dict[str, tuple[float, str]] = {}
        for text in texts:
            t = normalise(text)
            if not t:
                continue
            if dim == "REF_AREA":  # a country's name among the words of the file's name
                for code, name in choices.items():
                    longer = len(name) > len(choices.get(best[1], ""))
                    if longer and any(re.search(rf"\b{re.escape(n)}\b", t) for n in _short_names(name)):
                        best = (100.0, code, text)
                continue
            # every word of the text in the name, and then the name with the fewest other words
            for _, score, code in process.extract(t, choices, scorer=_name_words, limit=5):
                if score > others.get(str(code), (0.0, ""))[0]:
                    others[str(code)] = (score, text)
            got = process.extractOne(t, choices, scorer=_name_words)
            if got and got[1] > best[0]:
                best = (got[1], str(got[2]), text)
        for code, (score, text) in others.items():
            self.options.setdefault(dim, []).append(
                Candidate(
                    f"value:{code}",
                    codes.codes[code],
                    round(score / 100 * weight, 2),
                    _names(text, code, codes.codes[code]),
                )
            )
        return best

    def named_code(self, dim: str, texts: list[str], weight: float, key: str) -> dict[str, Any]:
        codes = self.codes[dim]
        best = self.named(dim, texts, weight)
        if not best[1] or best[0] < 60:
            hit = self.evidence.value(dim, self.dataflow, codes.codes) if self.evidence else None
            if hit is not None:  # what this dataflow's earlier mappings gave: likely, to confirm
                why = gettext(
                    N_("{code} '{name}' {where}"),
                    code=hit.choice,
                    name=codes.codes[hit.choice],
                    where=hit.where(),
                )
                self.guess(dim, hit.choice, 0.6, why, key=key)
                return {"value": hit.choice}
            self.guess(
                dim,
                gettext(N_("none")),
                0.0,
                gettext(N_("no column and no name fits: give the code")),
                key=key,
            )
            return {"value": "CONFIRM"}
        score, code, text = best
        self.named_by = text if dim == "SERIES" else self.named_by
        sure, why = score / 100 * weight, _names(text, code, codes.codes[code])
        hit = self.evidence.value(dim, self.dataflow, codes.codes) if self.evidence else None
        if hit is not None and hit.choice == code:  # and earlier mappings of this dataflow chose it
            sure, why = max(sure, 0.85), gettext(N_("{why}, {where}"), why=why, where=hit.where())
        elif hit is not None:
            self.options.setdefault(dim, []).append(
                Candidate(f"value:{hit.choice}", codes.codes[hit.choice], 0.6, hit.where())
            )
        self.guess(dim, code, sure, why, key=key)
        return {"value": code}

    def totals(self, dims: dict[str, Any]) -> dict[str, str]:
        out = {}
        for dim, spec in dims.items():
            if "column" not in spec:
                continue
            codes = self.codes.get(dim)
            total = "_T"
            if dim == "AGE" and codes is not None:
                ranges = [re.fullmatch(r"Y(\d+)T(\d+)", c) for c in spec["map"]]
                if ranges and all(ranges):
                    lo = min(int(r[1]) for r in ranges if r)
                    hi = max(int(r[2]) for r in ranges if r)
                    span = f"Y{lo}T{hi}"
                    if span in codes.codes:
                        total = span
                        self.guess(
                            "totals AGE",
                            span,
                            0.85,
                            gettext(N_("the age groups cover {low} to {high} years only"), low=lo, high=hi),
                            key="totals",
                        )
            if codes is not None and total in codes.codes:
                out[dim] = total
        return out

    def attributes(self, unit: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        unit_attr = self.contract.attribute("UNIT_MEASURE")
        if unit_attr is not None:
            out["UNIT_MEASURE"] = {"value": unit}
            self.guess(
                "UNIT_MEASURE",
                unit,
                0.85,
                gettext(N_("from the kind of value")),
                key="attributes.UNIT_MEASURE",
            )
        if self.contract.attribute("UNIT_MULT") is not None:
            out["UNIT_MULT"] = {"value": "0"}
        return out


def _schema_roles(descriptor: dict[str, Any], dimensions: dict[str, Any]) -> None:
    """The schema's fields say the roles the draft chose, not only what their names suggest: a
    column read for a dimension is its ``disaggregation`` (REF_AREA's the ``area``), and no other
    column claims that dimension (the metadata's population groups are checked against them)."""
    chosen = {
        spec["column"]: d for d, spec in dimensions.items() if isinstance(spec, dict) and "column" in spec
    }
    for f in descriptor.get("fields", []):
        name = f.get("name")
        if name in chosen:
            dim = chosen[name]
            if dim == "REF_AREA":
                f["role"] = "area"
                f.pop("dimension", None)
            elif f.get("role") not in ("disability_status",) or f.get("dimension") != dim:
                f["role"], f["dimension"] = "disaggregation", dim
        elif f.get("dimension") in dimensions and f.get("role") in ("disaggregation", "disability_status"):
            f["role"] = "other"
            f.pop("dimension", None)


def _period_shape(value: str) -> str:
    """The format of one period (``2024``, ``2024-03``, ``2024-Q1``, ``2024-03-31``)."""
    if "Q" in value.upper():
        return "quarter"
    return {0: "year", 1: "month"}.get(value.count("-"), "date")


def _read_columns(m: dict[str, Any]) -> set[str]:
    """The source columns a drafted mapping reads: its dimensions', time's, the measure's, the
    derivations' and the attributes'."""
    read = {spec["column"] for spec in m["dimensions"].values() if "column" in spec}
    read |= {str(m["time"]["column"])} if "column" in m["time"] else set()
    value = m["value"]
    read |= {str(value[k]) for k in ("column", "numerator", "denominator") if value.get(k)}
    read |= {str(k) for k in (value.get("where") or {})} | {str(k) for k in (value.get("of") or {})}
    for spec in (m.get("derive") or {}).values():
        read |= {str(c) for c in spec.get("washington_group", {}).get("columns", {}).values()}
    read |= {str(spec["column"]) for spec in m["attributes"].values() if "column" in spec}
    return read


def _concept(dim: str) -> str:
    """A dimension's name for a review: its common names."""
    return ", ".join(_ALIASES.get(dim, [dim.replace("_", " ").casefold()])[:3])


def _sample(c: _Column) -> str:
    """A column as a review shows it: its first values."""
    shown = ", ".join(_one_line(v)[:20] for v in c.values[:4])
    return f"{shown}, ..." if len(c.values) > 4 else shown


def _column(name: str) -> str:
    """A guess's choice of a column, in the drafting language."""
    return gettext(N_("column {name}"), name=name)


def _every_value(column: str, fmt: str) -> str:
    """Why a column is the time: every value has one shape."""
    return gettext(N_("every value of '{column}' is a {format}"), column=column, format=_time_word(fmt))


def _names(text: str, code: str, name: str) -> str:
    """Why a fixed code: a text (a column's name or label, the file's name) names it."""
    return gettext(N_("'{text}' names {code} '{name}'"), text=text, code=code, name=name)


def _one_line(text: str) -> str:
    """Text for a YAML comment or a terminal line: line breaks and other control characters
    (a label may hold them) become spaces, so a comment cannot end early and inject YAML."""
    return "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text)


def _short_names(name: str) -> list[str]:
    """A country's name and what it is called for short: "United Republic of Tanzania" ->
    "tanzania", "Korea, Republic of" -> "korea"."""
    out = [name] if len(name) >= 4 else []
    if " of " in name and re.search(r"\b(republic|state|states|kingdom)\b", name):
        out.append(name.rsplit(" of ", 1)[-1])
    if "," in name:
        out.append(name.split(",")[0])
    return [n.strip() for n in out if len(n.strip()) >= 4]


def _name_words(a: str, b: str, **_: Any) -> float:
    return 0.6 * fuzz.token_set_ratio(a, b) + 0.4 * fuzz.token_sort_ratio(a, b)


def _dataset_name(path: Path) -> str:
    stem = path.stem if path.stem not in ("data", "export") else path.parent.name
    return re.sub(r"[^a-z0-9]+", "-", stem.casefold()).strip("-") or "dataset"


# -- writing -------------------------------------------------------------------------------------


def _q(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _render(d: Draft) -> str:
    m, c = d.mapping, d.comments
    lines = [f"# {h}" for h in d.header]
    lines += [f"profile: {m['profile']}", f"dataset: {_q(m['dataset'])}", f"version: {m['version']}"]
    lines.append(_block("schema", m["schema"]))
    lines += [f"dataflow: {_q(m['dataflow'])}", "dimensions:"]
    lines += _render_dimensions(m["dimensions"], c)
    _render_rest(m, c, lines)
    return "\n".join(lines) + "\n"


def _render_dimensions(dimensions: dict[str, Any], c: dict[str, str]) -> list[str]:
    lines = []
    for dim, spec in dimensions.items():
        if f"dimensions.{dim}" in c:
            lines.append(f"  # {c[f'dimensions.{dim}']}")
        if "value" in spec:
            lines.append(f"  {dim}: {{value: {_q(spec['value'])}}}")
            continue
        lines += [f"  {dim}:", f"    column: {_q(spec['column'])}", "    map:"]
        if f"unmapped.{dim}" in c:
            lines.append(f"      # {c[f'unmapped.{dim}'].strip()}")
        for code, labels in spec["map"].items():
            why = [c[k] for k in c if k.startswith(f"map.{dim}.{code}.")]
            note = f"  # {' | '.join(why)}" if why else ""
            lines.append(f"      {_q(code)}: {_q(labels)}{note}")
    return lines


def _render_rest(m: dict[str, Any], c: dict[str, str], lines: list[str]) -> None:
    if "time" in c:
        lines.append(f"# {c['time']}")
    lines.append("time: " + _flow(m["time"]))
    if "derive" in m:
        lines.append(f"# {c.get('derive', '')}")
        lines.append(_block("derive", m["derive"]))
    if "aggregate" in m:
        lines.append("aggregate: {}")
        if "totals" in c:
            lines.append(f"# {c['totals']}")
        lines.append("totals: " + _flow(m["totals"]))
    if "value" in c:
        lines.append(f"# {c['value']}")
    lines.append("value: " + _flow(m["value"]))
    lines.append("attributes:")
    for attr, spec in m["attributes"].items():
        if f"attributes.{attr}" in c:
            lines.append(f"  # {c[f'attributes.{attr}']}")
        lines.append(f"  {attr}: {_flow(spec)}")


def _block(key: str, obj: Any) -> str:
    return yaml.safe_dump({key: obj}, sort_keys=False, allow_unicode=True, width=100).rstrip()


def _flow(obj: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_q(v)}" for k, v in obj.items()) + "}"
