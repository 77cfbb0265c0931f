"""Charts people can read (#17): names not codes, the unit on the axis, text that never shrinks,
official bars beside their match, a note where a code is easily misread, SVG and CSV files."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

import pyarrow as pa
import pytest

from cgd_bridge.i18n import translator
from cgd_bridge.server.web import chart

DIMS = ["SERIES", "REF_AREA", "SEX", "DISABILITY_STATUS"]
NAMES = {
    "SERIES": {"S1": "Proportion of people satisfied"},
    "SEX": {"F": "Female", "M": "Male", "_T": "Both sexes"},
    "DISABILITY_STATUS": {"PD": "Persons with disability", "PWD": "Persons without disability"},
    "UNIT_MEASURE": {"PT": "Percent", "NUMBER": "Number"},
}


def _table(periods: list[str], unit: str = "PT", values: tuple[float, float] = (40.0, 62.5)) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "SERIES": "S1",
                "REF_AREA": "A1",
                "SEX": sex,
                "DISABILITY_STATUS": dis,
                "TIME_PERIOD": p,
                "OBS_VALUE": v + i,
                "UNIT_MEASURE": unit,
            }
            for i, p in enumerate(periods)
            for sex in ("F", "M")
            for dis, v in zip(("PD", "PWD"), values, strict=True)
        ]
    )


def _texts(svg: str) -> list[str]:
    """The visible text of an SVG's text elements (their tooltips left out)."""
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    return [
        "".join(t.itertext()).removeprefix(t.findtext(f"{ns}title") or "") for t in root.iter(f"{ns}text")
    ]


def test_bars_are_named_not_coded_and_the_codes_are_in_the_tooltips() -> None:
    c = chart.series_charts(_table(["2024"]), DIMS, names=NAMES)[0]
    assert c.kind == "bar"
    assert c.title == "Proportion of people satisfied"
    labels = _texts(c.svg)
    assert "Persons with disability, Female" in labels
    assert not [t for t in labels if re.search(r"\((PD|PWD|F|M)\)", t)], labels
    assert "<title>Persons with disability, Female [PD, F]: 40%</title>" in c.svg


def test_a_percentage_has_its_unit_on_the_axis_and_the_axis_ends_at_100() -> None:
    c = chart.series_charts(_table(["2024"], values=(40.0, 92.0)), DIMS, names=NAMES)[0]
    assert c.percent
    labels = _texts(c.svg)
    assert "Unit: percent (%)" in labels
    assert "100%" in labels  # 92 would round up to 100 anyway; the axis never goes past 100
    assert "62.5%" not in labels
    assert "92%" in labels
    counts = chart.series_charts(_table(["2024"], unit="NUMBER", values=(400.0, 920.0)), DIMS, names=NAMES)[0]
    assert not counts.percent
    assert "Unit: Number" in _texts(counts.svg)
    assert "1,000" in _texts(counts.svg)


def test_text_is_never_scaled_the_svg_has_no_viewbox_and_positions_in_percent() -> None:
    for periods in (["2024"], ["2022", "2023", "2024"]):
        c = chart.series_charts(_table(periods), DIMS, names=NAMES)[0]
        outer = c.svg.split(">", 1)[0]
        assert "viewBox" not in outer
        assert 'width="100%"' in outer
        for x in re.findall(r'<text x="([^"]+)"', c.svg):
            assert x.endswith("%") or float(x) <= 40, x  # percentages of the width, or a legend's inset
    assert chart.MIN_TEXT_PX >= 11


def test_several_periods_make_a_line_chart_coloured_by_the_first_dimension() -> None:
    c = chart.series_charts(_table(["2022", "2023", "2024"]), DIMS, names=NAMES)[0]
    assert c.kind == "line"
    assert c.shown_ids == ["DISABILITY_STATUS", "SEX"]
    ns = "{http://www.w3.org/2000/svg}"
    lines = [(e.get("stroke"), e.get("stroke-dasharray")) for e in ET.fromstring(c.svg).iter(f"{ns}polyline")]
    assert len(lines) == 4
    colours = [colour for colour, _dash in lines]
    # PD, F and PD, M share a colour (disability status); F and M differ by the dash
    assert colours[0] == colours[1] != colours[2] == colours[3]
    assert lines[0][1] != lines[1][1]


def test_an_official_bar_stands_right_below_the_cgd_bar_it_matches() -> None:
    cgd = _table(["2024"])
    official = pa.Table.from_pylist(
        [
            {
                "SERIES": "S1",
                "REF_AREA": "A1",
                "SEX": sex,
                "DISABILITY_STATUS": "_T",
                "TIME_PERIOD": "2024",
                "OBS_VALUE": v,
            }
            for sex, v in (("F", 50.0), ("M", 55.0))
        ]
    )
    c = chart.series_charts(cgd, DIMS, names=NAMES, official=[chart.Official("KNBS", official)])[0]
    labels = [t for t in _texts(c.svg) if "," in t]
    # disability status is matched at the official total: each official bar follows the last CGD
    # bar of its sex, not the end of the chart
    assert labels == [
        "Persons with disability, Female",
        "Persons without disability, Female",
        "Official: _T, Female",
        "Persons with disability, Male",
        "Persons without disability, Male",
        "Official: _T, Male",
    ]


