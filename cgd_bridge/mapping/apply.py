"""The mapping engine: a CSO table -> harmonised SDMX observations, column by column.

Each batch of the source is mapped with Arrow kernels: labels are normalised
(case/white space) and looked up with ``index_in`` against the mapping's label table, time and
values are computed as columns. Rows are never lost silently: rows a ``drop`` rule removes are
counted with their reason, and values with no code are listed in the coverage report with the
rows they affect and the closest labels as suggestions; their rows are left out of the output.

Microdata (a mapping with ``aggregate:``) goes through the same label mapping, then into
cells and totals (:mod:`cgd_bridge.mapping.aggregate`); aggregate data with ``totals:`` gets
its missing ``_T`` rows computed from its counts.

The target DSD is the contract (#13): given its :class:`~cgd_bridge.sdmx.contract.Contract`,
the table has every dimension of the DSD in the DSD's key order (a dimension the mapping does
not fill is an empty column, listed in ``Harmonised.unfilled`` for validation to report, never
a code made up here) and only the attributes the DSD declares, in the DSD's order.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_, msg, nmsg
from cgd_bridge.ingest.table import SourceTable
from cgd_bridge.mapping.aggregate import MicrodataAggregator, add_totals, by_dictionary
from cgd_bridge.mapping.model import ComponentMap, Mapping, normalise_label
from cgd_bridge.mapping.washington import derive_status, drop_reason
from cgd_bridge.mapping.washington import suggest as suggest_answer
from cgd_bridge.sdmx.contract import Contract

# The SDG global DSD's dimensions, in key order (IAEG-SDGs:SDG 1.5): what a mapping import
# assumes for a dataflow it does not know (sdmx/maps.py). The engine takes the order from the
# target's Contract, never from here.
SDG_DIMENSIONS = (
    "FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA", "SEX", "AGE", "URBANISATION",
    "INCOME_WEALTH_QUANTILE", "EDUCATION_LEV", "OCCUPATION", "CUST_BREAKDOWN",
    "COMPOSITE_BREAKDOWN", "DISABILITY_STATUS", "ACTIVITY", "PRODUCT",
)  # fmt: skip
EXAMPLE_ROWS = 10
_NUM = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


@dataclass
class Unmapped:
    """A source value that has no code: where it is and what it might be."""

    component: str
    column: str
    value: str
    count: int = 0
    rows: list[int] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


@dataclass
class Dropped:
    """Rows a drop rule left out, with its reason."""

    reason: str
    column: str
    count: int = 0
    rows: list[int] = field(default_factory=list)


@dataclass
class Harmonised:
    """The harmonised dataset: one row per observation, SDMX ids as column names.

    Attributes:
        table: dimension columns (key order), ``TIME_PERIOD``, ``OBS_VALUE`` (float64),
            attribute columns and ``SOURCE_ROW`` (the first source row of each observation).
            Aggregated observations (microdata, computed totals) also have ``OBS_COUNT`` (the
            unweighted respondents the value rests on), ``OBS_NUMERATOR``/``OBS_DENOMINATOR``
            (counts and proportions) and ``SOURCE_ROWS`` (``list<int64>``, every source row);
            privacy adds ``SUPPRESSED`` (bool) when it decided per observation. Writers write
            only the dimensions and attributes their Target names.
        dimensions: the dimension ids in key order (without TIME_PERIOD).
        attributes: the attribute ids.
        unmapped: values without a code (coverage report).
        dropped: rows left out by drop rules.
        rows_in: rows read from the source.
        aggregated: True when rows were grouped into cells (microdata).
        totals: dimension -> its total code, for the dimensions the mapping totals
            (e.g. ``{"SEX": "_T", "AGE": "Y15T29"}``).
        proportion: True when each value is a share of a group (value kind ``proportion``): the
            disclosure rules on numerators, complements and whole groups apply.
        count_attributes: the attributes that repeat a count, numerator or denominator (the
            mapping's ``aggregate.count_attribute``, or an attribute read from the value's
            columns); they are emptied on suppressed observations.
        unfilled: the DSD's dimensions the mapping gives no code (empty columns), e.g.
            ``["URBANISATION"]``; validation reports each (``dimension-not-mapped``).
        undeclared: the mapping's attributes the DSD does not declare (left out of the table),
            e.g. ``["CONF_STATUS"]`` for the SDG DSD 1.5 (``component-not-in-dsd``).
        contract: the target DSD the table was shaped by; None when the target is not known.
    """

    table: pa.Table
    dimensions: list[str]
    attributes: list[str]
    unmapped: list[Unmapped]
    dropped: list[Dropped]
    rows_in: int
    aggregated: bool = False
    totals: dict[str, str] = field(default_factory=dict)
    proportion: bool = False
    count_attributes: list[str] = field(default_factory=list)
    unfilled: list[str] = field(default_factory=list)
    undeclared: list[str] = field(default_factory=list)
    contract: Contract | None = None

    @property
    def complete(self) -> bool:
        """True when every source value found a code."""
        return not self.unmapped

    def duplicate_keys(self) -> list[tuple[tuple[str, ...], list[int]]]:
        """Series key + period combinations produced by more than one source row."""
        keys = [*self.dimensions, "TIME_PERIOD"]
        if self.table.num_rows == 0:
            return []
        # a key column with one value in every row (FREQ, SERIES, the _T breakdowns) groups nothing
        same = {k: self.table[k][0].as_py() for k in keys if arrow.one_value(self.table[k])}
        varying = [k for k in keys if k not in same] or keys[:1]
        ids, first = arrow.group_ids([self.table[k] for k in varying])
        counts = np.bincount(ids, minlength=first.size)
        if counts.max() == 1:
            return []  # the usual case: no key twice, so no row lists to build
        # the groups seen twice, in order of first appearance, each with its source rows
        dup = np.flatnonzero(counts > 1)
        member = np.isin(ids, dup)
        rows = np.flatnonzero(member)
        order = rows[np.argsort(ids[member], kind="stable")]
        bounds = np.cumsum(counts[dup])[:-1]
        source = arrow.to_numpy(arrow.fill_null(self.table["SOURCE_ROW"], -1), np.int64)
        values = {k: self.table[k].take(arrow.array(first[dup])).to_pylist() for k in varying}
        out = []
        for i, group_rows in enumerate(np.split(order, bounds)):
            key = tuple(values[k][i] if k in values else same[k] for k in keys)
            out.append((key, sorted(int(r) for r in source[group_rows])))
        return out

    def lineage(self) -> pa.Array:
        """Every observation's source rows (``list<int64>``, file row numbers), in table order.

        >>> h.lineage()[0].as_py()  # doctest: +SKIP
        [2, 9, 14]
        """
        t = self.table
        if "SOURCE_ROWS" in t.column_names:
            return t["SOURCE_ROWS"].combine_chunks()
        offsets = arrow.array(np.arange(t.num_rows + 1, dtype=np.int32))
        return pa.ListArray.from_arrays(offsets, t["SOURCE_ROW"].combine_chunks().cast(pa.int64()))


#: rows of the one array a constant column is sliced from (see :func:`constant_column`)
CONSTANT_CHUNK = 65_536


class Constants:
    """The arrays that columns holding one value on every row are sliced from, one per value.

    A mapped ``{value: ...}`` (FREQ, SERIES, the ``_T`` breakdowns, a long COMMENT_OBS) is the
    same text on every row: each batch's column is a zero-copy slice of one array per value,
    so the harmonised table holds that text once per batch size, not once per row (#16).
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, pa.DataType], pa.Array] = {}
        self._lookups: dict[int, tuple[ComponentMap, pa.Array, pa.Array]] = {}

    def lookup(self, spec: ComponentMap) -> tuple[pa.Array, pa.Array]:
        """The codes of a mapped column and their labels lower-cased (the ``value_set`` its
        values are looked up in), built once per run, not once per batch and component."""
        have = self._lookups.get(id(spec))
        if have is None or have[0] is not spec:
            labels = spec.labels()
            # the labels are case-folded; lower-casing them too makes both sides the same form
            keys = arrow.array([k.lower() for k in labels], pa.string())
            have = (spec, arrow.array(list(labels.values()), pa.string()), keys)
            self._lookups[id(spec)] = have
        return have[1], have[2]

    def column(self, value: str, n: int, type: pa.DataType | None = None) -> pa.Array:
        """``value`` on ``n`` rows."""
        kind = type or pa.string()
        have = self._arrays.get((value, kind))
        if have is None or len(have) < n:
            have = pa.repeat(arrow.scalar(value, kind), n)
            self._arrays[(value, kind)] = have
        return have.slice(0, n)


