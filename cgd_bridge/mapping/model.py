"""The ``cgd-mapping/1.0`` mapping file as pydantic models.

A mapping turns a CSO table into SDMX observations of one dataflow::

    profile: cgd-mapping/1.0
    dataset: kenya-health-scorecard
    version: 1.0.0
    dataflow: IAEG-SDGs:DF_SDG_GLH
    schema: {...}                      # the Table Schema validation uses (see ingest/schema.py)
    dimensions:
      FREQ: {value: A}                 # a fixed code
      SEX:                             # a code per label of a column
        column: sex
        map: {F: [Female, Women, Mwanamke], M: [Male], _T: [Total]}
    time: {column: year, format: year}
    value: {kind: proportion, numerator: satisfied, denominator: respondents, scale: 100}
    attributes:
      UNIT_MEASURE: {value: PT}
    drop:
      - {column: county, values: [Unknown], reason: "county not recorded"}
      - {when_empty: sex, reason: "sex not recorded"}

A ``derive`` section computes columns from others before mapping, such as the disability
status from the six Washington Group answers (:mod:`cgd_bridge.mapping.washington`)::

    derive:
      disability: {washington_group: {columns: {seeing: wg_seeing, ...}, cutoff: disability3}}

Labels match case- and white-space-insensitively; one code may have many labels (local
languages too). Every dimension of the target DSD must be named (a dimension the data is not
broken down by gets its total code, e.g. ``URBANISATION: {value: _T}``); one left out is an
error at validation (``dimension-not-mapped``).

Microdata (one row per respondent) is aggregated into cells with an ``aggregate`` section,
and ``totals`` adds the ``_T`` observations::

    aggregate: {weight: survey_weight}           # or "aggregate: {}" for an unweighted survey
    totals: [SEX, AGE, DISABILITY_STATUS]        # or {AGE: Y15T29, SEX: _T}
    value:
      kind: proportion                           # count | proportion | median | mean
      where: {satisfied_health: ['yes']}         # the respondents the figure counts ...
      of: {services_used: {contains: health}}    # ... among these (the denominator)
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROFILE = "cgd-mapping/1.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_labels(v: Any) -> list[str]:
    """YAML values as labels; an unquoted yes/no (a YAML boolean) matches yes/true or no/false."""
    items = v if isinstance(v, list) else [v]
    out: list[str] = []
    for x in items:
        if isinstance(x, bool):
            out += ["yes", "true"] if x else ["no", "false"]
        else:
            out.append(str(x))
    return out


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_FORMULA_FIX = (
    "a spreadsheet opening the SDMX-CSV would run it as a formula; write the text without the "
    "leading character (SDMX-CSV values are data and are written as they are)"
)


def formula_like(text: str) -> bool:
    """True for text a spreadsheet runs as a formula: starting with ``=``, ``@``, a tab or a
    carriage return, or ``+``/``-`` followed by anything but a plain number (``-1`` is data).

    >>> [formula_like(t) for t in ("=1+1", "-1", "-2+3+cmd", "Kisumu", "+")]
    [True, False, True, False, False]
    """
    if not text:
        return False
    if text[0] in "=@\t\r":
        return True
    return text[0] in "+-" and len(text) > 1 and not _NUMBER.fullmatch(text)


class ComponentMap(_Strict):
    """How one dimension or attribute gets its code: a fixed value, or a column with a value map.

    Attributes:
        value: a fixed code for every observation, e.g. ``A``.
        column: the source column, e.g. ``sex``.
        map: code -> labels, e.g. ``{"F": ["Female", "Women"], "_T": ["Total"]}``; a plain
            string label is accepted for a single label.
        passthrough: use the column's value as the code when it is not in ``map`` (for columns
            that already hold codes).
    """

    value: str | None = None
    column: str | None = None
    map: dict[str, list[str]] = Field(default_factory=dict)
    passthrough: bool = False

    @field_validator("map", mode="before")
    @classmethod
    def _labels_as_lists(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): _as_labels(lab) for k, lab in v.items()}
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_source(self) -> ComponentMap:
        if (self.value is None) == (self.column is None):
            raise ValueError("give either 'value' (a fixed code) or 'column' (with a 'map')")
        for text in [self.value or "", *self.map]:
            if formula_like(text):
                raise ValueError(f"the value {text[:60]!r} starts like a formula: {_FORMULA_FIX}")
        return self

    def labels(self) -> dict[str, str]:
        """Normalised label -> code (the code itself counts as a label)."""
        out: dict[str, str] = {}
        for code, labels in self.map.items():
            out.setdefault(normalise_label(code), code)
            for label in labels:
                out[normalise_label(label)] = code
        return out


class TimeMap(_Strict):
    """TIME_PERIOD from a column (``year``: 2024; ``date``: 2024-03-31; ``month``: 2024-03) or fixed."""

    column: str | None = None
    value: str | None = None
    format: Literal["year", "date", "month", "quarter", "period"] = "year"

    @model_validator(mode="after")
    def _one_source(self) -> TimeMap:
        if (self.value is None) == (self.column is None):
            raise ValueError("give either 'value' or 'column' for time")
        return self


class Condition(_Strict):
    """A test on one column of microdata, true or false for each respondent.

    Written under ``where`` or ``of`` as ``column: condition``. A list is short for ``in``::

        satisfied_health: ['yes']            # the answer is one of these labels
        services_used: {contains: health}    # a select_multiple answer includes this choice
        rating: {min: 4}                     # a number at or above 4 (max: at or below)
        satisfied_health: {answered: true}   # any non-empty answer

    Attributes:
        in_: labels (case- and space-insensitive), e.g. ``["yes"]`` (YAML key ``in``).
        not_in: labels the answer must not be; an empty answer is not counted either.
        contains: choices of which a space-separated select_multiple answer has at least one.
        minimum: the smallest number accepted, e.g. ``4`` for "rating 4 or 5" (YAML ``min``
            or ``minimum``).
        maximum: the largest number accepted (YAML ``max`` or ``maximum``).
        answered: ``true``: the answer is not empty; ``false``: it is empty.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    contains: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    answered: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return {"in": _as_labels(v)}
        names = {"min": "minimum", "max": "maximum"}
        return {
            names.get(k, k): (_as_labels(x) if k in ("in", "not_in", "contains") else x) for k, x in v.items()
        }

    @model_validator(mode="after")
    def _something(self) -> Condition:
        given = [self.in_, self.not_in, self.contains, self.minimum, self.maximum, self.answered]
        if all(x is None for x in given):
            raise ValueError(
                "a condition needs a list of labels, or in, not_in, contains, min, max or answered"
            )
        return self


