"""Charts of a series by its disaggregations, as inline SVG drawn on the server (no JS library).

:func:`series_charts` takes observations (an Arrow table with the dimensions, ``TIME_PERIOD``
and ``OBS_VALUE``, and ``UNIT_MEASURE`` when the data has it) and returns one :class:`Chart`
per ``SERIES`` (at most :data:`MAX_CHARTS`):

- the dimensions that vary are split into *shown* ones (lines or bars; disability status, sex
  and age first, at most :data:`MAX_GROUPS` combinations) and *fixed* ones, set to their total
  (``_T``) when the data has it, else to their first code; the chart says which;
- several periods give a line chart over time, one period a bar chart;
- what is drawn is named, not coded: lines, bars and the legend show the code *names*; the codes
  are in each mark's ``<title>`` (a tooltip) and in the table of :attr:`Chart.rows`;
- the colour means the first shown dimension (every bar or line of "Persons with disability"
  has one colour), the dash and the marker the second, so colour is never the only cue;
- the axis carries the unit of ``UNIT_MEASURE`` (a percentage is written with ``%`` and its
  axis ends at 100 when the values allow);
- official series (:class:`Official`, loaded by an NSO) are drawn in the same chart: the
  official observations of the same SERIES, matched on each dimension at the CGD code, else at
  the official total ``_T`` (where the official data is not disaggregated by it), else at its
  one code (e.g. ``REPORTING_TYPE`` G against the CGD's N), which the chart names
  (:attr:`Chart.official_notes`). They have their own style, not only their own colour: dotted
  dark-grey lines with hollow markers, or hatched bars, each bar right below the CGD bar it
  matches; "Official" in the legend, the bar labels and the table;
- a code that is easily misread gets a note shown with the chart (:data:`MISREAD`: in the SDG
  codelist ``PWD`` is persons *without* disability).

**Text never shrinks.** The SVG has no ``viewBox``: its horizontal positions are percentages
of its width and its vertical ones pixels, so it fills any width (a 320 px phone or a desktop)
with its text at the size the style sheet sets (12-13 px), never scaled down. Lines are drawn in
a nested SVG that stretches (``preserveAspectRatio="none"``) with strokes that do not
(``vector-effect``). :func:`standalone_svg` gives the same chart as a file (a fixed width, its
style inside), :func:`chart_png` that file as a PNG (drawn by resvg, at :data:`PNG_ZOOM` times
its size) and :func:`chart_csv` the numbers behind it.

**Small multiples.** With ``by`` (a dimension the person picks), each chart is split into one
small chart per code of that dimension (:attr:`Chart.panels`, at most :data:`MAX_PANELS`), all
on one value scale (and, over time, one period axis) and with one meaning of colour, so that
they can be compared at a glance; on the page they stack on a phone and sit side by side on a
desktop, their text at the size of any other chart.

Colours have at least 3:1 contrast on white (WCAG 1.4.11).
"""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.errors import Unavailable
from cgd_bridge.i18n import ENGLISH, N_, Translator

MAX_CHARTS = 4
MAX_GROUPS = 9
#: the most small charts one chart is split into (the filter chooses others)
MAX_PANELS = 12
PREFERRED = ("DISABILITY_STATUS", "SEX", "AGE")
LAST = ("REF_AREA",)
COLOURS = ("#0072B2", "#C34A00", "#007A5E", "#AA3377", "#1B1B1B", "#8C510A", "#5E3C99", "#B2182B", "#01665E")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "12 4", "4 2 1 2", "1 2", "10 2 2 2 2 2", "3 3")
MARKERS = ("circle", "square", "triangle", "diamond", "circle", "square", "triangle", "diamond", "square")
OFFICIAL_COLOUR = "#4D4D4D"  # 8:1 on white
OFFICIAL_DASH = "1 5"
OFFICIAL_STROKE = f'stroke-width="3" stroke-linecap="round" stroke-dasharray="{OFFICIAL_DASH}"'
OFFICIAL_MARKERS = ("circle", "square", "triangle", "diamond")
#: the width of a downloaded chart (on the page the chart takes the width it is given)
FILE_WIDTH = 720
LINE_PLOT = 260  # pixels of the plot area of a line chart
PANEL_PLOT = 150  # ... of a small chart's
#: a downloaded chart as PNG: the SVG file drawn at this zoom (1440 px wide: sharp on phones, in print)
PNG_ZOOM = 2
#: the fonts of the chart's text, in order; the PNG takes the first the server has (resvg),
#: and the glyphs it lacks (Devanagari, Bengali) from any other installed font that has them
FONTS = (
    "system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','DejaVu Sans','Liberation Sans',Arial,sans-serif"
)
TOP, AXIS = 28, 40
LINE_TOP = 44  # the unit's title, then the top tick's number above its grid line
LEGEND_ROW = 22
BAR, BAR_ROW = 16, 44
#: the smallest text of a chart, in CSS pixels (the browser test holds it)
MIN_TEXT_PX = 12
STYLE = (
    ".grid{stroke:#d0d0d0;stroke-width:1}.axis{stroke:#6b6b6b;stroke-width:1}"
    f".tick,.value{{font-size:{MIN_TEXT_PX}px;fill:#1b1b1b}}"
    ".tick{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}"
    ".label{font-size:13px;fill:#1b1b1b}"
    ".unit{font-size:13px;font-weight:600;fill:#1b1b1b}"
    ".heading{font-size:14px;font-weight:700;fill:#1b1b1b}"
    f"text{{font-family:{FONTS}}}"
)
PERCENT_CODES = frozenset({"PT", "PC", "PCT", "PERCENT", "PER_CENT"})
#: codes whose meaning is easily misread: ``(dimension, code) -> note``
MISREAD = {
    ("DISABILITY_STATUS", "PWD"): N_(
        "Read the codes with care: in the SDG codelist PWD means persons WITHOUT disability, and PD "
        "persons with disability."
    ),
}


