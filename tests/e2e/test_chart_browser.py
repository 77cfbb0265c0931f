"""Small multiples and the PNG download in a real browser (#17): Debian's Chromium against a real
``cgd-bridge serve``. The person picks a dimension in the filter form (a radio list, no
JavaScript needed), each chart becomes one small chart per code, stacked at 360 px and side by
side on a desktop, with no sideways scrolling, chart text at least 11 px as drawn and axe-core
clean; the PNG under the chart downloads as the picture of those small charts."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_web_browser import FLOW, checked_tab, chromium
from tests.support.server import LiveServer, live_server


@pytest.fixture(scope="module")
def chart_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("chart-live")
    with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir) as server:
        yield server


@pytest.fixture(scope="module")
def chart_browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.mark.parametrize("width", [360, 1280], ids=["phone-360", "desktop-1280"])
def test_small_multiples_read_at_a_phones_width_and_download_as_png(
    chart_site: LiveServer, chart_browser: Any, tmp_path: Path, width: int
) -> None:
    with checked_tab(chart_browser, width) as tab:
        p = tab.page
        p.goto(f"{chart_site.url}{FLOW}")
        # the choice is a radio list in the filter form: tapped, then applied
        p.locator("fieldset.split-by label", has_text="Sex").click()
        with p.expect_navigation():
            p.click("button:has-text('Apply the filter')")
        assert "by=SEX" in p.url
        assert p.locator("fieldset.split-by input[value=SEX]").is_checked()
        tab.check(f"dataflow page, small multiples by sex, {width} px")
        panels = p.locator(".chart-figure").first.locator(".small-multiple")
        assert panels.count() == 3  # Both sexes, Female, Male
        caption = p.locator(".chart-figure figcaption").first.inner_text()
        assert "One small chart per Sex, all on one scale." in caption
        boxes = [panels.nth(k).bounding_box() for k in range(panels.count())]
        assert all(b is not None and b["width"] <= width for b in boxes)
        tops = {round(b["y"]) for b in boxes if b is not None}
        if width < 600:
            assert len(tops) == 3, boxes  # stacked, one under the other
        else:
            assert len(tops) < 3, boxes  # side by side
        # one scale: every small chart's axis ends at the same number
        last_ticks = p.evaluate(
            """() => [...document.querySelector('.chart-figure').querySelectorAll('svg.chart.small')]
                 .map(s => [...s.querySelectorAll('text.tick')].map(t => t.textContent))
                 .map(ts => ts.filter(t => t.endsWith('%')).pop())"""
        )
        assert len(set(last_ticks)) == 1, last_ticks
        with p.expect_download() as got:
            p.locator("a:has-text('Download the chart (PNG)')").first.click()
        saved = tmp_path / got.value.suggested_filename
        got.value.save_as(saved)
        data = saved.read_bytes()
        assert saved.name.endswith("-by-SEX-1.png")
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        png_width, png_height = struct.unpack(">II", data[16:24])
        assert png_width == 1440
        assert png_height > 600  # three small charts, two rows of them
