"""SDMX-CSV 1.0 and 2.0 data, written by pyarrow's CSV writer a batch at a time.

1.0: ``DATAFLOW,<dimensions>,TIME_PERIOD,OBS_VALUE,<attributes>`` with ``AGENCY:ID(VERSION)``.
2.0: ``STRUCTURE,STRUCTURE_ID,ACTION,<dimensions>,TIME_PERIOD,OBS_VALUE,<attributes>`` with
``dataflow``, ``AGENCY:ID(VERSION)`` and ``I`` (information).

The ``labels`` option (the SDMX-CSV field guides' ``labels=id|name|both``) adds names:

- ``id`` (default): IDs and values only.
- ``both``: headers ``ID: Name`` (the component's concept name), coded values ``CODE: Name``
  (the code's name in its codelist); non-coded values (TIME_PERIOD, OBS_VALUE, free text)
  stay as they are. In 2.0, STRUCTURE_ID becomes ``AGENCY:ID(VERSION): Name``; in 1.0 the
  DATAFLOW column keeps the bare reference.
- ``name`` (2.0 only): a ``STRUCTURE_NAME`` column after STRUCTURE_ID, and after each
  component's ID column a column headed by its concept name with the code's name (empty for
  values that have no name).

The SDMX-CSV 2.0 field guide's other two options apply to both versions:

- ``keys`` (``none`` by default): ``series`` adds a ``SERIES_KEY`` column (the values of the
  dimensions of the series key, DSD order, ``.``-separated: every dimension but the one(s) at
  the observation), ``obs`` an ``OBS_KEY`` column (every dimension, TIME_PERIOD last), ``both``
  both in that order; after ACTION in 2.0, after DATAFLOW in 1.0 (which has no ACTION). Keys are
  IDs whatever ``labels`` and ``timeFormat`` say; series rows (``detail=serieskeysonly|nodata``)
  have no observation, so an empty OBS_KEY.
- ``timeFormat`` (``original`` by default): ``normalized`` writes each TIME_PERIOD as the ISO
  8601 date its period starts on (``2014`` -> ``2014-01-01``, ``2014-Q2`` -> ``2014-04-01``,
  ``2014-06`` -> ``2014-06-01``; the guide's example 5); our DSDs carry no collection moment, so
  the start is taken. Dates and date-times stay as they are; a value that is no SDMX period too.

Names come from :attr:`Target.names` and :attr:`Target.concepts`; a code or component
without a known name is written by its ID alone. Codes are turned into names per batch with
one ``index_in`` and one ``take`` per column, never per row.

Example:
    >>> import io, pyarrow as pa
    >>> t = Target("A", "DF", "1.0", ("SEX",), names={"SEX": {"F": "Female"}}, concepts={"SEX": "Sex"})
    >>> table = pa.table({"SEX": ["F"], "TIME_PERIOD": ["2024"], "OBS_VALUE": [1.5]})
    >>> out = io.BytesIO()
    >>> write_csv20(table, t, out, labels="both")
    1
    >>> print(out.getvalue().decode().replace('"', ""))
    STRUCTURE,STRUCTURE_ID,ACTION,SEX: Sex,TIME_PERIOD,OBS_VALUE
    dataflow,A:DF(1.0),I,F: Female,2024,1.5
    <BLANKLINE>
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from cgd_bridge import arrow
from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.formats import LABELS
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write._text import TIME, as_text, join, layout, shape

TIME_FORMATS = ("original", "normalized")
"""SDMX-CSV ``timeFormat``: TIME_PERIOD as recorded, or as the ISO 8601 date it starts on."""
KEYS = ("none", "obs", "series", "both")
"""SDMX-CSV ``keys``: no key column, OBS_KEY, SERIES_KEY, or both (SERIES_KEY first)."""

__all__ = ["as_text", "indexed_csv", "observation_columns", "write_csv10", "write_csv20"]

#: Answers of at most this many rows are joined into lines in Python (:func:`_write_small`).
SMALL_ROWS = 200
#: Rows turned into text and written at a time: the text of 16,384 rows (about 6 MB) stays in the
#: CPU's caches better than the shared :data:`BATCH` (100,000 rows, 38 MB), which made writing
#: SDMX-CSV a quarter slower, and a streamed answer's first bytes leave sooner.
CSV_BATCH = 16_384


def observation_columns(target: Target, table: pa.Table | Collection[str]) -> list[str]:
    """The component columns in SDMX order that the table (or a set of column names) has."""
    wanted = [*target.dimensions, "TIME_PERIOD", "OBS_VALUE", *target.attributes]
    # column_names builds a new list on every access
    have = set(table.column_names) if isinstance(table, pa.Table) else table
    return [c for c in wanted if c in have]


def _both(coded: _CodeNames, ids: Callable[[pa.RecordBatch], pa.Array], batch: pa.RecordBatch) -> pa.Array:
    return coded.both(ids(batch))


def _name(coded: _CodeNames, ids: Callable[[pa.RecordBatch], pa.Array], batch: pa.RecordBatch) -> pa.Array:
    return coded.name(ids(batch))


@dataclass(frozen=True)
class _Column:
    """One output column: its header and how to make its text from a batch."""

    header: str
    text: Callable[[pa.RecordBatch], pa.Array]


class _CodeNames:
    """The names of one component's codes as two aligned Arrow arrays, for vectorised lookups."""

    def __init__(self, names: dict[str, str]) -> None:
        self.codes = pa.array(list(names), pa.string())
        self.names = pa.array(list(names.values()), pa.string())

    def name(self, values: pa.Array) -> pa.Array:
        """Each value's name; null where the value is null or has no name."""
        return pc.take(self.names, pc.index_in(values, value_set=self.codes))

    def both(self, values: pa.Array) -> pa.Array:
        """``CODE: Name`` where the code has a name, else the value as it is."""
        name = self.name(values)
        return pc.if_else(pc.is_valid(name), join([values, ": ", name]), values)


