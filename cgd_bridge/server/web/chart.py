"""Charts of a series by its disaggregations, as inline SVG drawn on the server (no JS library).

:func:`series_charts` takes observations (an Arrow table with the dimensions, ``TIME_PERIOD``
and ``OBS_VALUE``) and returns one :class:`Chart` per ``SERIES`` (at most :data:`MAX_CHARTS`):

- the dimensions that vary are split into *shown* ones (lines or bars; disability status, sex
  and age first, at most :data:`MAX_GROUPS` combinations) and *fixed* ones, set to their total
  (``_T``) when the data has it, else to their first code; the chart says which;
- several periods give a line chart over time (one line per combination, each with its own
  colour, dash and marker, so colour is never the only cue); one period gives a bar chart;
- every chart has a title and a description for screen readers, and the numbers behind it
  (:attr:`Chart.rows`) for a table beside it;
- official series (:class:`Official`, loaded by an NSO) are drawn in the same chart: the
  official observations of the same SERIES, matched on each dimension at the CGD code, else at
  the official total ``_T`` (where the official data is not disaggregated by it), else at its
  one code (e.g. ``REPORTING_TYPE`` G against the CGD's N), which the chart names
  (:attr:`Chart.official_notes`). They have their own style, not only their own colour: dotted
  dark-grey lines with hollow markers, or hatched bars, and "Official" in the legend, the bar
  labels and the table (:attr:`Chart.official_rows`).

Colours have at least 3:1 contrast on white (WCAG 1.4.11).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

import pyarrow as pa
import pyarrow.compute as pc

MAX_CHARTS = 4
MAX_GROUPS = 9
PREFERRED = ("DISABILITY_STATUS", "SEX", "AGE")
LAST = ("REF_AREA",)
COLOURS = ("#0072B2", "#C34A00", "#007A5E", "#AA3377", "#1B1B1B", "#8C510A", "#5E3C99", "#B2182B", "#01665E")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3", "8 3 2 3", "")
MARKERS = ("circle", "square", "triangle", "diamond", "circle", "square", "triangle", "diamond", "square")
OFFICIAL_COLOUR = "#4D4D4D"  # 8:1 on white
OFFICIAL_DASH = "1 5"
OFFICIAL_MARKERS = ("circle", "square", "triangle", "diamond")
WIDTH, LINE_HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 16, 48


@dataclass
class Chart:
    """One chart: its SVG and the numbers behind it.

    Attributes:
        title: e.g. ``SP_PSR_SATIS: Proportion of population satisfied ...``.
        fixed: the dimensions held at one code, ``[(concept, code label)]``.
        shown: the dimensions the lines or bars stand for.
        rows: ``[(label, period, value)]``, the data of the chart.
        svg: the inline SVG markup.
    """

    title: str
    fixed: list[tuple[str, str]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, float | None]] = field(default_factory=list)
    svg: str = ""
    kind: str = "bar"
    official_rows: list[tuple[str, str, str, float | None]] = field(default_factory=list)
    official_notes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Official:
    """An official series to draw beside the CGD series.

    Attributes:
        label: the source, e.g. ``KNBS KDHS 2022``.
        table: its observations (dimensions, ``TIME_PERIOD``, ``OBS_VALUE``).
    """

    label: str
    table: pa.Table


def _label(names: Mapping[str, Mapping[str, str]], dim: str, code: str) -> str:
    name = names.get(dim, {}).get(code)
    return f"{name} ({code})" if name and name != code else code


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


def series_charts(
    table: pa.Table,
    dims: Sequence[str],
    *,
    names: Mapping[str, Mapping[str, str]] | None = None,
    concepts: Mapping[str, str] | None = None,
    id_prefix: str = "chart",
    official: Sequence[Official] = (),
) -> list[Chart]:
    """One chart per SERIES of ``table``, with the matching official series (module docstring)."""
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
        shown, fixed = _pick_dims(part, others)
        for d, c in fixed.items():
            part = part.filter(pc.equal(part[d], c))
        title = _label(names, series_dim, code) if series_dim else "Observations"
        chart = Chart(
            title=title,
            fixed=[(concepts.get(d) or d, _label(names, d, c)) for d, c in fixed.items()],
            shown=[concepts.get(d) or d for d in shown],
        )
        chart.rows = _rows(part, shown, names)
        for o in official:
            _add_official(chart, o, part, series_dim, code, others, shown, names, concepts)
        periods = sorted({p for _, p, _ in chart.rows} | {p for _, _, p, _ in chart.official_rows})
        chart.kind = "line" if len(periods) > 1 else "bar"
        svg_id = f"{id_prefix}-{i + 1}"
        chart.svg = _line_svg(chart, periods, svg_id) if chart.kind == "line" else _bar_svg(chart, svg_id)
        charts.append(chart)
    return charts


def _rows(
    part: pa.Table, shown: Sequence[str], names: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, str, float | None]]:
    cols = {d: part[d].to_pylist() for d in shown}
    periods = part["TIME_PERIOD"].cast(pa.string()).to_pylist()
    values = part["OBS_VALUE"].to_pylist()
    out = []
    for j in range(part.num_rows):
        label = ", ".join(_label(names, d, str(cols[d][j])) for d in shown) or "All"
        v = values[j]
        out.append((label, str(periods[j]), float(v) if v is not None else None))
    out.sort(key=lambda r: (r[0], r[1]))
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
    for label, period, value in _rows(matched, present, names):
        chart.official_rows.append((official.label, label, period, value))
    for d, c in notes.items():
        chart.official_notes.append((official.label, concepts.get(d) or d, _label(names, d, c)))


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if value <= m * power)


def _fmt(v: float) -> str:
    return f"{v:,.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"


def _head(svg_id: str, chart: Chart, height: int, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-labelledby="{svg_id}-title {svg_id}-desc" id="{svg_id}">',
        f'<title id="{svg_id}-title">{escape(chart.title)}</title>',
        f'<desc id="{svg_id}-desc">{escape(desc)}</desc>',
    ]


def _t(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    """An SVG text element (``text`` is escaped)."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" class="{cls}">{escape(text)}</text>'