class Point(NamedTuple):
    """One value of a chart.

    Attributes:
        label: the names of the shown dimensions' codes, e.g. ``Persons with disability, Female``.
        period: the ``TIME_PERIOD``.
        value: the value (None: suppressed, or no value).
        codes: the shown dimensions' codes, ``(("DISABILITY_STATUS", "PD"), ("SEX", "F"))``.
        source: ``""`` for the CGD; the official series' source label otherwise.
        code_names: the names of ``codes``, in the same order.
    """

    label: str
    period: str
    value: float | None
    codes: tuple[tuple[str, str], ...] = ()
    source: str = ""
    code_names: tuple[str, ...] = ()

    @property
    def code_text(self) -> str:
        return ", ".join(c for _, c in self.codes)


@dataclass
class Chart:
    """One chart: its SVG and the numbers behind it.

    Attributes:
        title: the SERIES name, e.g. ``Proportion of population satisfied ...``.
        code: the SERIES code (``""`` without a SERIES dimension).
        fixed: the dimensions held at one code, ``[(concept, code name)]``.
        shown: the dimensions the lines or bars stand for (their concept names).
        shown_ids: their ids, in the same order.
        rows: the CGD values; ``official_rows`` the official ones (``Point.source`` set).
        unit: the unit's name (``Percent``), ``unit_code`` its code (``PT``), ``percent`` if it is one.
        notes: texts shown with the chart where a code is easily misread (:data:`MISREAD`).
        svg: the inline SVG markup (empty when the chart is split into ``panels``).
        by, by_id: the dimension the chart is split by (its concept name, its id), if any.
        panels: the small charts, one per code of ``by_id`` (each a :class:`Chart` whose
            ``heading`` is that code's name and ``code`` the code); ``panels_left`` those not drawn.
    """

    title: str
    code: str = ""
    fixed: list[tuple[str, str]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    shown_ids: list[str] = field(default_factory=list)
    rows: list[Point] = field(default_factory=list)
    svg: str = ""
    kind: str = "bar"
    official_rows: list[Point] = field(default_factory=list)
    official_notes: list[tuple[str, str, str]] = field(default_factory=list)
    unit: str = ""
    unit_code: str = ""
    percent: bool = False
    notes: list[str] = field(default_factory=list)
    desc: str = ""
    by: str = ""
    by_id: str = ""
    panels: list[Chart] = field(default_factory=list)
    panels_left: int = 0
    heading: str = ""

    @property
    def columns(self) -> list[str]:
        """The dimensions each row of :attr:`rows` is coded by: the split one first."""
        return [self.by_id, *self.shown_ids] if self.by_id else list(self.shown_ids)


@dataclass
class Official:
    """An official series to draw beside the CGD series.

    Attributes:
        label: the source, e.g. ``KNBS KDHS 2022``.
        table: its observations (dimensions, ``TIME_PERIOD``, ``OBS_VALUE``).
    """

    label: str
    table: pa.Table


def _name(names: Mapping[str, Mapping[str, str]], dim: str, code: str) -> str:
    """The name of a code (the code itself where the structures have none)."""
    return names.get(dim, {}).get(code) or code


def _pick_dims(table: pa.Table, dims: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The shown dimensions and the code each fixed one is held at."""
    varying = {d: sorted(str(x) for x in pc.unique(table[d]).to_pylist() if x is not None) for d in dims}
    varying = {d: codes for d, codes in varying.items() if len(codes) > 1}

    def rank(d: str) -> tuple[int, int, int]:
        pref = PREFERRED.index(d) if d in PREFERRED else len(PREFERRED)
        return (d in LAST, pref, len(varying[d]))

    shown: list[str] = []
    product = 1
    for d in sorted(varying, key=rank):
        if len(shown) < 2 and product * len(varying[d]) <= MAX_GROUPS:
            shown.append(d)
            product *= len(varying[d])
    fixed = {d: ("_T" if "_T" in codes else codes[0]) for d, codes in varying.items() if d not in shown}
    return shown, fixed


def _unit(part: pa.Table, names: Mapping[str, Mapping[str, str]]) -> tuple[str, str]:
    """The one ``UNIT_MEASURE`` code of ``part`` and its name (empty when none or several)."""
    if "UNIT_MEASURE" not in part.column_names:
        return "", ""
    units = [str(u) for u in pc.unique(part["UNIT_MEASURE"]).to_pylist() if u]
    if len(units) != 1:
        return "", ""
    return units[0], _name(names, "UNIT_MEASURE", units[0])


def _codes(table: pa.Table, dim: str) -> list[str]:
    """The codes of ``dim`` in ``table``, the total ``_T`` first."""
    found = {str(x) for x in pc.unique(table[dim]).to_pylist() if x is not None}
    return sorted(found, key=lambda c: (c != "_T", c))


def series_charts(
    table: pa.Table,
    dims: Sequence[str],
    *,
    names: Mapping[str, Mapping[str, str]] | None = None,
    concepts: Mapping[str, str] | None = None,
    id_prefix: str = "chart",
    official: Sequence[Official] = (),
    by: str | None = None,
    _: Translator = ENGLISH,
) -> list[Chart]:
    """One chart per SERIES of ``table``, with the matching official series, split into small
    charts by the dimension ``by`` where it varies (module docstring)."""
    names = names or {}
    concepts = concepts or {}
    needed = {"TIME_PERIOD", "OBS_VALUE"}
    if table.num_rows == 0 or not needed <= set(table.column_names):
        return []
    dims = [d for d in dims if d in table.column_names]
    series_dim = "SERIES" if "SERIES" in dims else None
    series = sorted(str(s) for s in pc.unique(table[series_dim]).to_pylist()) if series_dim else [""]
    charts = []
    for i, code in enumerate(series[:MAX_CHARTS]):
        part = table.filter(pc.equal(table[series_dim], code)) if series_dim else table
        others = [d for d in dims if d != series_dim]
        split = by if by in others and len(_codes(part, by)) > 1 else None
        shown, fixed = _pick_dims(part, [d for d in others if d != split])
        seen = {(d, str(c)) for d in others for c in pc.unique(part[d]).to_pylist()}
        for d, c in fixed.items():
            part = part.filter(pc.equal(part[d], c))
        unit_code, unit = _unit(part, names)
        chart = Chart(
            title=_name(names, series_dim, code) if series_dim else _("Observations"),
            code=code,
            fixed=[(concepts.get(d) or d, _name(names, d, c)) for d, c in fixed.items()],
            shown=[concepts.get(d) or d for d in shown],
            shown_ids=list(shown),
            unit=unit,
            unit_code=unit_code,
            percent=unit_code.upper() in PERCENT_CODES or unit.lower().startswith(("percent", "per cent")),
            notes=[_(note) for key, note in MISREAD.items() if key in seen],
            by=(concepts.get(split) or split) if split else "",
            by_id=split or "",
        )
        chart.rows = _rows(part, chart.columns, names, _)
        for o in official:
            _add_official(chart, o, part, series_dim, code, others, chart.columns, names, concepts, _)
        periods = sorted({p.period for p in chart.rows} | {p.period for p in chart.official_rows})
        chart.kind = "line" if len(periods) > 1 else "bar"
        svg_id = f"{id_prefix}-{i + 1}"
        if split:
            _split(chart, part, periods, svg_id, official, series_dim, others, names, concepts, _)
        else:
            chart.svg = (
                _line_svg(chart, periods, svg_id, _) if chart.kind == "line" else _bar_svg(chart, svg_id, _)
            )
        charts.append(chart)
    return charts


def _split(
    chart: Chart,
    part: pa.Table,
    periods: list[str],
    svg_id: str,
    official: Sequence[Official],
    series_dim: str | None,
    others: Sequence[str],
    names: Mapping[str, Mapping[str, str]],
    concepts: Mapping[str, str],
    _: Translator,
) -> None:
    """Split ``chart`` into one small chart per code of ``chart.by_id``: one value scale, one
    period axis and one meaning of each colour and dash for all of them."""
    codes = _codes(part, chart.by_id)
    chart.panels_left = max(0, len(codes) - MAX_PANELS)
    for code in codes[:MAX_PANELS]:
        heading = _name(names, chart.by_id, code)
        panel = Chart(
            title=_("{series}: {part}", series=chart.title, part=heading),
            code=code,
            heading=heading,
            shown=chart.shown,
            shown_ids=chart.shown_ids,
            unit=chart.unit,
            unit_code=chart.unit_code,
            percent=chart.percent,
            kind=chart.kind,
        )
        piece = part.filter(pc.equal(part[chart.by_id], code))
        panel.rows = _rows(piece, chart.shown_ids, names, _)
        for o in official:
            _add_official(
                panel, o, piece, series_dim, chart.code, others, chart.shown_ids, names, concepts, _
            )
        chart.panels.append(panel)
    values = [p.value for c in chart.panels for p in (*c.rows, *c.official_rows) if p.value is not None]
    scale_max = _scale(chart, max(values, default=1.0))
    styles = _styles(chart)
    for k, panel in enumerate(chart.panels):
        pid = f"{svg_id}-{k + 1}"
        panel.svg = (
            _line_svg(panel, periods, pid, _, scale_max=scale_max, styles=styles, plot=PANEL_PLOT)
            if chart.kind == "line"
            else _bar_svg(panel, pid, _, scale_max=scale_max, styles=styles)
        )


def _rows(
    part: pa.Table,
    shown: Sequence[str],
    names: Mapping[str, Mapping[str, str]],
    _: Translator,
    source: str = "",
) -> list[Point]:
    cols = {d: part[d].to_pylist() for d in shown}
    periods = part["TIME_PERIOD"].cast(pa.string()).to_pylist()
    values = part["OBS_VALUE"].to_pylist()
    out = []
    for j in range(part.num_rows):
        codes = tuple((d, str(cols[d][j])) for d in shown)
        named = tuple(_name(names, d, c) for d, c in codes)
        v = values[j]
        value = float(v) if v is not None else None
        out.append(Point(", ".join(named) or _("All"), str(periods[j]), value, codes, source, named))
    out.sort(key=lambda r: (r.codes, r.period))
    return out


def _official_part(
    official: pa.Table, part: pa.Table, series_dim: str | None, code: str, dims: Sequence[str]
) -> tuple[pa.Table | None, dict[str, str]]:
    """The official observations matching the CGD ``part``, and where they were matched at another code."""
    if series_dim is not None:
        if series_dim not in official.column_names:
            return None, {}
        official = official.filter(pc.equal(official[series_dim], code))
    notes: dict[str, str] = {}
    for d in dims:
        if official.num_rows == 0:
            return None, {}
        if d not in official.column_names:
            continue
        have = {str(x) for x in pc.unique(official[d]).to_pylist() if x is not None}
        wanted = {str(x) for x in pc.unique(part[d]).to_pylist() if x is not None}
        keep = have & wanted
        if not keep:
            other = "_T" if "_T" in have else (next(iter(have)) if len(have) == 1 else None)
            if other is None:
                return None, {}
            keep = {other}
            notes[d] = other
        official = official.filter(pc.is_in(official[d], value_set=pa.array(sorted(keep), type=pa.string())))
    return (official if official.num_rows else None), notes


def _add_official(
    chart: Chart,
    official: Official,
    part: pa.Table,
    series_dim: str | None,
    code: str,
    dims: Sequence[str],
    shown: Sequence[str],
    names: Mapping[str, Mapping[str, str]],
    concepts: Mapping[str, str],
    _: Translator,
) -> None:
    needed = {"TIME_PERIOD", "OBS_VALUE"}
    if not needed <= set(official.table.column_names):
        return
    table = official.table
    if table.schema.field("TIME_PERIOD").type != pa.string():
        table = table.set_column(
            table.column_names.index("TIME_PERIOD"), "TIME_PERIOD", table["TIME_PERIOD"].cast(pa.string())
        )
    matched, notes = _official_part(table, part, series_dim, code, dims)
    if matched is None:
        return
    present = [d for d in shown if d in matched.column_names]
    chart.official_rows.extend(_rows(matched, present, names, _, official.label))
    for d, c in notes.items():
        chart.official_notes.append((official.label, concepts.get(d) or d, _name(names, d, c)))


def _matches(cgd: Point, off: Point, loose: set[str]) -> bool:
    """Whether an official value stands for the same group as a CGD one (dimensions matched at
    another code, such as the official total, are ``loose``)."""
    mine = dict(cgd.codes)
    return all(d in loose or mine.get(d) == c for d, c in off.codes)


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if value <= m * power)


def _scale(chart: Chart, top: float) -> float:
    scale = _nice_max(top)
    return 100.0 if chart.percent and top <= 100 < scale else scale


def _fmt(v: float, percent: bool, _: Translator) -> str:
    """A tick's or a bar's number as the page's language writes it (its grouping and digits),
    to one decimal below a million; the SVG's coordinates are never written by it."""
    text = _.number(v, "#,##0.#") if abs(v) < 1e6 else _.number(round(v), "#,##0")
    return f"{text}%" if percent else text


def _head(svg_id: str, chart: Chart, height: int, desc: str) -> list[str]:
    chart.desc = desc
    kind = "chart small" if chart.heading else "chart"  # a small chart of a split one
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{kind}" width="100%" height="{height}" '
        f'role="img" aria-labelledby="{svg_id}-title {svg_id}-desc" id="{svg_id}">',
        f'<title id="{svg_id}-title">{escape(chart.title)}</title>',
        f'<desc id="{svg_id}-desc">{escape(desc)}</desc>',
    ]


def _pct(x: float) -> str:
    return f"{x:.2f}%"


def _t(x: str, y: float, text: str, cls: str, anchor: str = "start", title: str = "") -> str:
    """An SVG text element at ``x`` (a percentage) and ``y`` (``text`` is escaped)."""
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<text x="{x}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{tip}{escape(text)}</text>'


def _hatch(svg_id: str) -> str:
    return (
        f'<defs><pattern id="{svg_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OFFICIAL_COLOUR}" stroke-width="3"/></pattern></defs>'
    )


def _official_label(source: str, label: str, sources: int, _: Translator) -> str:
    """The visible label of an official bar or line; the source too when several are drawn."""
    if sources > 1:
        return _("Official ({source}): {label}", source=source, label=label)
    return _("Official: {label}", label=label)


def _styles(chart: Chart) -> tuple[dict[str, str], dict[str, int]]:
    """The colour of each code of the first shown dimension, the style index of each of the second."""
    first = sorted({dict(p.codes).get(chart.shown_ids[0], "") for p in chart.rows}) if chart.shown_ids else []
    second = (
        sorted({dict(p.codes).get(chart.shown_ids[1], "") for p in chart.rows})
        if len(chart.shown_ids) > 1
        else []
    )
    return {c: COLOURS[i % len(COLOURS)] for i, c in enumerate(first)}, {c: i for i, c in enumerate(second)}


def _style_of(chart: Chart, p: Point, colours: dict[str, str], styles: dict[str, int]) -> tuple[str, int]:
    codes = dict(p.codes)
    colour = colours.get(codes.get(chart.shown_ids[0], ""), COLOURS[0]) if chart.shown_ids else COLOURS[0]
    index = styles.get(codes.get(chart.shown_ids[1], ""), 0) if len(chart.shown_ids) > 1 else 0
    return colour, index


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unit_text(chart: Chart, _: Translator) -> str:
    if chart.percent:
        return _("Unit: percent (%)")
    return _("Unit: {unit}", unit=chart.unit) if chart.unit else _("Unit: not given")


Styles = tuple[dict[str, str], dict[str, int]]


def _bar_svg(
    chart: Chart, svg_id: str, _: Translator, *, scale_max: float | None = None, styles: Styles | None = None
) -> str:
    """A bar chart (``scale_max`` and ``styles``: those shared by the small charts of one)."""
    cgd = [r for r in chart.rows if r.value is not None]
    sources = len({r.source for r in chart.official_rows})
    matched_elsewhere = {concept for _source, concept, _code in chart.official_notes}
    loose = {
        d for d, concept in zip(chart.shown_ids, chart.shown, strict=True) if concept in matched_elsewhere
    }
    official = [r for r in chart.official_rows if r.value is not None]
    if official and loose:
        # the dimensions an official value is matched loosely on vary fastest, so that each
        # official bar can stand right below the group of CGD bars it matches
        cgd.sort(
            key=lambda r: ([c for d, c in r.codes if d not in loose], [c for d, c in r.codes if d in loose])
        )
    ordered: list[Point] = []
    placed: set[int] = set()
    for row in cgd:
        ordered.append(row)
        for k, off in enumerate(official):
            if k not in placed and _matches(row, off, loose):
                # beside its match: right after the last CGD bar it matches
                later = [r for r in cgd[cgd.index(row) + 1 :] if _matches(r, off, loose)]
                if not later:
                    ordered.append(off)
                    placed.add(k)
    ordered += [off for k, off in enumerate(official) if k not in placed]
    height = TOP + len(ordered) * BAR_ROW + AXIS
    if scale_max is None:
        scale_max = _scale(chart, max((r.value or 0.0) for r in ordered) if ordered else 1.0)
    desc = _(
        "Bar chart of {n} values for {period}, each bar named above it; {unit}.",
        n=len(cgd),
        period=ordered[0].period if ordered else "",
        unit=_unit_text(chart, _),
    )
    if official:
        desc += " " + _(
            "{n} official values are hatched bars, each below the bar it matches.", n=len(official)
        )
    desc += " " + _("The table below the chart has the numbers.")
    out = _head(svg_id, chart, height, desc)
    if official:
        out.append(_hatch(svg_id))
    colours, _styles_by = styles or _styles(chart)
    out.append(_t("0%", 16, _unit_text(chart, _), "unit"))
    base = height - AXIS
    for t in range(6):
        x = _pct(100 * t / 5 * 0.995)
        out.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{base + 4}" class="grid"/>')
        anchor = "start" if t == 0 else "end" if t == 5 else "middle"
        tick = _fmt(scale_max * t / 5, chart.percent, _)
        out.append(_t(_pct(100 * t / 5), base + 20, tick, "tick", anchor))
    for j, row in enumerate(ordered):
        y = TOP + j * BAR_ROW
        w = 99.5 * (row.value or 0.0) / scale_max
        is_official = bool(row.source)
        label = _official_label(row.source, row.label, sources, _) if is_official else row.label
        tip = f"{label} [{row.code_text}]" + (f" ({row.source})" if is_official else "")
        value = _fmt(row.value or 0.0, chart.percent, _)
        colour = (
            colours.get(dict(row.codes).get(chart.shown_ids[0], ""), COLOURS[0])
            if chart.shown_ids
            else COLOURS[0]
        )
        fill = (
            f'url(#{svg_id}-hatch)" stroke="{OFFICIAL_COLOUR}" stroke-width="1.5' if is_official else colour
        )
        out.append(_t("0%", y + 13, _short(label), "label", title=tip))
        out.append(_t("100%", y + 13, value, "value", "end"))
        out.append(
            f'<rect x="0" y="{y + 18}" width="{_pct(w)}" height="{BAR}" fill="{fill}"'
            + (' class="official"' if is_official else "")
            + f"><title>{escape(tip)}: {value}</title></rect>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _marker(kind: str, colour: str, extra: str = "") -> str:
    """A marker drawn around (0, 0)."""
    if kind == "square":
        return f'<rect x="-4" y="-4" width="8" height="8" fill="{colour}"{extra}/>'
    if kind == "triangle":
        return f'<polygon points="0,-5 -5,4 5,4" fill="{colour}"{extra}/>'
    if kind == "diamond":
        return f'<polygon points="0,-5 -5,0 0,5 5,0" fill="{colour}"{extra}/>'
    return f'<circle r="4" fill="{colour}"{extra}/>'


def _at(x: str, y: float, inner: str) -> str:
    """``inner`` (drawn around 0, 0) placed at ``x`` (a percentage), ``y`` (pixels)."""
    return f'<svg x="{x}" y="{y:.1f}" overflow="visible">{inner}</svg>'


def _hollow(kind: str) -> str:
    """A marker of an official series: white inside, a dark-grey outline."""
    return _marker(kind, "#ffffff", f' stroke="{OFFICIAL_COLOUR}" stroke-width="2"')


def _line_svg(
    chart: Chart,
    periods: list[str],
    svg_id: str,
    _: Translator,
    *,
    scale_max: float | None = None,
    styles: Styles | None = None,
    plot: int = LINE_PLOT,
) -> str:
    """A line chart over ``periods`` (``scale_max``, ``styles``: those shared by small charts;
    ``plot``: the height of the plot area)."""
    lines: dict[str, dict[str, float]] = {}
    first: dict[str, Point] = {}
    for p in chart.rows:
        if p.value is not None:
            lines.setdefault(p.label, {})[p.period] = p.value
            first.setdefault(p.label, p)
    official: dict[str, dict[str, float]] = {}
    sources = len({r.source for r in chart.official_rows})
    for p in chart.official_rows:
        if p.value is not None:
            official.setdefault(_official_label(p.source, p.label, sources, _), {})[p.period] = p.value
    legend_top = LINE_TOP + plot + AXIS
    height = legend_top + LEGEND_ROW * (len(lines) + len(official)) + 8
    top = max((v for pts in [*lines.values(), *official.values()] for v in pts.values()), default=1.0)
    scale = scale_max or _scale(chart, top)  # the small charts of one share theirs
    desc = _(
        "Line chart of {n} series over {count} periods, {start} to {end}; {unit}.",
        n=len(lines),
        count=len(periods),
        start=periods[0],
        end=periods[-1],
        unit=_unit_text(chart, _),
    )
    if official:
        desc += " " + _("{n} official series are dotted grey lines with hollow markers.", n=len(official))
    desc += " " + _("The table below the chart has the numbers.")
    out = _head(svg_id, chart, height, desc)
    colours, by_second = styles or _styles(chart)

    def fx(i: int) -> float:  # 0-100, the share of the width
        return 6 + 88 * i / (len(periods) - 1) if len(periods) > 1 else 50.0

    def py(v: float) -> float:
        return LINE_TOP + plot * (1 - v / scale)

    out += _line_axes(chart, periods, fx, py, scale, _, plot)
    # the lines stretch with the width (x in thousandths), their strokes do not
    out.append(
        f'<svg x="0" y="0" width="100%" height="{legend_top}" viewBox="0 0 1000 {legend_top}" '
        'preserveAspectRatio="none" overflow="visible">'
    )
    for label, pts in lines.items():
        colour, k = _style_of(chart, first[label], colours, by_second)
        path = " ".join(f"{fx(i) * 10:.1f},{py(pts[p]):.1f}" for i, p in enumerate(periods) if p in pts)
        dash = f' stroke-dasharray="{DASHES[k % len(DASHES)]}"' if DASHES[k % len(DASHES)] else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash} '
            f'vector-effect="non-scaling-stroke"><title>{escape(label)}</title></polyline>'
        )
    for label, pts in official.items():
        path = " ".join(f"{fx(i) * 10:.1f},{py(pts[p]):.1f}" for i, p in enumerate(periods) if p in pts)
        out.append(
            f'<polyline class="official" points="{path}" fill="none" stroke="{OFFICIAL_COLOUR}" '
            f'{OFFICIAL_STROKE} vector-effect="non-scaling-stroke">'
            f"<title>{escape(label)}</title></polyline>"
        )
    out.append("</svg>")
    for j, (label, pts) in enumerate(lines.items()):
        p0 = first[label]
        colour, k = _style_of(chart, p0, colours, by_second)
        marker = MARKERS[k % len(MARKERS)]
        tip = f"{label} [{p0.code_text}]"
        out.append(f"<g><title>{escape(tip)}</title>")
        out.extend(
            _at(_pct(fx(i)), py(pts[p]), _marker(marker, colour)) for i, p in enumerate(periods) if p in pts
        )
        out.append("</g>")
        dash = DASHES[k % len(DASHES)]
        stroke = f'stroke="{colour}" stroke-width="2.5"' + (f' stroke-dasharray="{dash}"' if dash else "")
        out += _legend(legend_top + LEGEND_ROW * j + 6, stroke, _marker(marker, colour), label, tip)
    for k, (label, pts) in enumerate(official.items()):
        marker = OFFICIAL_MARKERS[k % len(OFFICIAL_MARKERS)]
        out.append(f'<g class="official"><title>{escape(label)}</title>')
        out.extend(_at(_pct(fx(i)), py(pts[p]), _hollow(marker)) for i, p in enumerate(periods) if p in pts)
        out.append("</g>")
        y = legend_top + LEGEND_ROW * (len(lines) + k) + 6
        out += _legend(y, f'stroke="{OFFICIAL_COLOUR}" {OFFICIAL_STROKE}', _hollow(marker), label, label)
    out.append("</svg>")
    return "\n".join(out)