def _plan(target: Target, names: list[str], labels: str, time_format: str = "original") -> list[_Column]:
    """The component columns for ``labels`` (two per component with ``name``) and ``timeFormat``."""
    columns: list[_Column] = []
    used = set(names)
    for c in names:
        concept = target.concepts.get(c, "")
        coded = _CodeNames(target.names[c]) if target.names.get(c) else None

        def ids(batch: pa.RecordBatch, c: str = c) -> pa.Array:
            if c == TIME and time_format == "normalized":
                return normalized(as_text(batch.column(c)))
            return as_text(batch.column(c))

        if labels == "both":
            header = f"{c}: {concept}" if concept else c
            if coded is not None:
                columns.append(_Column(header, functools.partial(_both, coded, ids)))
            else:
                columns.append(_Column(header, ids))
            continue
        columns.append(_Column(c, ids))
        if labels == "name":
            header = concept if concept and concept not in used else f"{c} name"
            used.add(header)
            if coded is not None:
                columns.append(_Column(header, functools.partial(_name, coded, ids)))
            else:
                columns.append(_Column(header, lambda b: pa.nulls(b.num_rows, pa.string())))
    return columns


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{2})|([AQSTMWD])(\d{1,3})))?$")
_MONTHS_PER = {"A": 12, "S": 6, "T": 4, "Q": 3, "M": 1}


def period_start(period: str) -> str:
    """The ISO 8601 date an SDMX time period starts on; the value as it is when it is a date, a
    date-time or no SDMX period.

    >>> [period_start(p) for p in ("2014", "2014-Q2", "2014-06", "2014-S2", "2014-W02", "2014-D032")]
    ['2014-01-01', '2014-04-01', '2014-06-01', '2014-07-01', '2014-01-06', '2014-02-01']
    """
    m = _PERIOD.match(period.strip())
    if not m:
        return period  # a date, a date-time, a range, or not a period: left as recorded
    year = int(m.group(1))
    try:
        if m.group(2):
            return dt.date(year, int(m.group(2)), 1).isoformat()
        kind, number = m.group(3), int(m.group(4) or 1)
        if kind is None:
            return dt.date(year, 1, 1).isoformat()
        if kind in _MONTHS_PER:
            if number < 1 or (number - 1) * _MONTHS_PER[kind] >= 12:
                return period
            return dt.date(year, (number - 1) * _MONTHS_PER[kind] + 1, 1).isoformat()
        if kind == "W":
            return dt.date.fromisocalendar(year, number, 1).isoformat()
        return (dt.date(year, 1, 1) + dt.timedelta(days=number - 1)).isoformat()  # D
    except ValueError:
        return period


def normalized(values: pa.Array) -> pa.Array:
    """:func:`period_start` of every value, computed once per distinct period (a table has few)."""
    distinct = pc.unique(values)
    starts = pa.array([None if v is None else period_start(v) for v in distinct.to_pylist()], pa.string())
    return pc.take(starts, pc.index_in(values, value_set=distinct))