class Aggregate(_Strict):
    """The data is microdata (one row per respondent), aggregated into one observation per cell.

    Rows are grouped by the codes of the mapped dimensions and TIME_PERIOD; every observation
    keeps the unweighted number of respondents it rests on (``OBS_COUNT``) and its source rows.

    Attributes:
        weight: a survey weight column; counts, proportions, means and medians are weighted,
            the unweighted base is kept. Rows without a positive weight are left out, counted.
        count_attribute: an attribute of the target DSD to write ``OBS_COUNT`` into (by
            default it is kept beside the observations, not written to SDMX).
    """

    weight: str | None = None
    count_attribute: str | None = None


class ValueMap(_Strict):
    """OBS_VALUE: a column as is, or derived from counts or from respondents' answers.

    Aggregate data (one row per cell) uses ``column``, ``count`` and ``proportion`` with
    ``numerator``/``denominator`` columns; microdata (with the mapping's ``aggregate`` section)
    uses ``count``, ``proportion``, ``median`` and ``mean`` with ``where``/``of`` conditions.

    Attributes:
        kind: ``column`` (the value as given), ``count`` (the numerator column, or the number
            of respondents meeting ``where``), ``proportion`` (numerator / denominator x scale,
            or respondents meeting ``where`` among those meeting ``of``, x scale), ``median``
            and ``mean`` (of ``column`` among the respondents meeting ``of``).
        column: for ``column``, the value column; for ``median``/``mean``, the rating column.
        numerator: for ``count``/``proportion`` of aggregate data, e.g. ``satisfied``.
        denominator: for ``proportion`` of aggregate data, e.g. ``respondents``.
        where: microdata: the respondents counted, e.g. ``{satisfied_health: ['yes']}``.
        of: microdata: the respondents the figure is about (the denominator), e.g.
            ``{services_used: {contains: health}}``; all respondents when absent.
        scale: 100 for a percentage (UNIT_MEASURE PT).
        decimals: rounding of derived values.
    """

    kind: Literal["column", "count", "proportion", "median", "mean"] = "column"
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    where: dict[str, Condition] = Field(default_factory=dict)
    of: dict[str, Condition] = Field(default_factory=dict)
    scale: float = 100.0
    decimals: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _complete(self) -> ValueMap:
        if self.kind in ("column", "median", "mean") and not self.column:
            raise ValueError(f"kind '{self.kind}' needs 'column'")
        if self.kind == "proportion" and not (self.numerator or self.where):
            raise ValueError(
                "kind 'proportion' needs 'numerator' and 'denominator' (aggregate data) or "
                "'where' (microdata)"
            )
        return self

    @property
    def microdata(self) -> bool:
        """True when the value is computed from respondents' answers (where/of, median, mean)."""
        return bool(self.where or self.of) or self.kind in ("median", "mean")

    def columns(self) -> set[str]:
        """The source columns the value reads."""
        cols = {c for c in (self.column, self.numerator, self.denominator) if c}
        return cols | set(self.where) | set(self.of)


