"""Column-wise text assembly shared by the streaming writers (SDMX-CSV, SDMX-ML, SDMX-JSON).

The writers never build a Python object per observation: each batch's output text is made
with Arrow string kernels (one string per row) and the batch's string buffer is written as it
is. This module holds the pieces every writer needs, in the order a writer uses them:

- :func:`as_text`: a column as SDMX text, :func:`constant_text` when it has one value only;
- :func:`layout`: which dimensions key the series and which the observations
  (``dimensionAtObservation``), and :func:`series_rows` (one row per series, for
  ``detail=serieskeysonly|nodata``);
- :func:`sorted_batches`: the table in series-key and period order, a batch at a time;
- :func:`series_boundaries`: where a new series starts in a sorted batch;
- :func:`join`: element-wise concatenation of columns and literals;
- :func:`between`: a separator (or a closing tag) before every row but the message's first;
- :func:`write_strings`: a string array's characters straight to the output.

Example:
    >>> import io
    >>> import pyarrow as pa
    >>> out = io.BytesIO()
    >>> write_strings(out, join(["<Obs v=\\"", pa.array(["1", "2"]), "\\"/>\\n"]))
    >>> out.getvalue()
    b'<Obs v="1"/>\\n<Obs v="2"/>\\n'
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_

if TYPE_CHECKING:
    from cgd_bridge.sdmx.target import Target

BATCH = 100_000
"""Observations per written batch: bounds the memory a writer holds beyond its input table."""


TIME = "TIME_PERIOD"
ALL_DIMENSIONS = "AllDimensions"
DETAILS = ("full", "dataonly", "serieskeysonly", "nodata")
"""The ``detail`` options of SDMX REST data queries: all, no attributes, series keys only,
series keys with their series-level attributes (the last two without observations)."""
SERIES_ONLY = ("serieskeysonly", "nodata")


@dataclass(frozen=True)
class Layout:
    """How a message is organised: the dimensions of the series key and of the observation.

    Attributes:
        at: the ``dimensionAtObservation``, e.g. ``TIME_PERIOD``, ``REF_AREA`` or ``AllDimensions``.
        series: the series-key dimensions in DSD order, e.g. ``("FREQ", "REF_AREA", "SEX")``;
            empty for ``AllDimensions`` (a flat message: observations without series).
        obs: the dimensions that tell the observations of a series apart, e.g. ``("TIME_PERIOD",)``;
            every dimension for ``AllDimensions``.
    """

    at: str
    series: tuple[str, ...]
    obs: tuple[str, ...]

    @property
    def flat(self) -> bool:
        """No series: every observation carries its whole key."""
        return not self.series

    @property
    def order(self) -> tuple[str, ...]:
        """The sort order of the observations: by series key, then within the series."""
        return (*self.series, *self.obs)


def layout(target: Target, dimension_at_observation: str = TIME) -> Layout:
    """The :class:`Layout` of ``dimensionAtObservation`` for the target's dimensions.

    >>> from cgd_bridge.sdmx.target import Target
    >>> t = Target("A", "DF", "1.0", ("FREQ", "REF_AREA"))
    >>> layout(t, "REF_AREA")
    Layout(at='REF_AREA', series=('FREQ', 'TIME_PERIOD'), obs=('REF_AREA',))
    >>> layout(t, "AllDimensions").obs
    ('FREQ', 'REF_AREA', 'TIME_PERIOD')

    Raises:
        FormatError: the value names no dimension of the target.
    """
    dims = tuple(target.dimensions)
    if dimension_at_observation == TIME:
        return Layout(TIME, dims, (TIME,))
    if dimension_at_observation == ALL_DIMENSIONS:
        return Layout(ALL_DIMENSIONS, (), (*dims, TIME))
    if dimension_at_observation in dims:
        series = tuple(d for d in dims if d != dimension_at_observation)
        return Layout(dimension_at_observation, (*series, TIME), (dimension_at_observation,))
    raise FormatError(
        N_("dimensionAtObservation={dimension} is not a dimension of {structure}"),
        fix=N_("Use {time}, {all} or one of: {dims}."),
        params={
            "dimension": dimension_at_observation,
            "structure": target.ref,
            "time": TIME,
            "all": ALL_DIMENSIONS,
            "dims": ", ".join(dims),
        },
    )


def check_detail(detail: str, lay: Layout) -> bool:
    """Whether ``detail`` asks for series without observations; raises for what cannot be written.

    Raises:
        FormatError: an unknown ``detail``, or series-only details in a flat message (which
            has no series to list).
    """
    if detail not in DETAILS:
        raise FormatError(
            N_("detail={detail} is not an SDMX data detail"),
            fix=N_("Use one of: {names}."),
            params={"detail": detail, "names": ", ".join(DETAILS)},
        )
    if detail in SERIES_ONLY and lay.flat:
        raise FormatError(
            N_("detail={detail} lists series, and dimensionAtObservation={all} has none"),
            fix=N_("Ask for dimensionAtObservation={time} (or another dimension), or for detail=full."),
            params={"detail": detail, "all": ALL_DIMENSIONS, "time": TIME},
        )
    return detail in SERIES_ONLY


def time_series_only(title: str, dimension_at_observation: str) -> None:
    """Refuse another observation dimension than TIME_PERIOD in a time-series-only message.

    Raises:
        FormatError: ``dimension_at_observation`` is not TIME_PERIOD.
    """
    if dimension_at_observation != TIME:
        raise FormatError(
            N_("{format} has TIME_PERIOD at the observation, not dimensionAtObservation={dimension}"),
            fix=N_(
                "Leave dimensionAtObservation out (or use {time}), or ask for the format without "
                "'timeseries' (e.g. genericdata or structurespecificdata), which takes any dimension."
            ),
            params={"format": title, "dimension": dimension_at_observation, "time": TIME},
        )


def series_rows(table: pa.Table, keys: Sequence[str], attributes: Sequence[str] = ()) -> pa.Table:
    """One row per distinct series key (columns ``keys``), with each series' ``attributes``.

    An attribute's value is its first non-null value in the series (series attributes have
    one value per series). The rows are in no particular order: :func:`sorted_batches` sorts.

    >>> t = pa.table({"SEX": ["F", "F", "M"], "UNIT": ["PT", "PT", None], "TIME_PERIOD": ["1", "2", "1"]})
    >>> series_rows(t, ["SEX"], ["UNIT"]).sort_by("SEX").to_pylist()
    [{'SEX': 'F', 'UNIT': 'PT'}, {'SEX': 'M', 'UNIT': None}]
    """
    keys = [k for k in keys if k in table.column_names]
    attributes = [a for a in attributes if a in table.column_names and a not in keys]
    if not keys:
        return table.select(attributes).slice(0, min(table.num_rows, 1))
    grouped = table.select([*keys, *attributes]).group_by(keys, use_threads=False)
    out = grouped.aggregate([(a, "first") for a in attributes])
    return pa.table(
        [out[k] for k in keys] + [out[f"{a}_first"] for a in attributes], names=[*keys, *attributes]
    )


def shape(
    table: pa.Table, target: Target, detail: str, dimension_at_observation: str
) -> tuple[pa.Table, Layout, bool, list[str], list[str]]:
    """What a message writes: the table (one row per series when only series are asked for), its
    layout, whether it has observations, and the attributes on series and on observations.

    An attribute the DSD attaches to the series key (:attr:`Target.series_attributes`) goes on
    ``Series`` when TIME_PERIOD is at the observation; with another dimension (or all) at the
    observation it goes on ``Obs``, since such attributes relate to every dimension but time in
    the DSDs we serve (SDG, Kenya).
    """
    lay = layout(target, dimension_at_observation)
    series_only = check_detail(detail, lay)
    have = set(table.column_names)  # column_names builds a new list on every access
    attrs = [a for a in target.attributes if a in have]
    if detail in ("dataonly", "serieskeysonly"):
        attrs = []
    on_series = [a for a in attrs if a in target.series_attributes] if lay.at == TIME else []
    on_obs = [] if series_only else [a for a in attrs if a not in on_series]
    if series_only:
        return series_rows(table, lay.series, on_series), lay, False, on_series, []
    # only what is written is sorted and taken (not SOURCE_ROW and the like)
    keep = [*target.dimensions, TIME, "OBS_VALUE", *on_series, *on_obs]
    return table.select([c for c in keep if c in have]), lay, True, on_series, on_obs


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A column as SDMX text: numbers in their shortest form, nulls stay null.

    >>> as_text(pa.array([57.5, None, 100.0])).to_pylist()
    ['57.5', None, '100']
    """
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return column.cast(pa.string())