def _key_column(name: str, dims: tuple[str, ...]) -> _Column:
    """``SERIES_KEY``/``OBS_KEY``: the IDs of ``dims`` joined by ``.`` (empty when none, or when a
    dimension is missing: the series rows of ``detail=serieskeysonly|nodata`` have no period)."""

    def text(batch: pa.RecordBatch) -> pa.Array:
        have = batch.schema.names
        if not dims or any(d not in have for d in dims):
            return pa.repeat(pa.scalar(None, pa.string()), batch.num_rows)
        parts = [pc.fill_null(as_text(batch.column(d)), "") for d in dims]
        return parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, ".")

    return _Column(name, text)


def _key_columns(target: Target, keys: str, dimension_at_observation: str, has_obs: bool) -> list[_Column]:
    if keys not in KEYS:
        raise FormatError(
            N_("SDMX-CSV has no keys='{keys}'"),
            fix=N_("Use one of: {names}."),
            params={"keys": keys, "names": ", ".join(KEYS)},
        )
    # series rows are the series of TIME_PERIOD at the observation (_shaped), whatever was asked
    series = layout(target, dimension_at_observation if has_obs else TIME).series
    out = []
    if keys in ("series", "both"):
        out.append(_key_column("SERIES_KEY", series))
    if keys in ("obs", "both"):
        out.append(_key_column("OBS_KEY", (*target.dimensions, TIME)))
    return out


def _check_labels(labels: str, allowed: tuple[str, ...], title: str) -> None:
    if labels not in allowed:
        raise FormatError(
            N_("{format} has no labels='{labels}'"),
            fix=N_("Use one of: {names}."),
            params={"format": title, "labels": labels, "names": ", ".join(allowed)},
        )


def _shaped(table: pa.Table, target: Target, detail: str, dimension_at_observation: str) -> pa.Table:
    """The rows ``detail`` asks for: the observations, or one row per series (sorted by key).

    SDMX-CSV is flat whatever the observation dimension (which must still name one).
    """
    layout(target, dimension_at_observation)
    shaped, lay, has_obs, _, _ = shape(table, target, detail, TIME)
    if has_obs:
        return shaped
    return shaped.sort_by([(d, "ascending") for d in lay.series if d in shaped.column_names])


def _write(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    lead: list[tuple[str, str]],
    labels: str,
    detail: str = "full",
    dimension_at_observation: str = TIME,
    time_format: str = "original",
    keys: str = "none",
) -> int:
    if time_format not in TIME_FORMATS:
        raise FormatError(
            N_("SDMX-CSV has no timeFormat='{time_format}'"),
            fix=N_("Use one of: {names}."),
            params={"time_format": time_format, "names": ", ".join(TIME_FORMATS)},
        )
    table = _shaped(table, target, detail, dimension_at_observation)
    names = observation_columns(target, table)
    key_columns = _key_columns(target, keys, dimension_at_observation, TIME in table.column_names)
    columns = key_columns + _plan(target, names, labels, time_format)
    selected = table.select(names)
    if selected.num_rows <= SMALL_ROWS:
        return _write_small(selected, columns, lead, out)
    schema = pa.schema([(k, pa.string()) for k, _ in lead] + [(c.header, pa.string()) for c in columns])
    options = pa_csv.WriteOptions(include_header=True, quoting_style="needed", batch_size=CSV_BATCH)
    with pa_csv.CSVWriter(out, schema, write_options=options) as writer:
        for batch in selected.to_batches(max_chunksize=CSV_BATCH):
            # the constant lead columns are made per batch, never for the whole table
            arrays = [pa.repeat(arrow.scalar(v, pa.string()), batch.num_rows) for _, v in lead]  # no pandas
            arrays += [c.text(batch) for c in columns]
            writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return table.num_rows


def _quoted(value: str | None) -> str:
    # what pyarrow's quoting_style="needed" writes for a string column: null empty, text quoted
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def _write_small(table: pa.Table, columns: list[_Column], lead: list[tuple[str, str]], out: BinaryIO) -> int:
    """A few rows, byte for byte as the Arrow writer writes them, without its fixed cost.

    The cells are the same Arrow text columns (:func:`_plan`); only the joining into lines is
    done here, which for a one-series answer costs a fraction of setting up a ``CSVWriter``
    (tests/unit/sdmx/test_sdmx_csv_small.py checks that both give the same bytes).
    """
    batch = table.combine_chunks().to_batches()
    n = table.num_rows
    head = ",".join(_quoted(h) for h in [*(k for k, _ in lead), *(c.header for c in columns)])
    cells = [[_quoted(v)] * n for _, v in lead]
    if batch:
        # a few series repeat most cells (their key, the attributes): each text is quoted once
        seen: dict[str | None, str] = {}
        for c in columns:
            values = c.text(batch[0]).to_pylist()
            cells.append([seen[v] if v in seen else seen.setdefault(v, _quoted(v)) for v in values])
    lines = [head, *(",".join(row) for row in zip(*cells, strict=True))] if n else [head]
    out.write(("\n".join(lines) + "\n").encode())
    return n


