"""The Table Schema a dataset is checked against: declared, built from an XLSForm, or inferred.

:func:`schema_for` is the one call of the pipeline: the schema of an opened table, and the
column each of its fields reads.

The descriptor is a Frictionless Table Schema (``fields``, ``primaryKey``, ``missingValues``;
field ``type``, ``format``, ``constraints``), checked with frictionless itself. cgd-bridge adds
a few field properties that tell the checks what a column *means* (documented in
docs/mapping.md):

``role``
    ``area``, ``period``, ``disaggregation``, ``count``, ``denominator``, ``value``,
    ``rating``, ``wg`` (a Washington Group question), ``disability_status``, ``identifier``,
    ``other``.
``dimension``
    for disaggregations, the SDMX dimension it feeds, e.g. ``SEX``, ``AGE``,
    ``DISABILITY_STATUS``.
``totalValues``
    the labels that mean "all" in a disaggregation (default ``Total``, ``All``, ``_T`` …).
``denominator``
    for a ``count``, the column holding its denominator (e.g. ``respondents``); for a ``value``,
    the column it is a percentage of (the disclosure rules read its numerator from both).
``wgDomain``
    for ``wg`` columns: ``seeing``, ``hearing``, ``walking``, ``remembering``, ``selfcare``,
    ``communicating``.
``disabilityValues``
    for ``disability_status``: ``{with: [...], without: [...]}`` labels.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_
from cgd_bridge.ingest.kobo import field_descriptor

if TYPE_CHECKING:
    from cgd_bridge.ingest.table import SourceColumn, SourceTable

TYPES = {
    "string", "integer", "number", "boolean", "date", "datetime", "time", "year", "yearmonth",
    "any", "geopoint", "duration", "object", "array", "geojson",
}  # fmt: skip
ROLES = {
    "area", "period", "disaggregation", "count", "denominator", "value", "rating", "wg",
    "disability_status", "identifier", "other",
}  # fmt: skip
WG_DOMAINS = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
DEFAULT_TOTALS = ("_T", "Total", "All", "Both", "Both sexes", "All ages", "Overall")

_NAME_ROLES: list[tuple[str, str, str | None]] = [
    # (regex on the normalised column name, role, dimension)
    (r"^(ref_?area|area|county|district|province|region|state|municipality|ward|sub_?county"
     r"|admin[0-9]|location|village|commune|geo(graphy)?|country)$", "area", None),
    (r"^(year|period|time_?period|ref_?period|survey_?year|date|month|quarter)$", "period", None),
    (r"^(sex|gender)$", "disaggregation", "SEX"),
    (r"^(age|age_?group|age_?band|age_?class|age_?cat(egory)?)$", "disaggregation", "AGE"),
    (r"^(disability|disability_?status|pwd_?status|has_?disability)$", "disaggregation",
     "DISABILITY_STATUS"),
    (r"^(urban|urbani[sz]ation|urban_?rural|residence|location_?type)$", "disaggregation",
     "URBANISATION"),
    (r"^(quintile|wealth_?quintile|income_?quintile)$", "disaggregation", "INCOME_WEALTH_QUANTILE"),
    (r"^(education|education_?level|edu)$", "disaggregation", "EDUCATION_LEV"),
    (r"^(ethnicity|ethnic_?group|minority|caste|religion|indigenous)$", "disaggregation",
     "CUST_BREAKDOWN"),
    (r"^(respondents|n|n_?respondents|sample|sample_?size|denominator|total_?respondents"
     r"|participants|population|base)$", "denominator", None),
    (r"^(count|number|n_?yes|yes|satisfied|numerator|cases)$", "count", None),
    (r"^(value|obs_?value|percent(age)?|proportion|rate|share)$", "value", None),
    (r"^(rating|score|median_?rating|mean_?rating)$", "rating", None),
]  # fmt: skip
_WG_NAMES = {
    "seeing": r"(see|seeing|vision|sight)",
    "hearing": r"(hear|hearing)",
    "walking": r"(walk|walking|mobility|climb(ing)?)",
    "remembering": r"(remember(ing)?|cognition|concentrat(e|ing|ion)|memory)",
    "selfcare": r"(self_?care|selfcare|washing|dressing|care)",
    "communicating": r"(communicat(e|ing|ion)|communication)",
}


def normalise_name(name: str) -> str:
    """Case-folded, with runs of anything but letters, marks and digits as one underscore.

    Any script keeps its letters: ``Age group`` -> ``age_group``, ``उत्तरदाताको नाम`` ->
    ``उत्तरदाताको_नाम``, ``Số điện thoại`` -> ``số_điện_thoại`` (NFKC, so a letter typed with a
    combining accent is the same as the precomposed one). Combining marks count as letters: the
    vowel signs and virama of Devanagari and Bengali are part of their words.
    """
    text = unicodedata.normalize("NFKC", name.strip()).casefold()
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else "_" for c in text)
    return re.sub(r"_+", "_", kept).strip("_")


@dataclass
class SchemaField:
    """One Table Schema field, with the cgd-bridge properties.

    Attributes:
        name: the column name, e.g. ``respondents``.
        type: Table Schema type, e.g. ``integer``.
        constraints: Table Schema constraints, e.g. ``{"minimum": 0}``.
        role: what the column means, e.g. ``denominator``; see the module doc.
    """

    name: str
    type: str = "string"
    format: str = "default"
    constraints: dict[str, Any] = field(default_factory=dict)
    role: str = "other"
    dimension: str | None = None
    total_values: tuple[str, ...] = DEFAULT_TOTALS
    denominator: str | None = None
    wg_domain: str | None = None
    disability_values: dict[str, list[str]] = field(default_factory=dict)
    multiple: bool = False
    choices: list[str] = field(default_factory=list)
    title: str | None = None
    label_map: dict[str, str] = field(default_factory=dict, repr=False)  # label -> choice name (XLSForm)
    true_values: tuple[str, ...] = ("true", "True", "TRUE", "1", "yes", "Yes")
    false_values: tuple[str, ...] = ("false", "False", "FALSE", "0", "no", "No")

    @property
    def required(self) -> bool:
        """Whether the Table Schema says every row needs a value."""
        return bool(self.constraints.get("required"))

    def to_descriptor(self) -> dict[str, Any]:
        """The field as a Table Schema descriptor (with cgd-bridge properties)."""
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.format != "default":
            d["format"] = self.format
        if self.title:
            d["title"] = self.title
        if self.constraints:
            d["constraints"] = self.constraints
        if self.role != "other":
            d["role"] = self.role
        if self.dimension:
            d["dimension"] = self.dimension
        if self.role == "disaggregation" and self.total_values != DEFAULT_TOTALS:
            d["totalValues"] = list(self.total_values)
        if self.denominator:
            d["denominator"] = self.denominator
        if self.wg_domain:
            d["wgDomain"] = self.wg_domain
        if self.disability_values:
            d["disabilityValues"] = self.disability_values
        if self.multiple:
            d["multiple"] = True
        if self.choices:
            d["choices"] = self.choices
        return d


@dataclass
class TableSchema:
    """A Table Schema and where it came from (``mapping``, ``form`` or ``inferred``)."""

    fields: list[SchemaField]
    primary_key: list[str] = field(default_factory=list)
    missing_values: tuple[str, ...] = ("",)
    data_kind: str = "aggregate"  # "aggregate" (one row per cell) | "microdata" (one row per respondent)
    source: str = "inferred"
    file: str | None = None
    total_tolerance: float = 0.0  # relative: parts may differ from their total by this share

    def field(self, name: str) -> SchemaField | None:
        """The field called ``name``, if any."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def by_role(self, *roles: str) -> list[SchemaField]:
        """Fields with one of ``roles``, in schema order."""
        return [f for f in self.fields if f.role in roles]

    def to_descriptor(self) -> dict[str, Any]:
        """The schema as a Table Schema descriptor."""
        d: dict[str, Any] = {"fields": [f.to_descriptor() for f in self.fields]}
        if self.primary_key:
            d["primaryKey"] = self.primary_key
        if self.missing_values != ("",):
            d["missingValues"] = list(self.missing_values)
        d["dataKind"] = self.data_kind
        if self.total_tolerance:
            d["totalTolerance"] = self.total_tolerance
        return d