def join(parts: Sequence[pa.Array | pa.ChunkedArray | str], rows: int | None = None) -> pa.Array:
    """Concatenate string columns and literals element-wise.

    A null in any column makes the row null, so callers fill or mask nulls first. When every
    part is a literal, ``rows`` says how many rows to make.

    >>> join(["<", pa.array(["a", "b"]), ">"]).to_pylist()
    ['<a>', '<b>']
    >>> join(["<", "a", ">"], rows=2).to_pylist()
    ['<a>', '<a>']
    """
    if all(isinstance(p, str) for p in parts):
        if rows is None:
            raise ValueError("join() of literals only needs rows=")
        return pa.repeat(pa.scalar("".join(str(p) for p in parts), pa.string()), rows)
    return pc.binary_join_element_wise(*parts, "")


def between(n: int, first: bool, text: str) -> pa.Array:
    """``text`` per row of ``n``, empty for row 0 when it is the message's first (``first``):
    the separator, or the closing tag of the previous series, that goes before each row.

    >>> between(3, True, ",").to_pylist(), between(2, False, ",").to_pylist()
    (['', ',', ','], [',', ','])
    """
    starts = np.zeros(n, dtype=bool)
    starts[:1] = first
    return pc.if_else(pa.array(starts), "", text)


def write_strings(out: BinaryIO, lines: pa.Array) -> None:
    """Write the concatenation of a string array's values straight from its buffer.

    No Python string is made: the bytes between the first and the last offset of the
    (non-null) array are handed to ``out.write`` as a memoryview.
    """
    lines = pa.concat_arrays([lines]) if lines.offset else lines
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1)
    data = lines.buffers()[2]
    if data is not None and offsets[-1] > offsets[0]:
        out.write(memoryview(data)[offsets[0] : offsets[-1]])


