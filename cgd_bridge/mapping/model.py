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

Labels match case- and white-space-insensitively; one code may have many labels (local
languages too). Dimensions of the dataflow that the mapping does not name are ``_T``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROFILE = "cgd-mapping/1.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
            return {
                str(k): ([str(x) for x in lab] if isinstance(lab, list) else [str(lab)])
                for k, lab in v.items()
            }
        return v

    @field_validator("value", mode="before")
    @classmethod
    def _value_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @model_validator(mode="after")
    def _one_source(self) -> ComponentMap:
        if (self.value is None) == (self.column is None):
            raise ValueError("give either 'value' (a fixed code) or 'column' (with a 'map')")
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


class ValueMap(_Strict):
    """OBS_VALUE: a column as is, or derived from counts.

    Attributes:
        kind: ``column`` (the value as given), ``count`` (the numerator column),
            ``proportion`` (numerator / denominator x scale).
        column: for ``column``, the value column.
        numerator: for ``count``/``proportion``, e.g. ``satisfied``.
        denominator: for ``proportion``, e.g. ``respondents``.
        scale: 100 for a percentage (UNIT_MEASURE PT).
        decimals: rounding of derived values.
    """

    kind: Literal["column", "count", "proportion"] = "column"
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 100.0
    decimals: int = Field(default=2, ge=0, le=10)

    @model_validator(mode="after")
    def _complete(self) -> ValueMap:
        if self.kind == "column" and not self.column:
            raise ValueError("kind 'column' needs 'column'")
        if self.kind in ("count", "proportion") and not self.numerator:
            raise ValueError(f"kind '{self.kind}' needs 'numerator'")
        if self.kind == "proportion" and not self.denominator:
            raise ValueError("kind 'proportion' needs 'denominator'")
        return self


class DropRule(_Strict):
    """Rows to leave out, always with a reason (nothing is dropped silently)."""

    column: str
    values: list[str]
    reason: str

    @field_validator("values", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return [str(x) for x in v] if isinstance(v, list) else [str(v)]


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

    def columns_used(self) -> set[str]:
        """Every source column the mapping reads."""
        cols = {c.column for c in [*self.dimensions.values(), *self.attributes.values()] if c.column}
        if self.time and self.time.column:
            cols.add(self.time.column)
        if self.value:
            cols |= {c for c in (self.value.column, self.value.numerator, self.value.denominator) if c}
        cols |= {d.column for d in self.drop}
        return cols


def normalise_label(label: str) -> str:
    """Case- and white-space-insensitive form of a label.

    ``' With  Disability '`` becomes ``'with disability'``.
    """
    return " ".join(str(label).split()).casefold()