def _line_axes(
    chart: Chart,
    periods: list[str],
    fx: Callable[[int], float],
    py: Callable[[float], float],
    scale_max: float,
    _: Translator,
    plot: int = LINE_PLOT,
) -> list[str]:
    """The unit, the value grid (its numbers on the lines, at the left) and the periods below."""
    out = [_t("0%", 16, _unit_text(chart, _), "unit")]
    for t in range(6):
        y = py(scale_max * t / 5)
        out.append(f'<line x1="0" y1="{y:.1f}" x2="100%" y2="{y:.1f}" class="grid"/>')
        out.append(_t("0%", y - 3, _fmt(scale_max * t / 5, chart.percent, _), "tick"))
    step = max(1, math.ceil(len(periods) / 5))
    last = len(periods) - 1
    for i, p in enumerate(periods):
        if i % step == 0 or i == last:
            anchor = "start" if i == 0 and last else "end" if i == last and i else "middle"
            x = 0.0 if anchor == "start" else 100.0 if anchor == "end" else fx(i)
            out.append(_t(_pct(x), LINE_TOP + plot + 20, p, "tick", anchor))
    return out


def _legend(y: float, stroke: str, marker: str, label: str, tip: str) -> list[str]:
    """One legend entry: the line's stroke with its marker, then its name (``tip``: with codes)."""
    return [
        f'<line x1="0" y1="{y}" x2="28" y2="{y}" {stroke}/>',
        f'<g transform="translate(14 {y})">{marker}</g>',
        f'<text x="36" y="{y + 4}" class="label"><title>{escape(tip)}</title>'
        f"{escape(_short(label, 40))}</text>",
    ]