def schema_from_descriptor(descriptor: dict[str, Any], *, file: str | None, source: str) -> TableSchema:
    """Build a :class:`TableSchema` from a descriptor, refusing broken ones with a clear message.

    The Table Schema part is judged by frictionless itself (``Schema.validate_descriptor``);
    its verdict that a descriptor is valid is remembered (:mod:`cgd_bridge.verdicts`) for that
    exact descriptor and that installed frictionless, so the next validate of the same mapping
    does not import frictionless (0.2-0.3 s of start-up). An invalid one is judged every time.
    """
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("fields"), list):
        raise MappingError(
            N_("the Table Schema has no 'fields' list"),
            fix=N_("Under 'schema:', list the columns as 'fields:' with a 'name' and 'type' each."),
            file=file,
        )
    plain = {k: v for k, v in descriptor.items() if k not in ("dataKind", "totalTolerance")}
    _check_table_schema(plain, file)
    fields = [_field_from_descriptor(fd, file) for fd in descriptor["fields"]]
    names = [f.name for f in fields]
    pk = descriptor.get("primaryKey") or []
    pk = [pk] if isinstance(pk, str) else list(pk)
    for name in pk:
        if name not in names:
            raise MappingError(
                N_("the primary key names the column '{name}', which is not a field"),
                fix=N_("Use field names from: {names}."),
                file=file,
                params={"name": name, "names": ", ".join(names)},
            )
    kind = descriptor.get("dataKind") or (
        "aggregate" if any(f.role in ("count", "denominator", "value") for f in fields) else "microdata"
    )
    if kind not in ("aggregate", "microdata"):
        raise MappingError(
            N_("dataKind '{kind}' is not known"),
            fix=N_("Use 'aggregate' or 'microdata'."),
            file=file,
            params={"kind": kind},
        )
    return TableSchema(
        fields=fields,
        primary_key=pk,
        missing_values=tuple(descriptor.get("missingValues", [""])),
        data_kind=kind,
        source=source,
        file=file,
        total_tolerance=float(descriptor.get("totalTolerance", 0.0)),
    )


