"""Conformance of harmonised observations: coverage, duplicate keys, codes and constraints.

:func:`map_and_check` is the pipeline's call: the source table mapped, with these findings.

- every source value got a code (``unmapped-value``, with the rows and suggested codes);
- no two rows give the same series key and period (``duplicate-series-key``);
- every code is in the codelist the target DSD gives its component (``unknown-code``);
- every observation is inside the allowed content constraints of the dataflow
  (``code-not-allowed``);
- the target DSD is the contract (#13): every dimension it has is filled
  (``dimension-not-mapped``, with the fix: a column, a fixed code, or the codelist's own total
  or not-applicable code), every attribute the mapping gives is one it declares
  (``component-not-in-dsd``) and every mandatory attribute is given
  (``attribute-missing``). :func:`contract_problems` checks a conformed table once more before
  anything is written or stored (the pipeline stops with a ``StructureError`` when it fails).

Checks run column-wise: one ``is_in`` per component against the codelist's codes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.errors import StructureError
from cgd_bridge.findings import Finding, Report, Severity, register
from cgd_bridge.i18n import N_, msg, nmsg
from cgd_bridge.mapping.apply import Harmonised, apply_mapping
from cgd_bridge.mapping.model import Mapping
from cgd_bridge.sdmx.contract import Component, Contract, contract_for

if TYPE_CHECKING:
    from cgd_bridge.ingest.table import SourceTable
    from cgd_bridge.structures import Structures

UNMAPPED = register(
    "unmapped-value",
    Severity.ERROR,
    "sdmx",
    "Value with no code",
    """A value in the data has no code in the mapping (e.g. 'Femme' in the sex column when the
    mapping knows only Female and Male). Its rows cannot become SDMX observations until the
    mapping says which code it is.""",
)
DUPLICATE_SERIES = register(
    "duplicate-series-key",
    Severity.ERROR,
    "sdmx",
    "Two rows give the same observation",
    """Several rows map to the same series key and period, so the NSO would receive the same
    observation twice with different values. The mapping must tell them apart (a dimension is
    missing, or two labels were given the same code).""",
)
UNKNOWN_CODE = register(
    "unknown-code",
    Severity.ERROR,
    "sdmx",
    "Code not in the codelist",
    """A code the mapping produces is not in the codelist the target data structure uses for
    that dimension or attribute (e.g. 'FEM' for SEX, whose codelist has F, M and _T).""",
)
NOT_ALLOWED = register(
    "code-not-allowed",
    Severity.ERROR,
    "sdmx",
    "Code not allowed for this series",
    """The code exists, but the dataflow's content constraint does not allow it for the series
    (e.g. a disaggregation the SDG series is not published by).""",
)
UNKNOWN_DATAFLOW = register(
    "unknown-dataflow",
    Severity.ERROR,
    "sdmx",
    "Target dataflow not known",
    """The mapping's dataflow (or a codelist its data structure uses) is not among the shipped
    structures nor the imported ones, so its codes cannot be checked, and nothing is converted or
    stored, even with --force: unchecked codes would break the NSO's load. Import the NSO's
    structures with 'cgd-bridge structures import', or correct 'dataflow' in the mapping.""",
)

FORMULA_VALUE = register(
    "formula-like-value",
    Severity.WARNING,
    "sdmx",
    "Value a spreadsheet would run as a formula",
    """An attribute value taken from the data starts with =, @, a tab or a carriage return, or with
    + or - followed by something other than a number (e.g. '=HYPERLINK(...)'). SDMX-CSV is data,
    so cgd-bridge writes the value as it is; but a reviewer who opens the SDMX-CSV in a
    spreadsheet would run it as a formula. Correct the cell in the source data unless the text is
    really meant.""",
)

DIMENSION_NOT_MAPPED = register(
    "dimension-not-mapped",
    Severity.ERROR,
    "sdmx",
    "Dimension of the data structure not mapped",
    """The target data structure has a dimension the mapping gives no code (neither a column nor a
    fixed value), so every series key would have a gap there and the NSO's system would refuse
    the data. Map a column to it, give it a fixed code, or, when the data is not broken down by
    it, the codelist's total or not-applicable code (e.g. the fixed value `_T` for
    `URBANISATION`, as docs/mapping.md shows).""",
)
NOT_IN_DSD = register(
    "component-not-in-dsd",
    Severity.ERROR,
    "sdmx",
    "Attribute not in the data structure",
    """The mapping gives an attribute the target data structure does not declare (e.g. CONF_STATUS
    for the SDG DSD 1.5, which has none). It would make the SDMX output invalid, so it is never
    written: remove it from the mapping, or target a data structure that declares it.""",
)
ATTRIBUTE_MISSING = register(
    "attribute-missing",
    Severity.ERROR,
    "sdmx",
    "Mandatory attribute not given",
    """The target data structure makes an attribute mandatory (e.g. UNIT_MEASURE) and the mapping
    does not give it, so the SDMX output would be invalid. Add it under 'attributes' in the
    mapping.""",
)
#: Findings that mean the data could not be checked at all: ``--force`` never converts past them.
UNCHECKED = frozenset({UNKNOWN_DATAFLOW})
#: Findings ``--force`` never converts past: unchecked data, and output that would break the DSD.
NEVER_FORCED = UNCHECKED | {DIMENSION_NOT_MAPPED, NOT_IN_DSD, ATTRIBUTE_MISSING}

EXAMPLES = 20


def map_and_check(
    table: SourceTable,
    spec: Mapping,
    report: Report,
    *,
    mapping_file: str,
    structures: Structures | None,
    batch_rows: int,
    provided: Collection[str] = (),
) -> Harmonised | None:
    """Map the table when the mapping has SDMX sections, adding the coverage, key and code findings.

    None when the mapping only describes the data (no ``dimensions``, ``time`` or ``value``), or
    when columns it maps are missing (the table checks reported them as ``missing-column``).
    Codes are checked against ``structures`` (default: the bundled ``codelists/`` only); the
    table is shaped by the target DSD's contract, and what the mapping does not give it is
    reported. ``provided`` are attributes the caller gives every observation after mapping
    (the CGD provenance: OBS_STATUS ...), so they are not reported missing.
    """
    if not spec.dimensions or spec.time is None or spec.value is None:
        return None  # a schema-only mapping: nothing to map yet
    present = {c.name for c in table.columns if c.kind != "meta"}
    absent = spec.columns_used() - present
    declared = {f.get("name") for f in (spec.schema_ or {}).get("fields", []) if isinstance(f, dict)}
    if absent and absent <= declared:
        return None  # the table checks reported these columns as missing-column
    contract = None
    if spec.dataflow:
        report.stats["dataflow"] = spec.dataflow
        if structures is None:
            from cgd_bridge.structures import Structures as _Structures

            structures = _Structures.load(None)
        try:
            contract = contract_for(spec.dataflow, structures)
        except StructureError:
            contract = None  # code_findings reports the unknown dataflow
    h = apply_mapping(table, spec, batch_rows=batch_rows, contract=contract)
    report.extend(coverage_findings(h, spec, file=table.file, mapping_file=mapping_file))
    report.extend(formula_findings(h, file=table.file))
    if contract is not None:
        report.extend(
            contract_findings(h, spec, contract, structures, provided=provided, mapping_file=mapping_file)
        )
    if spec.dataflow:
        report.extend(code_findings(h, spec.dataflow, structures, file=table.file))
    return h


def _finding(
    code: str, problem: str | dict[str, Any], fix: str | dict[str, Any], *, file: str | None, **kw: Any
) -> Finding:
    """A finding whose ``problem`` and ``fix`` are message ids or composed messages
    (:func:`~cgd_bridge.i18n.msg`), translated where the report is shown."""
    from cgd_bridge.findings import CHECKS

    return Finding.of(
        code,
        kw.pop("severity", CHECKS[code].severity),
        problem,
        fix,
        {},
        file=file,
        details={"resolved": True, **kw.pop("details", {})},  # rows are already the file's rows
        **kw,
    )


_FORMULA_START = r"^[=@\t\r]"
_SIGNED_TEXT = r"^[+-]."
_SIGNED_NUMBER = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def formula_values(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """True where a text value is formula-like (as :func:`cgd_bridge.mapping.model.formula_like`)."""
    text = values.cast(pa.string())
    signed = pc.and_(
        pc.match_substring_regex(text, _SIGNED_TEXT),
        pc.invert(pc.match_substring_regex(text, _SIGNED_NUMBER)),
    )
    return arrow.fill_null(pc.or_(pc.match_substring_regex(text, _FORMULA_START), signed), False)


def formula_mask(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray | None:
    """:func:`formula_values` of a column, or None when no value is formula-like.

    The three patterns are tried on the column's distinct values only (an attribute column
    holds few: one text on every row, or a code per breakdown), then the rows holding a
    formula-like value are found by one ``is_in``: about a sixth of the CPU of trying the
    patterns on every row (the Kenya benchmark's three attribute columns at 1M rows); the same
    mask (``tests/unit/mapping/test_conform_fast.py`` compares them).
    """
    text = values.cast(pa.string())
    distinct = pc.unique(text)
    if isinstance(distinct, pa.ChunkedArray):
        distinct = distinct.combine_chunks()
    hits = pc.filter(distinct, formula_values(distinct))
    if len(hits) == 0:
        return None
    return pc.is_in(text, value_set=hits)


def formula_findings(h: Harmonised, *, file: str | None) -> list[Finding]:
    """``formula-like-value``: attribute values from the data that a spreadsheet would run."""
    out: list[Finding] = []
    for name in h.attributes:
        if name not in h.table.column_names or not pa.types.is_string(h.table.schema.field(name).type):
            continue
        column = h.table.column(name)
        mask = formula_mask(column)
        count = 0 if mask is None else pc.sum(mask).as_py() or 0
        if not count:
            continue
        hits = h.table.filter(mask)
        rows = (
            [r for r in hits.column("SOURCE_ROW").to_pylist()[:EXAMPLES] if r is not None]
            if ("SOURCE_ROW" in hits.column_names)
            else []
        )
        value = hits.column(name)[0].as_py()
        out.append(
            _finding(
                FORMULA_VALUE,
                msg(
                    N_("{values} of the attribute {name} start like a spreadsheet formula (e.g. {example})"),
                    values=nmsg("{n} value", "{n} values", count),
                    name=name,
                    example=repr(value[:60]),
                ),
                N_(
                    "Correct the cells in the source data; the SDMX-CSV keeps values as they are, and a "
                    "spreadsheet opening it would run these as formulas."
                ),
                file=file,
                field=name,
                value=value[:200],
                row=rows[0] if rows else None,
                rows=tuple(rows),
            )
        )
    return out


def coverage_findings(
    h: Harmonised, mapping: Mapping, *, file: str | None, mapping_file: str | None
) -> list[Finding]:
    """Unmapped values and duplicate series keys."""
    out = []
    where = mapping_file or msg(N_("the mapping"))
    for u in h.unmapped:
        rows_n = nmsg("{n} row", "{n} rows", u.count)
        message = msg(N_("'{value}' has no {component} code ({rows})"), value=u.value, component=u.component,
                      rows=rows_n)  # fmt: skip
        fix = msg(N_("Add it under dimensions.{component}.map in {where}, next to the labels of its code."),
                  component=u.component, where=where)  # fmt: skip
        if u.component in mapping.derive:  # an answer the Washington Group derivation cannot read
            message = msg(
                N_("'{value}' is not a Washington Group answer ({rows})"), value=u.value, rows=rows_n
            )
            fix = msg(
                N_(
                    "Correct the answer in the data, or, if it is a word for one of the four answers (or for "
                    "a missing answer), add it under derive.{component}.washington_group.answers in "
                    "{where} (no_difficulty, some_difficulty, a_lot_of_difficulty, cannot_do_at_all, "
                    "missing)."
                ),
                component=u.component,
                where=where,
            )
        if u.suggestions:
            fix = msg(N_("{fix} Did you mean {suggestions}?"), fix=fix, suggestions=", ".join(u.suggestions))
        out.append(
            _finding(
                UNMAPPED,
                message,
                fix,
                file=file,
                row=u.rows[0] if u.rows else None,
                rows=tuple(u.rows),
                field=u.column,
                value=u.value,
                details={"component": u.component, "count": u.count, "suggestions": u.suggestions},
            )
        )
    for key, rows in h.duplicate_keys()[:EXAMPLES]:
        out.append(
            _finding(
                DUPLICATE_SERIES,
                msg(
                    N_("rows {rows} all give the observation {key} for {period}"),
                    rows=", ".join(map(str, rows[:8])),
                    key=".".join(key[:-1]),
                    period=key[-1],
                ),
                msg(
                    N_(
                        "Map a column that tells these rows apart to a dimension in {where}, or give their "
                        "labels different codes."
                    ),
                    where=where,
                ),
                file=file,
                row=rows[0],
                rows=tuple(rows),
            )
        )
    return out


def dimension_fix(dim: Component, codes: frozenset[str], *, where: str | dict[str, Any]) -> dict[str, Any]:
    """How to fill a dimension the mapping leaves out: a column, a fixed code, or the codelist's
    own total (``_T``) or not-applicable (``_Z``) code when it has one (a composed message)."""
    params = {
        "id": dim.id,
        "where": where,
        "column": f"{dim.id}: {{column: ..., map: ...}}",
        "value": f"{dim.id}: {{value: ...}}",
    }
    text = (
        msg(
            N_("Add dimensions.{id} in {where}: a column with a map to its codes ({column}), or a fixed code "
               "from {codelist} ({value})"),
            codelist=dim.codelist, **params,
        )
        if dim.codelist
        else msg(
            N_("Add dimensions.{id} in {where}: a column with a map to its codes ({column}), or a fixed code "
               "({value})"),
            **params,
        )
    )  # fmt: skip
    for code, meaning in (("_T", N_("the total")), ("_Z", N_("not applicable"))):
        if code in codes:
            return msg(
                N_("{text}; if the data is not broken down by {id}, {meaning}: {fixed}."),
                text=text, id=dim.id, meaning=msg(meaning), fixed=f"{dim.id}: {{value: {code}}}",
            )  # fmt: skip
    return msg(N_("{sentence}."), sentence=text)


def contract_findings(
    h: Harmonised,
    mapping: Mapping,
    contract: Contract,
    structures: Any,
    *,
    provided: Collection[str] = (),
    mapping_file: str | None,
) -> list[Finding]:
    """What the mapping does not give the target DSD: unfilled dimensions, undeclared attributes,
    mandatory attributes left out."""
    where = mapping_file or msg(N_("the mapping"))
    out: list[Finding] = []
    for dim_id in h.unfilled:
        dim = contract.dimension(dim_id)
        assert dim is not None
        out.append(
            _finding(
                DIMENSION_NOT_MAPPED,
                msg(
                    N_(
                        "the mapping gives no code for {id}, a dimension of {dsd}, so every series key would "
                        "be empty there"
                    ),
                    id=dim_id,
                    dsd=contract.dsd,
                ),
                dimension_fix(dim, _codes_of(dim, structures), where=where),
                file=mapping_file,
                field=f"dimensions.{dim_id}",
                target="mapping",
                details={"component": dim_id, "codelist": dim.codelist},
            )
        )
    for attr in h.undeclared:
        out.append(
            _finding(
                NOT_IN_DSD,
                msg(
                    N_("{id} is not an attribute of {dsd}, so it cannot be written"),
                    id=attr,
                    dsd=contract.dsd,
                ),
                msg(
                    N_("Remove attributes.{id} from {where}; the attributes of {dsd} are: {attributes}."),
                    id=attr,
                    where=where,
                    dsd=contract.dsd,
                    attributes=", ".join(contract.attribute_ids),
                ),
                file=mapping_file,
                field=f"attributes.{attr}",
                target="mapping",
                details={"component": attr},
            )
        )
    given = set(mapping.attributes) | set(provided)
    if mapping.aggregate is not None and mapping.aggregate.count_attribute:
        given.add(mapping.aggregate.count_attribute)
    for comp in contract.attributes:
        if comp.mandatory and comp.id not in given:
            example = f"{comp.id}: {{value: ...}}"
            out.append(
                _finding(
                    ATTRIBUTE_MISSING,
                    msg(
                        N_("{id} is mandatory in {dsd} and the mapping does not give it"),
                        id=comp.id,
                        dsd=contract.dsd,
                    ),
                    msg(
                        N_("Add attributes.{id} in {where}, e.g. {example} (a code of {codelist})."),
                        id=comp.id,
                        where=where,
                        example=example,
                        codelist=comp.codelist,
                    )
                    if comp.codelist
                    else msg(
                        N_("Add attributes.{id} in {where}, e.g. {example}."),
                        id=comp.id,
                        where=where,
                        example=example,
                    ),
                    file=mapping_file,
                    field=f"attributes.{comp.id}",
                    target="mapping",
                    details={"component": comp.id, "codelist": comp.codelist},
                )
            )
    return out


def _codes_of(component: Component, structures: Any) -> frozenset[str]:
    if component.codelist is None or structures is None:
        return frozenset()
    try:
        return frozenset(structures.codes(component.codelist))
    except StructureError:
        return frozenset()


def contract_problems(
    table: pa.Table,
    contract: Contract,
    attributes: Collection[str],
    structures: Any,
    *,
    codes: bool = True,
) -> list[str]:
    """What keeps a conformed table from being written or stored under ``contract``, in words.

    Checks: every DSD dimension and the time dimension are columns with no empty cell; every
    attribute to be written (``attributes``) is declared by the DSD; every mandatory attribute
    has a value in every observation; a series attribute has one value per series; and, with
    ``codes``, every coded dimension and attribute value is in its codelist. Empty when the
    table conforms.
    """
    problems = _shape_problems(table, contract, attributes)
    series = [a for a in contract.series_attributes if a in attributes and a in table.column_names]
    if series and table.num_rows and all(d in table.column_names for d in contract.dimension_ids):
        key, _ = arrow.group_ids([table[d] for d in contract.dimension_ids])
        for a in series:
            # distinct (series, value) pairs, nulls left out; two in one series is a problem
            values, _ = arrow.group_ids([table[a]])
            present = arrow.to_numpy(pc.is_valid(table[a]), bool)
            _, first = arrow.factorize_rows([key[present], values[present]])
            if first.size and np.bincount(key[present][first]).max() > 1:
                problems.append(f"the series attribute {a} has more than one value within a series")
    if codes:
        coded = [*contract.dimensions, *(c for a in attributes if (c := contract.attribute(a)) is not None)]
        problems += _code_problems(table, coded, structures)
    return problems


def _shape_problems(table: pa.Table, contract: Contract, attributes: Collection[str]) -> list[str]:
    """Dimensions present and filled, attributes declared, mandatory attributes filled."""
    out: list[str] = []
    n = table.num_rows
    for name in [*contract.dimension_ids, contract.time]:
        if name not in table.column_names:
            out.append(f"the dimension {name} of {contract.dsd} is not in the data")
        elif table[name].null_count:
            out.append(f"the dimension {name} is empty in {table[name].null_count} of {n} observation(s)")
    out += [f"{a} is not an attribute of {contract.dsd}" for a in attributes if contract.attribute(a) is None]
    for attr in contract.mandatory_attributes:
        if attr not in attributes or attr not in table.column_names:
            out.append(f"the mandatory attribute {attr} of {contract.dsd} is not in the data")
        elif table[attr].null_count:
            out.append(
                f"the mandatory attribute {attr} is empty in {table[attr].null_count} of {n} observation(s)"
            )
    return out


def _code_problems(table: pa.Table, components: list[Component], structures: Any) -> list[str]:
    """Coded values outside their codelists."""
    out: list[str] = []
    for comp in components:
        if comp.codelist is None or comp.id not in table.column_names:
            continue
        values = table[comp.id]
        try:
            bad = _unknown_codes(structures, comp.codelist, values)
        except StructureError:
            out.append(f"the codelist {comp.codelist} of {comp.id} is not known, so its codes are unchecked")
            continue
        if bad.any():
            shown = sorted({str(v) for v in pc.filter(values, arrow.array(bad)).to_pylist()})[:5]
            out.append(f"{comp.id} has codes that are not in {comp.codelist}: {', '.join(shown)}")
    return out


def code_findings(h: Harmonised, dataflow: str, structures: Any, *, file: str | None) -> list[Finding]:
    """Codes against the target DSD's codelists and the dataflow's content constraints."""
    from cgd_bridge.sdmx.refs import parse_ref

    try:
        flow, dsd = structures.flow_structure(dataflow)
    except StructureError as exc:
        return [
            _finding(
                UNKNOWN_DATAFLOW,
                msg(
                    N_("the dataflow {dataflow} is not known here ({why}), so codes were not checked"),
                    dataflow=dataflow,
                    why=exc.sentence(),
                ),
                N_(
                    "Import the NSO's structure file with 'cgd-bridge structures import FILE', or correct "
                    "'dataflow' in the mapping."
                ),
                file=file,
            )
        ]
    out: list[Finding] = []
    rows = arrow.to_numpy(h.table["SOURCE_ROW"])
    components = [c for c in dsd.components if c.role != "measure"]  # dimensions, then attributes
    for comp in components:
        cl = comp.codelist
        if cl is None or comp.id not in h.table.column_names:
            continue
        values = h.table[comp.id]
        try:
            bad = _unknown_codes(structures, cl, values)
        except StructureError as exc:
            out.append(
                _finding(
                    UNKNOWN_DATAFLOW,
                    msg(
                        N_(
                            "the codelist {codelist} of {id} is not known here ({why}), so the {id} codes "
                            "were not checked"
                        ),
                        codelist=cl,
                        id=comp.id,
                        why=exc.sentence(),
                    ),
                    msg(
                        N_(
                            "Import the structure file that defines {codelist} with 'cgd-bridge structures "
                            "import FILE'."
                        ),
                        codelist=cl,
                    ),
                    file=file,
                    field=comp.id,
                )
            )
            continue
        short = parse_ref(cl)[1]  # the codelist's id in the message, as the mapping names codes
        out.extend(
            _per_value(
                UNKNOWN_CODE,
                comp.id,
                values,
                bad,
                rows,
                file,
                lambda v, c=comp.id, cl=short: (
                    msg(
                        N_("'{value}' is not a code of {codelist}, the codelist of {id}"),
                        value=v,
                        codelist=cl,
                        id=c,
                    ),
                    msg(
                        N_(
                            "Use a code from {codelist} (see 'cgd-bridge structures show codelist "
                            "{codelist}') in the mapping's {id} section."
                        ),
                        codelist=cl,
                        id=c,
                    ),
                ),
            )
        )
    out.extend(_constraint_findings(h, flow.id, structures, rows, file))
    return out


def _unknown_codes(structures: Any, codelist: str, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True for each row whose value is present and not a code of ``codelist`` (a column with
    one value on every row is checked once: :func:`cgd_bridge.arrow.row_mask`)."""

    def test(v: pa.Array | pa.ChunkedArray) -> np.ndarray:
        ok = structures.valid_codes_mask(codelist, v)
        return ~arrow.to_numpy(arrow.fill_null(ok, False), bool) & arrow.to_numpy(pc.is_valid(v), bool)

    return arrow.row_mask(values, test)


def _member_of(codes: pa.Array) -> Callable[[pa.Array | pa.ChunkedArray], np.ndarray]:
    """A row test: the value is one of ``codes``, or empty."""

    def test(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return arrow.to_numpy(arrow.fill_null(pc.is_in(values, value_set=codes), True), bool)

    return test


def _per_value(
    code: str,
    component: str,
    values: pa.ChunkedArray,
    bad: np.ndarray,
    rows: np.ndarray,
    file: str | None,
    text: Any,
) -> Iterable[Finding]:
    if not bad.any():
        return []
    bad_values = pc.filter(values, arrow.array(bad)).to_pylist()
    bad_rows = rows[bad]
    seen: dict[str, list[int]] = {}
    for v, r in zip(bad_values, bad_rows.tolist(), strict=True):
        seen.setdefault(str(v), []).append(int(r))
    out = []
    distinct = pc.count_distinct(values).as_py()
    for v, rs in list(seen.items())[:EXAMPLES]:
        problem, fix = text(v)
        out.append(
            _finding(
                code,
                msg(
                    N_("{problem} ({observations})"),
                    problem=problem,
                    observations=nmsg("{n} observation", "{n} observations", len(rs)),
                ),
                fix,
                file=file,
                row=rs[0],
                rows=tuple(rs[:50]),
                value=v,
                # the distinct values of the component, and how many of them were refused: the
                # report's diagnosis of a wrong dataflow (cgd_bridge/diagnosis.py) reads them
                details={
                    "component": component,
                    "count": len(rs),
                    "distinct": distinct,
                    "refused": len(seen),
                },
            )
        )
    return out


def allowed_codes(flow: Any, structures: Any) -> dict[str, frozenset[str]]:
    """The codes the allowed content constraints on ``flow`` (a dataflow id, or an sdmx1
    dataflow) allow, per component id: the union over their included cube regions, for each
    component that every region constrains (a region that leaves a component out allows all its
    codes). Empty when the dataflow has no constraint; a DSD-specific schema of the dataflow is
    narrowed by it."""
    regions = structures.constraints(flow if isinstance(flow, str) else str(flow.id))
    if not regions:
        return {}
    constrained = set.intersection(*({c for c, _ in r.members} for r in regions))
    out: dict[str, set[str]] = {c: set() for c in constrained}
    for region in regions:
        for comp, values in region.members:
            if comp in out:
                out[comp].update(values)
    return {c: frozenset(codes) for c, codes in out.items()}


def _constraint_findings(
    h: Harmonised, flow_id: str, structures: Any, rows: np.ndarray, file: str | None
) -> list[Finding]:
    regions = structures.constraints(flow_id)
    if not regions:
        return []
    n = h.table.num_rows
    allowed = np.zeros(n, dtype=bool)
    region_masks = []
    for region in regions:
        mask = np.ones(n, dtype=bool)
        per = {}
        for comp, values in region.members:
            if comp not in h.table.column_names:
                continue
            codes = arrow.array(list(values), pa.string())
            # an empty dimension is reported once as dimension-not-mapped, not per observation here
            hit = arrow.row_mask(h.table[comp], _member_of(codes))
            per[comp] = hit
            mask &= hit
        region_masks.append(per)
        allowed |= mask
    out: list[Finding] = []
    if allowed.all():
        return out
    # for each refused observation, name the component that its series' region refuses
    series = arrow.to_numpy(h.table["SERIES"]) if "SERIES" in h.table.column_names else None
    for per in region_masks:
        series_ok = per.get("SERIES", np.ones(n, dtype=bool))
        for comp_id, hit in per.items():
            if comp_id == "SERIES":
                continue
            bad = ~allowed & series_ok & ~hit
            out.extend(
                _per_value(
                    NOT_ALLOWED,
                    comp_id,
                    h.table[comp_id],
                    bad,
                    rows,
                    file,
                    lambda v, c=comp_id: (
                        msg(
                            N_("{id} '{value}' is not allowed for this series by the dataflow's constraint"),
                            id=c,
                            value=v,
                        ),
                        msg(
                            N_(
                                "Use one of the allowed {id} codes, or map this breakdown to a national "
                                "series the NSO defines."
                            ),
                            id=c,
                        ),
                    ),
                )
            )
    if not out and series is not None:
        bad = ~allowed
        out.extend(
            _per_value(
                NOT_ALLOWED,
                "SERIES",
                h.table["SERIES"],
                bad,
                rows,
                file,
                lambda v: (
                    msg(N_("the series '{value}' is not allowed in this dataflow"), value=v),
                    msg(N_("Use a series the dataflow's constraint allows.")),
                ),
            )
        )
    return out