def _poly(colour: str, *points: tuple[float, float]) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polygon points="{pts}" fill="{colour}"/>'


def _hatch(svg_id: str) -> str:
    return (
        f'<defs><pattern id="{svg_id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OFFICIAL_COLOUR}" stroke-width="3"/></pattern></defs>'
    )


def _official_label(source: str, label: str, sources: int) -> str:
    """The visible label of an official bar or line; the source too when several are drawn."""
    return f"Official ({source}): {label}" if sources > 1 else f"Official: {label}"


def _bar_svg(chart: Chart, svg_id: str) -> str:
    cgd = [r for r in chart.rows if r[2] is not None]
    sources = len({r[0] for r in chart.official_rows})
    off = [
        (_official_label(s, label, sources), p, v, s)
        for s, label, p, v in chart.official_rows
        if v is not None
    ]
    rows = [*cgd, *[r[:3] for r in off]]
    bar, gap, label_w = 22, 8, 330
    height = TOP + len(rows) * (bar + gap) + BOTTOM
    top = max((r[2] or 0.0) for r in rows) if rows else 1.0
    scale_max = _nice_max(top)
    plot_w = WIDTH - label_w - RIGHT - 40
    desc = (
        f"Bar chart of {len(cgd)} values"
        + (f" for {rows[0][1]}" if rows else "")
        + (f", then {len(off)} official values (hatched bars)" if off else "")
        + "; the table below has the numbers."
    )
    out = _head(svg_id, chart, height, desc)
    if off:
        out.append(_hatch(svg_id))
    for t in range(6):
        x = label_w + plot_w * t / 5
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{height - BOTTOM + 4}" class="grid"/>')
        out.append(_t(x, height - BOTTOM + 20, _fmt(scale_max * t / 5), "tick", "middle"))
    for j, (label, _period, value) in enumerate(rows):
        y = TOP + j * (bar + gap)
        w = plot_w * (value or 0.0) / scale_max
        official = j >= len(cgd)
        tip = f"{label} ({off[j - len(cgd)][3]})" if official else label
        colour = COLOURS[j % len(COLOURS)]
        fill = f'url(#{svg_id}-hatch)" stroke="{OFFICIAL_COLOUR}" stroke-width="1.5' if official else colour
        out.append(_t(label_w - 8, y + bar * 0.7, _short(label), "label", "end"))
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{fill}"'
            + (' class="official"' if official else "")
            + f"><title>{escape(tip)}: {_fmt(value or 0.0)}</title></rect>"
        )
        out.append(_t(label_w + w + 6, y + bar * 0.7, _fmt(value or 0.0), "value"))
    out.append("</svg>")
    return "\n".join(out)