def _check_table_schema(plain: dict[str, Any], file: str | None) -> None:
    """Refuse a descriptor frictionless finds invalid (a remembered valid verdict stands)."""
    from cgd_bridge import verdicts

    key = verdicts.key_of("frictionless-table-schema", plain, verdicts.package_fingerprint("frictionless"))
    if key is not None and verdicts.remembered(key):
        return
    from frictionless import Schema  # heavy import: only for a descriptor not judged before

    report = Schema.validate_descriptor(plain)
    if not report.valid:
        first = report.errors[0]
        raise MappingError(
            N_("the Table Schema is not valid: {reason}"),
            fix=N_(
                "Correct the schema: each field needs a 'name' and a Table Schema 'type' (one of {types})."
            ),
            file=file,
            params={
                "reason": first.note or first.message,
                "types": ", ".join(sorted(TYPES - {"geojson", "object", "array"})),
            },
        )
    if key is not None:
        verdicts.remember(key)


def _field_from_descriptor(fd: dict[str, Any], file: str | None) -> SchemaField:
    role = fd.get("role", "other")
    if role not in ROLES:
        raise MappingError(
            N_("field '{name}' has the role '{role}', which is not known"),
            fix=N_("Use one of: {allowed}."),
            file=file,
            params={"name": fd.get("name"), "role": role, "allowed": ", ".join(sorted(ROLES))},
        )
    wg = fd.get("wgDomain")
    if wg is not None and wg not in WG_DOMAINS:
        raise MappingError(
            N_("field '{name}' has wgDomain '{domain}', which is not a Washington Group domain"),
            fix=N_("Use one of: {allowed}."),
            file=file,
            params={"name": fd.get("name"), "domain": wg, "allowed": ", ".join(WG_DOMAINS)},
        )
    totals = fd.get("totalValues")
    return SchemaField(
        name=str(fd["name"]),
        type=fd.get("type", "string"),
        format=fd.get("format", "default"),
        constraints=dict(fd.get("constraints") or {}),
        role=role,
        dimension=fd.get("dimension"),
        total_values=tuple(str(t) for t in totals) if totals is not None else DEFAULT_TOTALS,
        denominator=fd.get("denominator"),
        wg_domain=wg,
        disability_values={k: [str(x) for x in v] for k, v in (fd.get("disabilityValues") or {}).items()},
        multiple=bool(fd.get("multiple", False)),
        choices=[str(c) for c in fd.get("choices", [])],
        title=fd.get("title"),
        true_values=tuple(fd.get("trueValues", SchemaField.true_values)),
        false_values=tuple(fd.get("falseValues", SchemaField.false_values)),
    )