def constant_text(column: pa.ChunkedArray | pa.Array) -> str | None:
    """The text of a column's only value when every row has that one value, else None.

    Harmonised tables have many such columns (FREQ, SERIES, the ``_T`` breakdowns, a fixed
    UNIT_MEASURE or COMMENT_OBS): writers make their text once instead of once per row.

    >>> constant_text(pa.array(["_T", "_T"])), constant_text(pa.array(["F", "M"]))
    ('_T', None)
    """
    if len(column) == 0 or column.null_count:
        return None
    if not (pa.types.is_string(column.type) or pa.types.is_integer(column.type)):
        return None  # measures (floats) and other types vary, and their text needs a cast
    first = column[0]
    if not pc.all(pc.equal(column, first)).as_py():
        return None
    return str(as_text(arrow.array([first.as_py()], column.type))[0].as_py())  # pa.array imports pandas


def constant_columns(table: pa.Table, columns: Iterable[str] | None = None) -> dict[str, str]:
    """The columns (of ``columns``, default all) with one value in every row, and that value's text.

    >>> constant_columns(pa.table({"FREQ": ["A", "A"], "SEX": ["F", "M"]}))
    {'FREQ': 'A'}
    """
    out = {}
    for c in table.column_names if columns is None else columns:
        value = constant_text(table[c]) if c in table.column_names else None
        if value is not None:
            out[c] = value
    return out