def constant_column(value: str, n: int, type: pa.DataType | None = None) -> pa.ChunkedArray:
    """``value`` on ``n`` rows as chunks that all share one array of at most
    :data:`CONSTANT_CHUNK` rows: the text is held once, whatever ``n``."""
    kind = type or pa.string()
    one = pa.repeat(arrow.scalar(value, kind), min(n, CONSTANT_CHUNK))
    chunks = [one.slice(0, min(CONSTANT_CHUNK, n - start)) for start in range(0, n, CONSTANT_CHUNK)]
    return pa.chunked_array(chunks, type=kind)


def _check_inputs(source: SourceTable, mapping: Mapping) -> dict[str, Any]:
    """The source's data columns by name, once the mapping is known to fit them: no derived
    column named like a data column, every column it reads present, ``time`` and ``value`` given."""
    cols = {c.name: c for c in source.columns if c.kind != "meta"}
    clash = sorted(name for name in mapping.derive if name in cols)
    if clash:
        raise MappingError(
            N_("derive: the data already has a column '{column}'"),
            fix=N_(
                "Give the derived column a name the data does not use "
                "(e.g. '{column}_derived') and map that one."
            ),
            file=source.file,
            params={"column": clash[0]},
        )
    missing = sorted(c for c in mapping.columns_used() if c not in cols)
    if missing:
        raise MappingError(
            N_("the mapping reads {columns}, which the data does not have"),
            fix=N_(
                "Check that this is the right mapping for this file; else correct the "
                "column names in the mapping. The data has: {found}."
            ),
            file=source.file,
            params={
                "columns": nmsg(
                    "the column {names}",
                    "the columns {names}",
                    len(missing),
                    names=", ".join(repr(m) for m in missing),
                ),
                "found": ", ".join(cols),
            },
        )
    if mapping.time is None or mapping.value is None:
        raise MappingError(
            N_("the mapping has no 'time' or no 'value' section"),
            fix=N_("Say where TIME_PERIOD and OBS_VALUE come from (see docs/mapping.md)."),
        )
    return cols


