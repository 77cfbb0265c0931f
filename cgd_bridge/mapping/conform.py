"""Conformance of harmonised observations: coverage, duplicate keys, codes and constraints.

:func:`map_and_check` is the pipeline's call: the source table mapped, with these findings.

- every source value got a code (``unmapped-value``, with the rows and suggested codes);
- no two rows give the same series key and period (``duplicate-series-key``);
- every code is in the codelist the target DSD gives its component (``unknown-code``);
- every observation is inside the allowed content constraints of the dataflow
  (``code-not-allowed``).

Checks run column-wise: one ``is_in`` per component against the codelist's codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.errors import StructureError
from cgd_bridge.findings import Finding, Report, Severity, register
from cgd_bridge.mapping.apply import Harmonised, apply_mapping
from cgd_bridge.mapping.model import Mapping

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

#: Findings that mean the data could not be checked at all: ``--force`` never converts past them.
UNCHECKED = frozenset({UNKNOWN_DATAFLOW})

EXAMPLES = 20


def map_and_check(
    table: SourceTable,
    spec: Mapping,
    report: Report,
    *,
    mapping_file: str,
    structures: Structures | None,
    batch_rows: int,
) -> Harmonised | None:
    """Map the table when the mapping has SDMX sections, adding the coverage, key and code findings.

    None when the mapping only describes the data (no ``dimensions``, ``time`` or ``value``), or
    when columns it maps are missing (the table checks reported them as ``missing-column``).
    Codes are checked against ``structures`` (default: the bundled ``codelists/`` only).
    """
    if not spec.dimensions or spec.time is None or spec.value is None:
        return None  # a schema-only mapping: nothing to map yet
    present = {c.name for c in table.columns if c.kind != "meta"}
    absent = spec.columns_used() - present
    declared = {f.get("name") for f in (spec.schema_ or {}).get("fields", []) if isinstance(f, dict)}
    if absent and absent <= declared:
        return None  # the table checks reported these columns as missing-column
    h = apply_mapping(table, spec, batch_rows=batch_rows)
    report.extend(coverage_findings(h, spec, file=table.file, mapping_file=mapping_file))
    report.extend(formula_findings(h, file=table.file))
    if spec.dataflow:
        if structures is None:
            from cgd_bridge.structures import Structures as _Structures

            structures = _Structures.load(None)
        report.extend(code_findings(h, spec.dataflow, structures, file=table.file))
    return h


def _finding(code: str, problem: str, fix: str, *, file: str | None, **kw: Any) -> Finding:
    from cgd_bridge.findings import CHECKS

    return Finding(
        code=code,
        severity=kw.pop("severity", CHECKS[code].severity),
        problem=problem,
        fix=fix,
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
    return pc.fill_null(pc.or_(pc.match_substring_regex(text, _FORMULA_START), signed), False)


def formula_findings(h: Harmonised, *, file: str | None) -> list[Finding]:
    """``formula-like-value``: attribute values from the data that a spreadsheet would run."""
    out: list[Finding] = []
    for name in h.attributes:
        if name not in h.table.column_names or not pa.types.is_string(h.table.schema.field(name).type):
            continue
        column = h.table.column(name)
        mask = formula_values(column)
        count = pc.sum(mask).as_py() or 0
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
                f"{count:,} value(s) of the attribute {name} start like a spreadsheet formula "
                f"(e.g. {value[:60]!r})",
                "Correct the cells in the source data; the SDMX-CSV keeps values as they are, and a "
                "spreadsheet opening it would run these as formulas.",
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
    where = mapping_file or "the mapping"
    for u in h.unmapped:
        hint = f" Did you mean {', '.join(u.suggestions)}?" if u.suggestions else ""
        message = f"'{u.value}' has no {u.component} code ({u.count} row(s))"
        fix = f"Add it under dimensions.{u.component}.map in {where}, next to the labels of its code.{hint}"
        if u.component in mapping.derive:  # an answer the Washington Group derivation cannot read
            message = f"'{u.value}' is not a Washington Group answer ({u.count} row(s))"
            fix = (
                "Correct the answer in the data, or, if it is a word for one of the four answers (or for "
                f"a missing answer), add it under derive.{u.component}.washington_group.answers in "
                f"{where} (no_difficulty, some_difficulty, a_lot_of_difficulty, cannot_do_at_all, "
                f"missing).{hint}"
            )
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
                f"rows {', '.join(map(str, rows[:8]))} all give the observation "
                f"{'.'.join(key[:-1])} for {key[-1]}",
                f"Map a column that tells these rows apart to a dimension in {where}, or give their "
                "labels different codes.",
                file=file,
                row=rows[0],
                rows=tuple(rows),
            )
        )
    return out


def _enumerated(component: Any) -> Any:
    rep = getattr(component, "local_representation", None)
    cl = getattr(rep, "enumerated", None) if rep is not None else None
    if cl is None and getattr(component, "concept_identity", None) is not None:
        core = getattr(component.concept_identity, "core_representation", None)
        cl = getattr(core, "enumerated", None) if core is not None else None
    return cl


def code_findings(h: Harmonised, dataflow: str, structures: Any, *, file: str | None) -> list[Finding]:
    """Codes against the target DSD's codelists and the dataflow's content constraints."""
    from cgd_bridge.sdmx.refs import parse_ref

    agency, ident, version = parse_ref(dataflow)
    try:
        flow = structures.dataflow(ident, agency, version)
        ref = flow.structure
        dsd = structures.dsd(ref.id, ref.maintainer.id if ref.maintainer else None, ref.version)
    except StructureError as exc:
        return [
            _finding(
                UNKNOWN_DATAFLOW,
                f"the dataflow {dataflow} is not known here ({exc.problem}), so codes were not checked",
                "Import the NSO's structure file with 'cgd-bridge structures import FILE', or correct "
                "'dataflow' in the mapping.",
                file=file,
            )
        ]
    out: list[Finding] = []
    rows = h.table["SOURCE_ROW"].to_numpy()
    components = [*dsd.dimensions.components, *dsd.attributes.components]
    for comp in components:
        cl = _enumerated(comp)
        if cl is None or comp.id not in h.table.column_names:
            continue
        values = h.table[comp.id]
        try:
            ok = structures.valid_codes_mask(cl.id, values)
        except StructureError as exc:
            out.append(
                _finding(
                    UNKNOWN_DATAFLOW,
                    f"the codelist {cl.id} of {comp.id} is not known here ({exc.problem}), so the "
                    f"{comp.id} codes were not checked",
                    f"Import the structure file that defines {cl.id} with 'cgd-bridge structures "
                    "import FILE'.",
                    file=file,
                    field=comp.id,
                )
            )
            continue
        bad = ~np.asarray(pc.fill_null(ok, False)) & np.asarray(pc.is_valid(values))
        out.extend(
            _per_value(
                UNKNOWN_CODE,
                comp.id,
                values,
                bad,
                rows,
                file,
                lambda v, c=comp.id, cl=cl.id: (
                    f"'{v}' is not a code of {cl}, the codelist of {c}",
                    f"Use a code from {cl} (see 'cgd-bridge structures show codelist {cl}') "
                    f"in the mapping's {c} section.",
                ),
            )
        )
    out.extend(_constraint_findings(h, flow, structures, rows, file))
    return out


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
    bad_values = pc.filter(values, pa.array(bad)).to_pylist()
    bad_rows = rows[bad]
    seen: dict[str, list[int]] = {}
    for v, r in zip(bad_values, bad_rows.tolist(), strict=True):
        seen.setdefault(str(v), []).append(int(r))
    out = []
    for v, rs in list(seen.items())[:EXAMPLES]:
        problem, fix = text(v)
        out.append(
            _finding(
                code,
                f"{problem} ({len(rs)} observation(s))",
                fix,
                file=file,
                row=rs[0],
                rows=tuple(rs[:50]),
                value=v,
                details={"component": component, "count": len(rs)},
            )
        )
    return out


def _allowed_regions(flow: Any, structures: Any) -> list[Any]:
    """The included cube regions of every allowed content constraint on ``flow``."""
    regions: list[Any] = []
    for info in structures.artefacts("contentconstraint"):
        c = structures.get("contentconstraint", info.id, info.agency, info.version)
        role = getattr(getattr(c, "role", None), "role", None)
        if str(role).lower().endswith("actual"):
            continue
        targets = {getattr(t, "id", None) for t in (getattr(c, "content", None) or [])}
        if flow.id in targets:
            regions.extend(r for r in c.data_content_region if r.included)
    return regions


def _constraint_findings(
    h: Harmonised, flow: Any, structures: Any, rows: np.ndarray, file: str | None
) -> list[Finding]:
    regions = _allowed_regions(flow, structures)
    if not regions:
        return []
    n = h.table.num_rows
    allowed = np.zeros(n, dtype=bool)
    region_masks = []
    for region in regions:
        mask = np.ones(n, dtype=bool)
        per = {}
        for comp, member in region.member.items():
            if comp.id not in h.table.column_names:
                continue
            codes = pa.array([str(v.value) for v in member.values], pa.string())
            hit = np.asarray(pc.fill_null(pc.is_in(h.table[comp.id], value_set=codes), False))
            per[comp.id] = hit
            mask &= hit
        region_masks.append(per)
        allowed |= mask
    out: list[Finding] = []
    if allowed.all():
        return out
    # for each refused observation, name the component that its series' region refuses
    series = h.table["SERIES"].to_numpy(zero_copy_only=False) if "SERIES" in h.table.column_names else None
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
                        f"{c} '{v}' is not allowed for this series by the dataflow's constraint",
                        f"Use one of the allowed {c} codes, or map this breakdown to a national "
                        "series the NSO defines.",
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
                    f"the series '{v}' is not allowed in this dataflow",
                    "Use a series the dataflow's constraint allows.",
                ),
            )
        )
    return out