def test_pwd_gets_a_visible_note_that_it_means_without_disability() -> None:
    c = chart.series_charts(_table(["2024"]), DIMS, names=NAMES)[0]
    assert any("PWD means persons WITHOUT disability" in n for n in c.notes)
    no_pwd = _table(["2024"]).filter(pa.compute.equal(_table(["2024"])["DISABILITY_STATUS"], "PD"))
    assert chart.series_charts(no_pwd, DIMS, names=NAMES)[0].notes == []
    sw = chart.series_charts(_table(["2024"]), DIMS, names=NAMES, _=translator("sw"))[0]
    assert len(sw.notes) == 1


def test_the_chart_downloads_as_an_svg_file_and_its_numbers_as_csv() -> None:
    c = chart.series_charts(_table(["2022", "2023"]), DIMS, names=NAMES)[0]
    svg = chart.standalone_svg(c)
    root = ET.fromstring(svg.split("?>", 1)[1])
    assert root.get("width") == str(chart.FILE_WIDTH)
    assert root.find("{http://www.w3.org/2000/svg}style") is not None
    rows = list(
        csv.reader(io.StringIO(chart.chart_csv(c, {"SEX": "Sex", "DISABILITY_STATUS": "Disability status"})))
    )
    assert rows[0] == [
        "Source", "Series", "Series code", "Disability status", "Disability status code", "Sex", "Sex code",
        "Period", "Value", "Unit",
    ]  # fmt: skip
    assert ["CGD", "Proportion of people satisfied", "S1", "Persons without disability", "PWD", "Male", "M",
            "2023", "63.5", "Percent (PT)"] in rows  # fmt: skip
    assert len(rows) == 1 + 8


# ---------------------------------------------------------------- PNG and small multiples


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:16]
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _png_pixels(data: bytes) -> bytes:
    """The decompressed image data of a PNG (its IDAT chunks), to compare what was drawn."""
    import zlib

    out, at = b"", 8
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            out += data[at + 8 : at + 8 + size]
        at += 12 + size
    return zlib.decompress(out)


def test_the_chart_downloads_as_a_png_of_the_svg_file_with_its_text_drawn() -> None:
    for periods in (["2024"], ["2022", "2023", "2024"]):
        c = chart.series_charts(_table(periods), DIMS, names=NAMES)[0]
        png = chart.chart_png(c)
        root = ET.fromstring(chart.standalone_svg(c).split("?>", 1)[1])
        assert _png_size(png) == (
            chart.FILE_WIDTH * chart.PNG_ZOOM,
            int(root.get("height", "0")) * chart.PNG_ZOOM,
        )
        # the words are drawn: the same chart without its text elements is another picture
        c.svg = re.sub(r"<text\b.*?</text>", "", c.svg, flags=re.S)
        assert _png_pixels(chart.chart_png(c)) != _png_pixels(png)


def test_a_png_in_bangla_is_drawn_and_a_server_without_fonts_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from cgd_bridge.errors import Unavailable

    c = chart.series_charts(_table(["2024"]), DIMS, names=NAMES, _=translator("bn"))[0]
    assert "একক" in c.svg  # "Unit" in Bangla, drawn by the font fallback
    assert _png_size(chart.chart_png(c))[0] == chart.FILE_WIDTH * chart.PNG_ZOOM
    monkeypatch.setattr(chart, "_draws_text", lambda: False)
    with pytest.raises(Unavailable) as raised:
        chart.chart_png(c)  # never a PNG without its words
    assert raised.value.status == 503
    assert "SVG" in (raised.value.fix or "")


def _panels_table(periods: list[str]) -> pa.Table:
    """Three areas whose values differ tenfold, each by sex and disability status."""
    return pa.Table.from_pylist(
        [
            {
                "SERIES": "S1",
                "REF_AREA": area,
                "SEX": sex,
                "DISABILITY_STATUS": dis,
                "TIME_PERIOD": p,
                "OBS_VALUE": base * (1.5 if dis == "PD" else 1.0) + i,
                "UNIT_MEASURE": "NUMBER",
            }
            for i, p in enumerate(periods)
            for area, base in (("A1", 10.0), ("A2", 100.0), ("A3", 400.0))
            for sex in ("F", "M")
            for dis in ("PD", "PWD")
            if not (area == "A3" and dis == "PD")  # A3 lacks a group: the colours must not move
        ]
    )