def rows_kept(source: SourceTable, mapping: Mapping) -> Callable[[pa.RecordBatch, int], np.ndarray] | None:
    """Which rows of a record batch of ``source`` the mapping keeps, as :func:`apply_mapping`
    decides (the same code): not dropped by a ``drop`` rule or a derivation, and every mapped
    dimension's label with a code. The cell checks of aggregate data decide on those rows only
    (#13: validation speaks of the cells conversion publishes). None when the mapping cannot
    map the table (a missing column: the table checks report it).

    The function takes the batch and its first provisional row (2 for the first batch).
    """
    try:
        cols = _check_inputs(source, mapping)
    except MappingError:
        return None
    dims = list(mapping.dimensions)

    constants = Constants()  # the label lookups, built once for every batch

    def kept(batch: pa.RecordBatch, first_row: int) -> np.ndarray:
        _, _, keep = _map_codes(batch, first_row, mapping, dims, cols, {}, _drop_counts(mapping), constants)
        return keep

    return kept


def apply_mapping(
    source: SourceTable, mapping: Mapping, *, batch_rows: int = 200_000, contract: Contract | None = None
) -> Harmonised:
    """Map every row of ``source`` with ``mapping`` into a :class:`Harmonised` dataset.

    With the target DSD's ``contract``, the table has every dimension of the DSD in key order
    and only the attributes the DSD declares; without one (the target is not known, so nothing
    can be written), the mapping's own dimensions in its order.

    Raises:
        MappingError: a mapped column is missing, ``time``/``value`` is missing, or the mapping
            names a dimension the DSD does not have.
    """
    cols = _check_inputs(source, mapping)
    dims = _dimension_order(mapping, contract)
    unmapped: dict[tuple[str, str], Unmapped] = {}
    dropped = _drop_counts(mapping)
    pieces: list[pa.Table] = []
    rows_in = 0
    cells = MicrodataAggregator(mapping, dims) if mapping.aggregate is not None else None
    constants = Constants()
    for batch in source.batches(batch_rows):
        first = rows_in + 2
        rows_in += batch.num_rows
        if cells is None:
            pieces.append(_map_batch(batch, first, mapping, dims, cols, unmapped, dropped, constants))
            continue
        text, codes, keep = _map_codes(
            batch, first, mapping, cells.varying, cols, unmapped, dropped, constants
        )
        if "TIME_PERIOD" in cells.keys:
            codes["TIME_PERIOD"] = _time(mapping, text, batch.num_rows)
        cells.add(codes, keep, text, first)
    mapper = source.row_mapper()
    for u in unmapped.values():
        u.rows = [mapper(r) for r in u.rows]
        u.suggestions = _suggest(mapping, u)
    for d in dropped.values():
        d.rows = [mapper(r) for r in d.rows]
    attributes = list(mapping.attributes)
    if cells is not None:
        table = _finish_cells(cells, mapping, mapper if source.skipped else None, dropped, attributes)
    else:
        table = pa.concat_tables(pieces) if pieces else _empty(dims, mapping)
        if source.skipped:
            real = [mapper(r) for r in table["SOURCE_ROW"].to_pylist()]
            table = table.set_column(
                table.schema.get_field_index("SOURCE_ROW"), "SOURCE_ROW", arrow.array(real, pa.int64())
            )
        if mapping.totals:
            table = add_totals(table, mapping, dims)
    undeclared: list[str] = []
    if contract is not None:
        undeclared = [a for a in attributes if a not in contract.attribute_ids]
        attributes = list(contract.declared(attributes))
        table = table.drop_columns([a for a in undeclared if a in table.column_names])
    return Harmonised(
        table=table,
        dimensions=dims,
        attributes=attributes,
        unmapped=sorted(unmapped.values(), key=lambda u: (u.component, -u.count, u.value)),
        dropped=[d for d in dropped.values() if d.count],
        rows_in=rows_in,
        aggregated=cells is not None,
        totals=dict(mapping.totals),
        proportion=mapping.value is not None and mapping.value.kind == "proportion",
        count_attributes=_count_attributes(mapping),
        unfilled=[d for d in dims if d not in mapping.dimensions],
        undeclared=undeclared,
        contract=contract,
    )