#: the gap between two small charts side by side in a file, and a small chart's heading
PANEL_GAP, PANEL_HEAD = 20, 26


def standalone_svg(chart: Chart) -> str:
    """The chart as an SVG file: a fixed width, its style inside, an XML declaration. A chart
    split into small charts is their grid, two a row under the series' title, each headed by
    its code's name."""
    if not chart.panels:
        svg = chart.svg.replace('width="100%"', f'width="{FILE_WIDTH}"', 1)
        head, _sep, rest = svg.partition(">")
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'{head} font-family="{escape(FONTS)}">\n<style>{STYLE}</style>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>{rest}\n'
        )
    width = (FILE_WIDTH - PANEL_GAP) // 2
    body: list[str] = []
    y = 34  # below the title
    for row in range(0, len(chart.panels), 2):
        pair = chart.panels[row : row + 2]
        tallest = 0
        for k, panel in enumerate(pair):
            x = k * (width + PANEL_GAP)
            body.append(_t(str(x), y + 16, _short(panel.heading, 44), "heading", title=panel.title))
            svg = panel.svg.replace('width="100%"', f'x="{x}" y="{y + PANEL_HEAD}" width="{width}"', 1)
            body.append(svg)
            tallest = max(tallest, int(svg.split('height="', 1)[1].split('"', 1)[0]))
        y += PANEL_HEAD + tallest + 16
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{FILE_WIDTH}" height="{y}" '
            f'role="img" font-family="{escape(FONTS)}">',
            f"<title>{escape(chart.title)}</title>",
            f"<style>{STYLE}</style>",
            '<rect width="100%" height="100%" fill="#ffffff"/>',
            _t("0", 20, _short(chart.title, 90), "heading", title=chart.title),
            *body,
            "</svg>\n",
        ]
    )