# -- inference ---------------------------------------------------------------------------------

_INT = r"^[+-]?[0-9]{1,18}$"
_NUM = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_YEAR = r"^(19|20)[0-9]{2}$"


def infer_type(values: pa.Array, name: str, *, share: float = 0.75) -> str:
    """The Table Schema type most of the sample's non-empty values satisfy.

    A type is chosen when at least three quarters of the values (and at least two) match it,
    so that a few typos in a number column are reported as type errors instead of turning the
    whole column into text.
    """
    present = pc.drop_null(values)
    n = len(present)
    if n == 0:
        return "string"
    norm = normalise_name(name)
    for typ, pattern in (("integer", _INT), ("number", _NUM), ("date", _DATE)):
        hits = int(pc.sum(pc.cast(pc.match_substring_regex(present, pattern), pa.int64())).as_py() or 0)
        if hits == n or (hits >= 2 and hits >= share * n):
            if typ == "integer" and norm in ("year", "survey_year", "period", "time_period"):
                return "year"
            return typ
    return "string"


def infer_role(name: str) -> tuple[str, str | None, str | None]:
    """Guess ``(role, dimension, wg_domain)`` from a column name."""
    norm = normalise_name(name)
    for pattern, role, dimension in _NAME_ROLES:
        if re.match(pattern, norm):
            return role, dimension, None
    stripped = re.sub(r"^(wg_?ss|wg|wgss|difficulty|diff)_", "", norm)
    if stripped != norm or norm.startswith("wg"):
        for domain, pattern in _WG_NAMES.items():
            if re.search(pattern, stripped):
                return "wg", None, domain
    return "other", None, None


def infer_schema(names: Sequence[str], sample: pa.RecordBatch | None, keys: Sequence[str]) -> TableSchema:
    """Infer types (from a sample batch) and roles (from names) for a table with no schema."""
    fields = []
    for name, key in zip(names, keys, strict=True):
        typ = "string"
        role, dimension, wg = infer_role(name)
        if sample is not None and key in sample.schema.names:
            # a column named like a count is numeric if at least half its values are numbers
            share = 0.5 if role in ("count", "denominator", "value") else 0.75
            typ = infer_type(sample.column(key), name, share=share)
        if role in ("count", "denominator") and typ not in ("integer", "number"):
            role = "other"
        if role == "value" and typ not in ("integer", "number"):
            role = "other"
        if role == "period" and typ not in ("year", "date", "string", "integer"):
            role = "other"
        if role == "disaggregation" and typ in ("integer", "number"):
            role, dimension = "other", None  # a measured number (single-year age), not categories
        fields.append(SchemaField(name=name, type=typ, role=role, dimension=dimension, wg_domain=wg))
    counts = [f for f in fields if f.role == "count"]
    dens = [f for f in fields if f.role == "denominator"]
    if len(dens) == 1:
        for f in counts:
            f.denominator = dens[0].name
    for f in fields:
        if f.role in ("count", "denominator"):
            f.constraints.setdefault("minimum", 0)
    kind = "aggregate" if counts or dens or any(f.role == "value" for f in fields) else "microdata"
    return TableSchema(fields=fields, data_kind=kind, source="inferred")