def _drop_counts(mapping: Mapping) -> dict[int, Dropped]:
    """An empty count per drop rule, then per derived column that drops unknown values."""
    dropped = {i: Dropped(reason=r.reason, column=r.column) for i, r in enumerate(mapping.drop)}
    for name, derivation in mapping.derive.items():  # keys len(drop), len(drop) + 1, ... (see _derive)
        wg = derivation.washington_group
        if wg.missing == "drop":
            dropped[len(dropped)] = Dropped(reason=drop_reason(wg), column=name)
    return dropped


def _count_attributes(mapping: Mapping) -> list[str]:
    """The attributes that repeat a count, a numerator or a denominator of the observations."""
    v = mapping.value
    assert v is not None
    counts = {c for c in (v.numerator, v.denominator, v.column) if c}
    out = [a for a, spec in mapping.attributes.items() if spec.column is not None and spec.column in counts]
    if mapping.aggregate is not None and mapping.aggregate.count_attribute:
        out.append(mapping.aggregate.count_attribute)
    return out


def _finish_cells(
    cells: MicrodataAggregator,
    mapping: Mapping,
    mapper: Any,
    dropped: dict[int, Dropped],
    attributes: list[str],
) -> pa.Table:
    """The aggregated observations; rows without a usable weight are counted as dropped."""
    table = cells.finish(mapper)
    agg = mapping.aggregate
    assert agg is not None
    if cells.no_weight:
        d = Dropped(f"no positive survey weight in '{agg.weight}'", str(agg.weight), cells.no_weight)
        d.rows = [mapper(r) for r in cells.no_weight_rows] if mapper else cells.no_weight_rows
        dropped[len(dropped)] = d
    if agg.count_attribute:
        attributes.append(agg.count_attribute)
    return table