def test_small_multiples_split_a_chart_by_the_chosen_dimension_on_one_scale() -> None:
    names = {**NAMES, "REF_AREA": {"A1": "Area one", "A2": "Area two", "A3": "Area three"}}
    for periods in (["2024"], ["2022", "2023", "2024"]):
        c = chart.series_charts(_panels_table(periods), DIMS, names=names, by="REF_AREA")[0]
        assert c.by_id == "REF_AREA"
        assert c.svg == ""
        assert [p.heading for p in c.panels] == ["Area one", "Area two", "Area three"]
        assert [p.code for p in c.panels] == ["A1", "A2", "A3"]
        assert "REF_AREA" not in c.shown_ids  # the split dimension is not also a colour
        # one scale: every small chart's axis ends at the same number (600, from A3's 400 + ...)
        tops = set()
        for p in c.panels:
            ticks = [t for t in _texts(p.svg) if re.fullmatch(r"[\d,.]+", t)]
            tops.add(max(ticks, key=lambda t: float(t.replace(",", ""))))
            assert 'class="chart small"' in p.svg
        assert len(tops) == 1, tops
        # one meaning of colour: "Persons without disability" has the same colour in A1 and A3
        pwd = [
            re.findall(r'stroke="(#[0-9A-F]{6})"[^>]*>(?:<title>)?Persons without', p.svg) for p in c.panels
        ]
        bar_pwd = [re.findall(r'fill="(#[0-9A-F]{6})"><title>Persons without', p.svg) for p in c.panels]
        colours = {x for found in (pwd if c.kind == "line" else bar_pwd) for x in found}
        assert len(colours) == 1, colours
        # the numbers behind it name the split dimension first
        rows = list(csv.reader(io.StringIO(chart.chart_csv(c, {"REF_AREA": "Area", "SEX": "Sex"}))))
        assert rows[0][3:5] == ["Area", "Area code"]
        assert {r[4] for r in rows[1:]} == {"A1", "A2", "A3"}
        # the file holds every small chart, each headed by its code's name
        svg = chart.standalone_svg(c)
        root = ET.fromstring(svg.split("?>", 1)[1])
        assert root.get("width") == str(chart.FILE_WIDTH)
        assert svg.count('class="chart small"') == 3
        assert {"Area one", "Area two", "Area three"} <= set(_texts(svg))
        assert _png_size(chart.chart_png(c))[0] == chart.FILE_WIDTH * chart.PNG_ZOOM


def test_small_multiples_are_bounded_and_a_dimension_that_does_not_vary_is_not_split() -> None:
    rows = [
        {"SERIES": "S1", "REF_AREA": f"A{k:02}", "SEX": "F", "TIME_PERIOD": "2024", "OBS_VALUE": float(k)}
        for k in range(chart.MAX_PANELS + 5)
    ]
    c = chart.series_charts(pa.Table.from_pylist(rows), ["SERIES", "REF_AREA", "SEX"], by="REF_AREA")[0]
    assert len(c.panels) == chart.MAX_PANELS
    assert c.panels_left == 5
    one = chart.series_charts(pa.Table.from_pylist(rows), ["SERIES", "REF_AREA", "SEX"], by="SEX")[0]
    assert one.panels == []
    assert one.svg
    assert one.by_id == ""


def test_ticks_and_values_in_nepali_digits_positions_and_periods_as_they_are() -> None:
    """The numbers a person reads on a Nepali chart (ticks, bar values, their tooltips) are in
    Devanagari digits (#17); the SVG's positions and the periods (SDMX codes) keep Latin ones."""
    ne = translator("ne")
    c = chart.series_charts(_table(["2024"], values=(40.0, 92.0)), DIMS, names=NAMES, _=ne)[0]
    labels = _texts(c.svg)
    assert "१००%" in labels
    assert "९२%" in labels
    assert "100%" not in labels
    assert "92%" not in labels
    counts = chart.series_charts(
        _table(["2024"], unit="NUMBER", values=(400.0, 920.0)), DIMS, names=NAMES, _=ne
    )
    assert "१,०००" in _texts(counts[0].svg)
    for attr in re.findall(r'\s(?:x|y|x1|x2|y1|y2|width|height)="([^"]+)"', c.svg):
        assert re.fullmatch(r"[0-9.]+%?", attr), attr
    english = chart.series_charts(_table(["2022", "2023"]), DIMS, names=NAMES)[0]
    nepali = chart.series_charts(_table(["2022", "2023"]), DIMS, names=NAMES, _=ne)[0]
    assert {"2022", "2023"} <= set(_texts(nepali.svg)) & set(_texts(english.svg))
    # the table of numbers under the chart (its CSV) keeps the values as Python writes them
    assert chart.chart_csv(nepali, _=ne).count("\n") == chart.chart_csv(english).count("\n")
    assert [r.split(",")[-2] for r in chart.chart_csv(nepali, _=ne).splitlines()[1:]] == [
        r.split(",")[-2] for r in chart.chart_csv(english).splitlines()[1:]
    ]