def _short(text: str, limit: int = 44) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "triangle":
        return _poly(colour, (x, y - 5), (x - 5, y + 4), (x + 5, y + 4))
    if kind == "diamond":
        return _poly(colour, (x, y - 5), (x - 5, y), (x, y + 5), (x + 5, y))
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _hollow(kind: str, x: float, y: float) -> str:
    """A marker of an official series: white inside, a dark-grey outline."""
    return _marker(kind, x, y, "#ffffff").replace("/>", f' stroke="{OFFICIAL_COLOUR}" stroke-width="2"/>', 1)


def _line_svg(chart: Chart, periods: list[str], svg_id: str) -> str:
    lines: dict[str, dict[str, float]] = {}
    for label, period, value in chart.rows:
        if value is not None:
            lines.setdefault(label, {})[period] = value
    official: dict[str, dict[str, float]] = {}
    sources = len({r[0] for r in chart.official_rows})
    for source, label, period, value in chart.official_rows:
        if value is not None:
            official.setdefault(_official_label(source, label, sources), {})[period] = value
    legend_h = 20 * (len(lines) + len(official))
    height = LINE_HEIGHT + legend_h
    plot_h = LINE_HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    top = max((v for pts in [*lines.values(), *official.values()] for v in pts.values()), default=1.0)
    scale_max = _nice_max(top)
    desc = (
        f"Line chart of {len(lines)} series over {len(periods)} periods, {periods[0]} to {periods[-1]}"
        + (f", and {len(official)} official series (dotted grey lines, hollow markers)" if official else "")
        + "; the table below has the numbers."
    )
    out = _head(svg_id, chart, height, desc)

    def px(i: int) -> float:
        return LEFT + (plot_w * i / (len(periods) - 1) if len(periods) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return TOP + plot_h * (1 - v / scale_max)

    for t in range(6):
        y = py(scale_max * t / 5)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        out.append(_t(LEFT - 8, y + 4, _fmt(scale_max * t / 5), "tick", "end"))
    step = max(1, len(periods) // 8)
    for i, p in enumerate(periods):
        if i % step == 0 or i == len(periods) - 1:
            out.append(_t(px(i), TOP + plot_h + 20, p, "tick", "middle"))
    for j, (label, pts) in enumerate(lines.items()):
        colour, dash, marker = COLOURS[j % 9], DASHES[j % 9], MARKERS[j % 9]
        coords = [(px(i), py(pts[p])) for i, p in enumerate(periods) if p in pts]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f"<g><title>{escape(label)}</title>")
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        out.extend(_marker(marker, x, y, colour) for x, y in coords)
        out.append("</g>")
        ly = LINE_HEIGHT + 20 * j + 6
        out.append(
            f'<line x1="{LEFT}" y1="{ly}" x2="{LEFT + 28}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2.5"{dash_attr}/>'
        )
        out.append(_marker(marker, LEFT + 14, ly, colour))
        out.append(_t(LEFT + 36, ly + 4, label, "label"))
    for k, (label, pts) in enumerate(official.items()):
        marker = OFFICIAL_MARKERS[k % len(OFFICIAL_MARKERS)]
        coords = [(px(i), py(pts[p])) for i, p in enumerate(periods) if p in pts]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        out.append(f'<g class="official"><title>{escape(label)}</title>')
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{OFFICIAL_COLOUR}" stroke-width="3" '
            f'stroke-linecap="round" stroke-dasharray="{OFFICIAL_DASH}"/>'
        )
        out.extend(_hollow(marker, x, y) for x, y in coords)
        out.append("</g>")
        ly = LINE_HEIGHT + 20 * (len(lines) + k) + 6
        out.append(
            f'<line x1="{LEFT}" y1="{ly}" x2="{LEFT + 28}" y2="{ly}" stroke="{OFFICIAL_COLOUR}" '
            f'stroke-width="3" stroke-linecap="round" stroke-dasharray="{OFFICIAL_DASH}"/>'
        )
        out.append(_hollow(marker, LEFT + 14, ly))
        out.append(_t(LEFT + 36, ly + 4, label, "label"))
    out.append("</svg>")
    return "\n".join(out)