def _dimension_order(mapping: Mapping, contract: Contract | None) -> list[str]:
    """The DSD's dimensions in key order; the mapping's own when the DSD is not known."""
    if contract is None:
        return list(mapping.dimensions)
    extra = [d for d in mapping.dimensions if d not in contract.dimension_ids]
    if extra:
        attrs = [d for d in extra if d in contract.attribute_ids]
        move = (
            msg(N_(" {names}: an attribute of the DSD; move it under 'attributes'."), names=", ".join(attrs))
            if attrs
            else ""
        )
        raise MappingError(
            N_("the data structure {dsd} has no dimension {names}"),
            fix=N_("Use its dimensions: {dimensions}.{move}"),
            field=f"dimensions.{extra[0]}",
            params={
                "dsd": contract.dsd,
                "names": ", ".join(extra),
                "dimensions": ", ".join(contract.dimension_ids),
                "move": move,
            },
        )
    return list(contract.dimension_ids)


def _map_batch(
    batch: pa.RecordBatch,
    first_row: int,
    mapping: Mapping,
    dims: list[str],
    cols: dict[str, Any],
    unmapped: dict[tuple[str, str], Unmapped],
    dropped: dict[int, Dropped],
    constants: Constants,
) -> pa.Table:
    """One source row -> one observation (aggregate data)."""
    n = batch.num_rows
    text, out, keep = _map_codes(
        batch, first_row, mapping, [*dims, *mapping.attributes], cols, unmapped, dropped, constants
    )
    out["TIME_PERIOD"] = _time(mapping, text, n)
    numbers: dict[str, pa.Array] = {}  # each count column read as numbers once, for all uses
    out["OBS_VALUE"] = _value(mapping, text, numbers)
    out["SOURCE_ROW"] = arrow.array(np.arange(first_row, first_row + n, dtype=np.int64))
    v = mapping.value
    if v is not None and v.numerator:  # the counts behind the value: totals and disclosure control
        out["OBS_NUMERATOR"] = _number_of(v.numerator, text, numbers)
        out["OBS_DENOMINATOR"] = _number_of(v.denominator or v.numerator, text, numbers)
    table = pa.table(out)
    return table if keep.all() else table.filter(arrow.array(keep))  # no copy when every row is kept