def indexed_csv(
    name: str,
    target: Target,
    columns: Collection[str],
    cells: Callable[[str, Callable[[str | None], str]], list[str]],
    rows: int,
    *,
    detail: str = "full",
) -> bytes | None:
    """SDMX-CSV ``name`` (``sdmx-csv-1.0``/``-2.0``) of ``rows`` observations whose cells are
    looked up rather than taken from a table: ``cells(column, quote)`` gives the column's cells
    for those rows, each passed through ``quote``; ``columns`` are the columns there are.

    The same bytes as :func:`write_csv10`/:func:`write_csv20` with ``labels=id``,
    ``timeFormat=original``, ``keys=none`` would write for the rows as a table (the server
    answers one-series queries so, from its key index: no ``take`` of every column, no Arrow
    call per column; tests/unit/server/test_sdmx_small_answers.py compares both). None for any
    other format or a ``detail`` without observations (the caller writes those the usual way).

    Example:
        >>> t = Target("A", "DF", "1.0", ("SEX",))
        >>> got = {"SEX": ["F"], "TIME_PERIOD": ["2024"], "OBS_VALUE": ["1.5"]}
        >>> indexed_csv("sdmx-csv-1.0", t, got, lambda c, quote: [quote(v) for v in got[c]], 1)
        b'"DATAFLOW","SEX","TIME_PERIOD","OBS_VALUE"\n"A:DF(1.0)","F","2024","1.5"\n'
    """
    if name not in _LEADS or detail not in ("full", "dataonly"):
        return None
    lead = _LEADS[name](target, "id")
    names = observation_columns(target, columns)
    if detail == "dataonly":
        names = [c for c in names if c not in target.attributes]
    head = ",".join(_quoted(h) for h in [*(k for k, _ in lead), *names])
    table = [[_quoted(v)] * rows for _, v in lead]
    table += [cells(c, _quoted) for c in names]
    lines = [head, *(",".join(row) for row in zip(*table, strict=True))]
    return ("\n".join(lines) + "\n").encode()


def _lead10(target: Target, labels: str) -> list[tuple[str, str]]:
    return [("DATAFLOW", target.ref)]


def _lead20(target: Target, labels: str) -> list[tuple[str, str]]:
    structure_id = f"{target.ref}: {target.name}" if labels == "both" and target.name else target.ref
    lead = [("STRUCTURE", "dataflow"), ("STRUCTURE_ID", structure_id)]
    if labels == "name":
        lead.append(("STRUCTURE_NAME", target.name))
    lead.append(("ACTION", "I"))
    return lead


_LEADS = {"sdmx-csv-1.0": _lead10, "sdmx-csv-2.0": _lead20}


def write_csv10(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    labels: str = "id",
    detail: str = "full",
    dimension_at_observation: str = TIME,
    time_format: str = "original",
    keys: str = "none",
) -> int:
    """SDMX-CSV 1.0 (``labels`` ``id`` or ``both``; 1.0 has no ``name``).

    ``detail=serieskeysonly|nodata`` writes one row per series (its key; with ``nodata`` also
    its series attributes), without TIME_PERIOD and OBS_VALUE; ``dataonly`` no attributes.
    ``time_format`` and ``keys`` as the module says (the 2.0 field guide's options).
    """
    _check_labels(labels, ("id", "both"), "SDMX-CSV 1.0")
    lead = _lead10(target, labels)
    return _write(table, target, out, lead, labels, detail, dimension_at_observation, time_format, keys)


def write_csv20(
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    labels: str = "id",
    detail: str = "full",
    dimension_at_observation: str = TIME,
    time_format: str = "original",
    keys: str = "none",
) -> int:
    """SDMX-CSV 2.0 (``labels`` ``id``, ``name`` or ``both``; the other options as for 1.0)."""
    _check_labels(labels, LABELS, "SDMX-CSV 2.0")
    lead = _lead20(target, labels)
    return _write(table, target, out, lead, labels, detail, dimension_at_observation, time_format, keys)