# -- a table's schema --------------------------------------------------------------------------

SAMPLE_ROWS = 50_000  # rows of the first batch that types are inferred from


def schema_for(
    table: SourceTable, declared: TableSchema | None = None, *, batch_rows: int = SAMPLE_ROWS
) -> tuple[TableSchema, dict[str, SourceColumn]]:
    """The schema a table is checked against, and the column bound to each of its fields.

    The schema is ``declared`` (a mapping's), else built from the table's XLSForm (questions
    the form lacks are inferred), else inferred from the first rows (at most ``batch_rows``,
    and at most 50,000). Fields are bound to columns by resolved name, by header, then ignoring
    case; select_one fields get their XLSForm label -> name map (exports may carry labels).
    """
    schema = declared if declared is not None else _built(table, min(batch_rows, SAMPLE_ROWS))
    bound = _bind(schema, table)
    _attach_labels(schema, table)
    return schema, bound


def _built(table: SourceTable, sample_rows: int) -> TableSchema:
    """The schema from the table's XLSForm, or inferred from its first batch."""
    sample = next(iter(table.batches(sample_rows)), None)
    data_cols = [c for c in table.columns if c.kind in ("data", "gps") and c.header]
    if table.form is None:
        return infer_schema([c.name for c in data_cols], sample, [c.key for c in data_cols])
    fields: list[SchemaField | dict[str, Any]] = []
    for col in data_cols:
        q = table.form.questions.get(col.question or "")
        if q is None:
            fields.append(infer_schema([col.name], sample, [col.key]).fields[0])
            continue
        desc = field_descriptor(q, table.form)
        desc["name"] = col.name
        role, dimension, wg = infer_role(col.name)
        if role == "disaggregation" and q.base_type != "select_one":
            # the form declares its breakdowns as select_one questions; an integer question
            # named like one (age in completed years) would split every cell into each value
            role, dimension = "other", None
        if role != "other":
            desc["role"] = role
            if dimension:
                desc["dimension"] = dimension
            if wg:
                desc["wgDomain"] = wg
        fields.append(desc)
    descriptor = {
        "fields": [f.to_descriptor() if isinstance(f, SchemaField) else f for f in fields],
        "dataKind": "microdata",
    }
    return schema_from_descriptor(descriptor, file=table.form.file, source="form")


def _bind(schema: TableSchema, table: SourceTable) -> dict[str, SourceColumn]:
    """Match each schema field to a column: by resolved name, by header, then ignoring case."""
    bound: dict[str, SourceColumn] = {}
    used: set[int] = set()
    usable = [c for c in table.columns if c.header and c.kind != "meta"]
    for f in schema.fields:
        col = next((c for c in usable if c.name == f.name and c.index not in used), None)
        col = col or next((c for c in usable if c.header == f.name and c.index not in used), None)
        col = col or next(
            (c for c in usable if c.name.casefold() == f.name.casefold() and c.index not in used), None
        )
        if col is None and f.name.startswith("_"):
            col = next((c for c in table.columns if c.header == f.name and c.index not in used), None)
        if col is not None:
            bound[f.name] = col
            used.add(col.index)
    return bound


def _attach_labels(schema: TableSchema, table: SourceTable) -> None:
    """Give select_one fields their XLSForm label -> name map (labels in exports become names)."""
    form = table.form
    if form is None:
        return
    for f in schema.fields:
        q = form.questions.get(f.name)
        if q is not None and q.base_type == "select_one":
            f.label_map = form.label_to_name(q)