def _map_codes(
    batch: pa.RecordBatch,
    first_row: int,
    mapping: Mapping,
    components: list[str],
    cols: dict[str, Any],
    unmapped: dict[tuple[str, str], Unmapped],
    dropped: dict[int, Dropped],
    constants: Constants | None = None,
) -> tuple[dict[str, pa.Array], dict[str, pa.Array], np.ndarray]:
    """The batch's text columns, the codes of ``components`` and the rows kept (drops, unmapped)."""
    n = batch.num_rows
    text = {name: batch.column(col.key) for name, col in cols.items()}
    keep = np.ones(n, dtype=bool)
    _derive(mapping, text, n, keep, first_row, unmapped, dropped)
    for i, rule in enumerate(mapping.drop):
        if rule.when_empty is not None:
            hit = arrow.fill_null(
                pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text[rule.column])), 0), True
            )
        else:
            labels = arrow.array([normalise_label(v) for v in rule.values])
            hit = arrow.fill_null(pc.is_in(_norm(text[rule.column]), value_set=labels), False)
        hit = arrow.to_numpy(hit)
        hit &= keep
        if hit.any():
            dropped[i].count += int(hit.sum())
            dropped[i].rows.extend((first_row + np.flatnonzero(hit)[:EXAMPLE_ROWS]).tolist())
        keep &= ~hit
    out: dict[str, pa.Array] = {}
    for comp_id in components:
        spec = mapping.dimensions.get(comp_id) or mapping.attributes.get(comp_id)
        if spec is None:  # a DSD dimension the mapping does not fill: empty, reported by validation
            out[comp_id] = pa.nulls(n, pa.string())
            continue
        codes, ok = _codes(spec, text, n, constants or Constants())
        out[comp_id] = codes
        if comp_id in mapping.dimensions:
            _record_unmapped(comp_id, spec, text, ok & keep, keep, first_row, unmapped)
            keep &= ok
    return text, out, keep


def _derive(
    mapping: Mapping,
    text: dict[str, pa.Array],
    n: int,
    keep: np.ndarray,
    first_row: int,
    unmapped: dict[tuple[str, str], Unmapped],
    dropped: dict[int, Dropped],
) -> None:
    """Add the ``derive`` columns to ``text``; unknown statuses dropped, bad answers unmapped."""
    slot = len(mapping.drop)
    for name, derivation in mapping.derive.items():
        wg = derivation.washington_group
        got = derive_status(wg, text, n)
        text[name] = got.values
        for column, bad in got.invalid.items():
            _record_answers(name, column, text[column], bad & keep, first_row, unmapped)
        for bad in got.invalid.values():
            keep &= ~bad
        if wg.missing == "drop":
            hit = got.unknown & keep
            d = dropped[slot]
            slot += 1
            if hit.any():
                d.count += int(hit.sum())
                d.rows.extend((first_row + np.flatnonzero(hit)[:EXAMPLE_ROWS]).tolist())
            keep &= ~hit


def _record_answers(
    name: str, column: str, values: pa.Array, bad: np.ndarray, first_row: int,
    unmapped: dict[tuple[str, str], Unmapped],
) -> None:  # fmt: skip
    """Answers that are no Washington Group answer, listed like labels without a code."""
    shown = pc.filter(values, arrow.array(bad)).to_pylist()
    for pos, value in zip(np.flatnonzero(bad).tolist(), shown, strict=True):
        u = unmapped.setdefault((name, f"{column}={value}"), Unmapped(name, column, str(value)))
        u.count += 1
        if len(u.rows) < EXAMPLE_ROWS:
            u.rows.append(first_row + pos)


def _norm(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.replace_substring_regex(pc.utf8_trim_whitespace(values), r"\s+", " "))


def _codes(
    spec: ComponentMap, text: dict[str, pa.Array], n: int, constants: Constants
) -> tuple[pa.Array, np.ndarray]:
    if spec.value is not None:
        return constants.column(spec.value, n), np.ones(n, dtype=bool)
    assert spec.column is not None
    codes, keys = constants.lookup(spec)
    source = text[spec.column]
    mapped = by_dictionary(source, lambda v: pc.take(codes, pc.index_in(_norm(v), value_set=keys)))
    if spec.passthrough:
        mapped = pc.coalesce(mapped, source)
    ok = arrow.to_numpy(pc.is_valid(mapped))
    return mapped, ok