def sorted_batches(
    table: pa.Table,
    target: Target,
    constant: Container[str] | None = None,
    order: Sequence[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The table's rows in series-key and period order, :data:`BATCH` rows at a time.

    Only the sort order (8 bytes a row) is held; each batch is taken from the table as it is
    written, so memory does not grow with a second copy of the table. Columns with one value
    in every row (``constant``, found with :func:`constant_columns` unless given) are left out
    of the sort and sliced, not taken (every slice is the same). ``order`` is the sort order
    (default: the target's dimensions, then TIME_PERIOD; :attr:`Layout.order` for another
    dimension at the observation).
    """
    if constant is None:
        constant = constant_columns(table)
    keys = [
        (c, "ascending")
        for c in (order if order is not None else (*target.dimensions, TIME))
        if c in table.column_names and c not in constant
    ]
    if not keys:
        yield from table.to_batches(max_chunksize=BATCH)
        return
    rows = _sort_order(table, [k for k, _ in keys])
    varying = [c for c in table.column_names if c not in constant]
    for start in range(0, len(rows), BATCH):
        taken = table.select(varying).take(rows.slice(start, BATCH))
        n = taken.num_rows
        columns = [taken[c] if c not in constant else table[c].slice(start, n) for c in table.column_names]
        yield from pa.table(columns, names=table.column_names).combine_chunks().to_batches()


def _sort_order(table: pa.Table, keys: list[str]) -> pa.Array:
    """Row indices that sort ``table`` by ``keys`` (ascending, nulls last, stable).

    The same order as ``pc.sort_indices``, found faster: each key column is dictionary-encoded
    (one hash pass), its few distinct values are sorted, and the rows' ranks are combined into
    one integer per row, which numpy sorts. When the ranks do not fit in 63 bits, Arrow's
    multi-key sort does it.
    """
    composite = np.zeros(table.num_rows, dtype=np.int64)
    span = 1
    for k in keys:
        encoded = pc.dictionary_encode(table[k].combine_chunks())
        values = encoded.dictionary
        span *= len(values) + 1
        if span >= 2**62:
            return pc.sort_indices(table.select(keys), sort_keys=[(k, "ascending") for k in keys])
        rank = np.empty(len(values) + 1, dtype=np.int64)
        rank[arrow.to_numpy(pc.sort_indices(values))] = np.arange(len(values))
        rank[len(values)] = len(values)  # null: after every value
        positions = arrow.to_numpy(arrow.fill_null(encoded.indices, len(values)), np.int64)
        composite = composite * (len(values) + 1) + rank[positions]
    return arrow.array(np.argsort(composite, kind="stable"))


def series_boundaries(
    batch: pa.RecordBatch,
    target: Target,
    previous: str | None,
    constant: Container[str] = (),
    key: Sequence[str] | None = None,
) -> tuple[pa.Array, str | None]:
    """Per row of a sorted batch: does a new series start here?

    Args:
        batch: rows in series-key order (from :func:`sorted_batches`).
        target: names the dimensions that make the series key.
        previous: the last series key of the batch before (None for the first batch).
        constant: dimensions with one value in the whole table, which cannot start a series
            (leave them out of the comparison); the same for every batch of a table.
        key: the series-key dimensions (default the target's; :attr:`Layout.series`).

    Returns:
        A boolean array (True where the key differs from the row before) and this batch's
        last key, to pass as ``previous`` with the next batch.
    """
    dims = [d for d in (target.dimensions if key is None else key) if d not in constant]
    if dims:
        # \x1f (unit separator) cannot occur in SDMX codes, so keys never run together
        keys = pc.binary_join_element_wise(
            *[pc.fill_null(as_text(batch.column(d)), "") for d in dims], "\x1f"
        )
    else:
        keys = pa.repeat(pa.scalar("", pa.string()), batch.num_rows)
    shifted = pa.concat_arrays([pa.array([previous], pa.string()), keys.slice(0, len(keys) - 1)])
    new = pc.fill_null(pc.not_equal(keys, shifted), True)
    return new, (keys[len(keys) - 1].as_py() if len(keys) else previous)
