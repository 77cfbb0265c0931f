"""Chart downloads over HTTP (#17): the PNG beside the SVG and the CSV, and small multiples by a
chosen dimension; the same access rules, embargo and pull log as every other read of the data."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import struct
import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient

from cgd_bridge.server.web import chart
from cgd_bridge.store import orgs, submissions
from cgd_bridge.store.orgs import Principal
from tests.unit.server.test_web import FLOW, Demo, sign_in, upload_kenya

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height of a PNG from its IHDR chunk (after checking the signature)."""
    assert data[:8] == PNG_SIGNATURE, data[:16]
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_an_embargoed_dataflows_chart_png_is_not_readable_by_the_public(demo_db: Demo) -> None:
    """Written first: the PNG is one more door to the same data, so an embargo closes it as it
    closes the SVG, the CSV and the page; the producer still reads its version's chart."""
    public = TestClient(demo_db.app)
    before = public.get(f"{FLOW}/chart/1.png")
    assert before.status_code == 200, before.text[:300]  # published, no embargo: anyone
    c = demo_db.client
    sign_in(c, demo_db.keys["amina"])
    r = upload_kenya(c, revision_note="Embargoed re-release.", follow_redirects=False)
    assert r.status_code == 303, r.text
    v2 = int(r.headers["location"].rsplit("/", 1)[1])
    with demo_db.session() as s:
        amina = Principal.of(orgs.get_user(s, username="amina"))
        kamau = Principal.of(orgs.get_user(s, username="kamau"))
        submissions.set_embargo(
            s, principal=amina, version_id=v2, until=dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        )
        submissions.accept(s, principal=kamau, version_id=v2)
        submissions.publish(s, principal=kamau, version_id=v2)
    for ext in ("png", "svg", "csv"):
        for path in (
            f"{FLOW}/chart/1.{ext}",
            f"{FLOW}/chart/1.{ext}?by=SEX",
            f"/versions/{v2}/chart/1.{ext}",
        ):
            got = public.get(path)
            assert got.status_code == 404, (path, got.status_code)
            assert not got.content.startswith(PNG_SIGNATURE)
    mine = c.get(f"/versions/{v2}/chart/1.png")  # the producer, before the embargo ends
    assert mine.status_code == 200
    assert png_size(mine.content)[0] == chart.FILE_WIDTH * chart.PNG_ZOOM


def test_each_chart_downloads_as_png_logged_as_a_pull(demo: Demo) -> None:
    page = demo.client.get(f"{FLOW}?REF_AREA=KE_042")
    assert f'href="{FLOW}/chart/1.png?REF_AREA=KE_042"' in page.text
    assert "Download the chart (PNG)" in page.text
    r = TestClient(demo.app).get(f"{FLOW}/chart/1.png?REF_AREA=KE_042")
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"] == "image/png"
    assert 'filename="DF_CGD_KE-' in r.headers["content-disposition"]
    assert r.headers["content-disposition"].endswith('.png"')
    width, height = png_size(r.content)
    svg = demo.client.get(f"{FLOW}/chart/1.svg?REF_AREA=KE_042")
    root = ET.fromstring(svg.content.split(b"?>", 1)[1])
    # the PNG is the SVG file, drawn at twice its size (sharp on phones and in print)
    assert (width, height) == (
        chart.FILE_WIDTH * chart.PNG_ZOOM,
        int(root.get("height", "0")) * chart.PNG_ZOOM,
    )
    # logged as a pull the producer sees, in words
    assert demo.app.state.bridge.audit.flush()
    producer = TestClient(demo.app)
    sign_in(producer, demo.keys["amina"])
    pulls = html.unescape(producer.get("/pulls").text)
    assert "as a chart (PNG)" in pulls
    # a version's page has it too; an unknown kind or number is a 404 that says what exists
    v = demo.published["kenya-health-scorecard"]
    assert demo.client.get(f"/versions/{v}/chart/1.png?SEX=F").headers["content-type"] == "image/png"
    gif = demo.client.get(f"{FLOW}/chart/1.gif")
    assert gif.status_code == 404
    assert ".png" in gif.text
    assert demo.client.get(f"{FLOW}/chart/9.png").status_code == 404


def test_small_multiples_by_a_chosen_dimension(demo: Demo) -> None:
    """The person picks a dimension; each chart becomes one small chart per code of it, on one
    scale; the choice is kept in the form and in the download links."""
    page = demo.client.get(f"{FLOW}?REF_AREA=KE_042&REF_AREA=KE_003&REF_AREA=KE_016&by=REF_AREA")
    assert page.status_code == 200, page.text[:300]
    text = page.text
    assert 'type="radio" name="by" value="REF_AREA" checked' in text
    assert 'type="radio" name="by" value="SEX"' in text
    first = text.split('id="charts-title"', 1)[1].split("</figure>", 1)[0]
    assert first.count('class="small-multiple"') == 3
    for county in ("Kisumu", "Kilifi", "Machakos"):
        assert county in first
    assert "One small chart per Reference area, all on one scale" in first
    assert "by=REF_AREA" in first  # the downloads keep the choice
    # the CSV has the panel's dimension as a column; the SVG and PNG hold every panel
    rows = list(
        csv.DictReader(
            io.StringIO(
                demo.client.get(
                    f"{FLOW}/chart/1.csv?REF_AREA=KE_042&REF_AREA=KE_003&by=REF_AREA"
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert {r["Reference area code"] for r in rows} == {"KE_042", "KE_003"}
    svg = demo.client.get(f"{FLOW}/chart/1.svg?REF_AREA=KE_042&REF_AREA=KE_003&by=REF_AREA").text
    assert svg.count('class="chart small"') == 2
    png = demo.client.get(f"{FLOW}/chart/1.png?REF_AREA=KE_042&REF_AREA=KE_003&by=REF_AREA")
    assert png.status_code == 200
    assert png_size(png.content)[0] == chart.FILE_WIDTH * chart.PNG_ZOOM
    # a dimension the dataflow does not have is refused, saying which it has
    bad = demo.client.get(f"{FLOW}?by=NOPE")
    assert bad.status_code == 400
    assert "REF_AREA" in bad.text
    # on a version's page too
    v = demo.published["kenya-health-scorecard"]
    version = demo.client.get(f"/versions/{v}?by=SEX")
    assert version.status_code == 200
    assert 'class="small-multiple"' in version.text