def _record_unmapped(
    comp_id: str,
    spec: ComponentMap,
    text: dict[str, pa.Array],
    ok: np.ndarray,
    keep: np.ndarray,
    first_row: int,
    unmapped: dict[tuple[str, str], Unmapped],
) -> None:
    bad = keep & ~ok
    if not bad.any() or spec.column is None:
        return
    values = pc.filter(text[spec.column], arrow.array(bad))
    positions = np.flatnonzero(bad)
    shown = ["(empty)" if v is None else v for v in values.to_pylist()]
    for pos, value in zip(positions.tolist(), shown, strict=True):
        u = unmapped.setdefault((comp_id, value), Unmapped(comp_id, spec.column, value))
        u.count += 1
        if len(u.rows) < EXAMPLE_ROWS:
            u.rows.append(first_row + pos)


def _time(mapping: Mapping, text: dict[str, pa.Array], n: int) -> pa.Array:
    t = mapping.time
    assert t is not None
    if t.value is not None:
        return pa.repeat(arrow.scalar(t.value, pa.string()), n)
    assert t.column is not None
    col = pc.utf8_trim_whitespace(text[t.column])
    if t.format == "year":
        return pc.utf8_slice_codeunits(col, 0, 4)
    if t.format == "month":
        return pc.utf8_slice_codeunits(col, 0, 7)
    if t.format == "date":
        return pc.utf8_slice_codeunits(col, 0, 10)
    return col


def _number(values: pa.Array) -> pa.Array:
    ok = pc.match_substring_regex(values, _NUM)
    return pc.cast(pc.if_else(ok, values, arrow.scalar(None, pa.string())), pa.float64())


def _number_of(column: str, text: dict[str, pa.Array], numbers: dict[str, pa.Array]) -> pa.Array:
    """:func:`_number` of ``text[column]``, kept in ``numbers`` for the batch's other uses."""
    got = numbers.get(column)
    if got is None:
        got = numbers[column] = _number(text[column])
    return got


def _value(
    mapping: Mapping, text: dict[str, pa.Array], numbers: dict[str, pa.Array] | None = None
) -> pa.Array:
    v = mapping.value
    assert v is not None
    memo = {} if numbers is None else numbers
    if v.kind == "column":
        assert v.column is not None
        return _number_of(v.column, text, memo)
    assert v.numerator is not None
    num = _number_of(v.numerator, text, memo)
    if v.kind == "count":
        return num
    assert v.denominator is not None
    den = _number_of(v.denominator, text, memo)
    safe = pc.if_else(pc.greater(den, arrow.scalar(0)), den, arrow.scalar(None, pa.float64()))
    return pc.round(pc.multiply(pc.divide(num, safe), arrow.scalar(v.scale)), v.decimals)


def _suggest(mapping: Mapping, u: Unmapped) -> list[str]:
    derivation = mapping.derive.get(u.component)
    if derivation is not None:
        return suggest_answer(u.value, derivation.washington_group)
    spec = mapping.dimensions.get(u.component)
    if spec is None:
        return []
    labels = spec.labels()
    close = difflib.get_close_matches(normalise_label(u.value), list(labels), n=3, cutoff=0.5)
    return list(dict.fromkeys(labels[c] for c in close))


def _empty(dims: list[str], mapping: Mapping) -> pa.Table:
    names = [*dims, *mapping.attributes, "TIME_PERIOD"]
    schema = pa.schema(
        [(n, pa.string()) for n in names] + [("OBS_VALUE", pa.float64()), ("SOURCE_ROW", pa.int64())]
    )
    return schema.empty_table()


def iter_observations(h: Harmonised) -> Iterator[dict[str, Any]]:
    """Observations as dicts (for small outputs and tests; writers stream columns)."""
    yield from h.table.to_pylist()