def chart_png(chart: Chart) -> bytes:
    """The chart's SVG file (:func:`standalone_svg`) as a PNG, :data:`PNG_ZOOM` times its size.

    Drawn by resvg (resvg-py): one self-contained wheel, no system library, and text shaped by
    HarfBuzz's rules (rustybuzz), so Devanagari and Bengali come out joined as they should. The
    text takes the first of :data:`FONTS` the server has; a server with none of them draws no
    text at all, which is refused (:class:`~cgd_bridge.errors.Unavailable`) rather than sent as a
    chart without words.
    """
    import resvg_py

    if not _draws_text():
        raise Unavailable(
            N_("this server has no font to write the chart's text, so it cannot draw the chart as PNG"),
            fix=N_(
                "Download the chart as SVG instead; the server's administrator installs a font "
                "(Debian: apt-get install fonts-dejavu-core)."
            ),
            params={},
        )
    return bytes(resvg_py.svg_to_bytes(svg_string=standalone_svg(chart), zoom=PNG_ZOOM, background="#ffffff"))


@functools.cache
def _draws_text() -> bool:
    """Whether resvg finds one of :data:`FONTS` here: a word drawn differs from no word."""
    import resvg_py

    def draw(inner: str) -> bytes:
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">{inner}</svg>'
        return bytes(resvg_py.svg_to_bytes(svg_string=svg))

    return draw(f'<text x="2" y="15" style="font-family:{FONTS}">Ag</text>') != draw("")


def chart_csv(chart: Chart, concepts: Mapping[str, str] | None = None, _: Translator = ENGLISH) -> str:
    """The numbers behind a chart as CSV: the source, each shown dimension's name and code, the
    period, the value and the unit; a header row of names."""
    concepts = concepts or {}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    dims = chart.columns
    w.writerow(
        [
            _("Source"),
            _("Series"),
            _("Series code"),
            *[h for d in dims for h in (concepts.get(d) or d, _("{name} code", name=concepts.get(d) or d))],
            _("Period"),
            _("Value"),
            _("Unit"),
        ]
    )
    unit = chart.unit_code and f"{chart.unit} ({chart.unit_code})"
    for p in [*chart.rows, *chart.official_rows]:
        codes = dict(p.codes)
        names = dict(zip([d for d, _c in p.codes], p.code_names, strict=True))
        w.writerow(
            [
                _("Official: {source}", source=p.source) if p.source else _("CGD"),
                chart.title,
                chart.code,
                *[x for d in dims for x in (names.get(d, ""), codes.get(d, ""))],
                p.period,
                "" if p.value is None else repr(p.value),
                unit,
            ]
        )
    return buf.getvalue()