class DropRule(_Strict):
    """Rows to leave out, always with a reason (nothing is dropped silently).

    Either rows whose ``column`` holds one of ``values``, or (``when_empty``) rows whose cell in
    that column is empty or only white space::

        - {column: county, values: [Unknown], reason: "county not recorded"}
        - {when_empty: sex, reason: "sex not recorded"}

    Attributes:
        column: the column tested (for ``when_empty`` rules, the same column).
        values: labels (case- and space-insensitive) whose rows are left out.
        when_empty: a column whose empty cells mean the row is left out.
        reason: why, in the coverage report and the structure map's annotations.
    """

    column: str = ""
    values: list[str] = Field(default_factory=list)
    when_empty: str | None = None
    reason: str

    @field_validator("values", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return _as_labels(v)

    @model_validator(mode="after")
    def _one_test(self) -> DropRule:
        if self.when_empty is not None:
            if self.column not in ("", self.when_empty) or self.values:  # "" or itself: a dump read again
                raise ValueError(
                    "a drop rule is either {column: ..., values: [...]} or {when_empty: column}, not both"
                )
            self.column = self.when_empty
        elif not self.column or not self.values:
            raise ValueError(
                "a drop rule needs 'column' and 'values' (the labels to leave out), or 'when_empty: "
                "column' to leave out rows whose cell is empty"
            )
        return self


WG_CUTOFFS = ("disability1", "disability2", "disability3", "disability4")
_WG_DOMAINS = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
_WG_ANSWER_NAMES = ("no_difficulty", "some_difficulty", "a_lot_of_difficulty", "cannot_do_at_all", "missing")


class MissingValue(_Strict):
    """The value given to respondents whose status is unknown, e.g. ``{value: _U}``."""

    value: str


class WashingtonGroup(_Strict):
    """Disability status from the six Washington Group Short Set answers (see ``washington``).

    Attributes:
        columns: the column of each WG-SS domain: ``seeing``, ``hearing``, ``walking``,
            ``remembering``, ``selfcare``, ``communicating`` (all six).
        cutoff: the WG identifier: ``disability3`` (the default and the WG's recommendation:
            any domain "a lot of difficulty" or "cannot do at all"), ``disability1`` (any domain
            "some difficulty" or worse), ``disability2`` (two domains "some difficulty" or
            worse, or one "a lot"/"cannot"), ``disability4`` (any domain "cannot do at all").
        with_: the value for persons with disability (YAML ``with``; default ``PD``).
        without: the value for persons without disability (default ``PWD``).
        missing: respondents whose status is unknown (a question unanswered and no answered
            one meeting the cut-off): ``drop`` (the default; left out with a reason counted in
            the coverage report) or ``{value: ...}`` to keep them under a value of their own.
        reason: the drop reason in the coverage report (a standard one when absent).
        answers: more labels for the answers, by category: ``no_difficulty``,
            ``some_difficulty``, ``a_lot_of_difficulty``, ``cannot_do_at_all``, ``missing``
            (e.g. the form's labels in another language); 1-4, the Kobo choice names and the
            English labels are always understood.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    columns: dict[str, str]
    cutoff: str = "disability3"
    with_: str = Field(default="PD", alias="with")
    without: str = "PWD"
    missing: Literal["drop"] | MissingValue = "drop"
    reason: str | None = None
    answers: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("answers", mode="before")
    @classmethod
    def _labels_as_lists(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): _as_labels(lab) for k, lab in v.items()}
        return v

    @model_validator(mode="after")
    def _complete(self) -> WashingtonGroup:
        if self.cutoff not in WG_CUTOFFS:
            raise ValueError(
                f"cutoff '{self.cutoff}' is not a Washington Group identifier; use {', '.join(WG_CUTOFFS)}"
            )
        absent = [d for d in _WG_DOMAINS if d not in self.columns]
        unknown = [d for d in self.columns if d not in _WG_DOMAINS]
        if absent or unknown:
            raise ValueError(
                "columns: the six Washington Group domains are needed"
                + (f"; missing: {', '.join(absent)}" if absent else "")
                + (f"; not a domain: {', '.join(unknown)}" if unknown else "")
                + f" (the domains are {', '.join(_WG_DOMAINS)})"
            )
        bad = [k for k in self.answers if k not in _WG_ANSWER_NAMES]
        if bad:
            raise ValueError(
                f"answers: '{bad[0]}' is not an answer category; use {', '.join(_WG_ANSWER_NAMES)}"
            )
        return self


class Derivation(_Strict):
    """A column computed from others before mapping (for now: the Washington Group status)."""

    washington_group: WashingtonGroup


class Mapping(BaseModel):
    """A whole ``cgd-mapping/1.0`` file (the ``schema`` section is read by validation)."""

    model_config = ConfigDict(extra="forbid")

    profile: str = PROFILE
    dataset: str | None = None
    version: str = "1.0.0"
    dataflow: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    dimensions: dict[str, ComponentMap] = Field(default_factory=dict)
    time: TimeMap | None = None
    value: ValueMap | None = None
    attributes: dict[str, ComponentMap] = Field(default_factory=dict)
    drop: list[DropRule] = Field(default_factory=list)
    derive: dict[str, Derivation] = Field(default_factory=dict)
    aggregate: Aggregate | None = None
    totals: dict[str, str] = Field(default_factory=dict)

    @field_validator("aggregate", mode="before")
    @classmethod
    def _aggregate_flag(cls, v: Any) -> Any:
        return {} if v is True else v

    @field_validator("totals", mode="before")
    @classmethod
    def _totals_as_codes(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            return {str(d): "_T" for d in v}
        return v

    @model_validator(mode="after")
    def _value_fits_the_data(self) -> Mapping:
        v = self.value
        if self.aggregate is not None:
            if v is not None and v.kind == "column":
                raise ValueError(
                    "value: with 'aggregate' (microdata), kind is count, proportion, median or mean"
                )
            if v is not None and (v.numerator or v.denominator):
                raise ValueError(
                    "value: microdata has no numerator/denominator columns; say which respondents "
                    "to count with 'where' and among whom with 'of'"
                )
            bad = sorted(k for k, c in self.attributes.items() if c.column)
            if bad:
                raise ValueError(
                    f"attributes.{bad[0]}: aggregated observations need fixed attribute values "
                    "('value: ...'), not a column of the respondents' rows"
                )
        elif v is not None:
            if v.microdata:
                raise ValueError(
                    f"value: kind '{v.kind}' with where/of works on microdata; add 'aggregate: {{}}' "
                    "(one row per respondent) to the mapping"
                )
            if v.kind in ("count", "proportion") and not v.numerator:
                raise ValueError(f"value: kind '{v.kind}' needs 'numerator'")
            if v.kind == "proportion" and not v.denominator:
                raise ValueError("value: kind 'proportion' needs 'denominator'")
            if self.totals and v.kind == "column":
                raise ValueError(
                    "totals: totals are computed by adding up counts, so the value must be kind count "
                    "or proportion (with numerator and denominator columns), not 'column'"
                )
        fixed = sorted(
            d for d in self.totals if d not in self.dimensions or self.dimensions[d].column is None
        )
        if fixed:
            raise ValueError(
                f"totals: {fixed[0]} is not a dimension mapped from a column, so there is nothing "
                "to total; list only dimensions that have 'column:'"
            )
        return self

    def columns_used(self) -> set[str]:
        """Every source column the mapping reads (the columns ``derive`` computes are not)."""
        cols = {c.column for c in [*self.dimensions.values(), *self.attributes.values()] if c.column}
        if self.time and self.time.column:
            cols.add(self.time.column)
        if self.value:
            cols |= self.value.columns()
        if self.aggregate and self.aggregate.weight:
            cols.add(self.aggregate.weight)
        cols |= {d.column for d in self.drop}
        for derivation in self.derive.values():
            cols |= set(derivation.washington_group.columns.values())
        return cols - set(self.derive)


def normalise_label(label: str) -> str:
    """Case- and white-space-insensitive form of a label.

    ``' With  Disability '`` becomes ``'with disability'``.
    """
    return " ".join(str(label).split()).casefold()
