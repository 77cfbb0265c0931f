"""The web mapping builder in a real browser (#18's third "done when"): Debian's Chromium driven by
Playwright against a real ``cgd-bridge serve``, every page checked with axe-core and for sideways
scrolling (tests/e2e/test_web_browser.py's ``Checked``).

A Malawian CSO (Mawu a Odwala, fictional) has a KoboToolbox export nobody mapped before
(tests/support/malawi.py: its own column names, gender and disability labels in Chichewa, the
date of its report first). Its data officer builds the mapping in the web pages: uploads the
export, picks the SDG dataflow, reads the draft, changes what the draft got wrong (TIME_PERIOD
taken from the report's date, the Chichewa columns: gender placed from the columns the draft
used for nothing, disability chosen for its dimension; the labels: one found with the code
list's search box), tries another measure in the preview and goes back, saves the mapping, and
submits the data with it. The NSO's reviewer accepts and publishes it, and the NSO
pulls the data over SDMX REST with its key: the observations are the export's proportions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_browser import Checked, browser, checked_tab, navigate, sign_in_with_key
from tests.support import malawi
from tests.support.server import LiveServer, live_server, seed_database

__all__ = ["browser"]  # the module's Chromium fixture, shared


@pytest.fixture
def malawi_site(tmp_path: Path) -> Iterator[LiveServer]:
    """The demo, plus the Malawian CSO, the NSO of Malawi and their MoU for the SDG dataflow."""
    from cgd_bridge.store import db, mous, orgs

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'bridge.sqlite'}"
    keys, published = seed_database(url, data_dir)
    engine = db.make_engine(url)
    try:
        with db.make_sessionmaker(engine)() as session:
            orgs.create_organisation(session, slug="mawu", name="Mawu a Odwala", kind="cso")
            orgs.create_organisation(session, slug="nso-malawi", name="National Statistical Office, Malawi",
                                     kind="nso")  # fmt: skip
            for username, org, role in (
                ("chikondi", "mawu", "submitter"),
                ("banda", "nso-malawi", "reviewer"),
            ):
                orgs.create_user(session, username=username, organisation=org, role=role)
                keys[username] = orgs.create_key(session, username=username, label="test").key
            mous.create_mou(session, cso="mawu", nso="nso-malawi", dataflows=[malawi.FLOW],
                            valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=365))  # fmt: skip
    finally:
        engine.dispose()
    with live_server(url, data_dir, seed=False) as server:
        server.keys, server.published = keys, published
        yield server


def unused_field(p: Any, column: str) -> str:
    """The id of the "which dimension is it?" list of a column the draft used for nothing."""
    name = p.get_attribute(f"input[name^='un_'][value='{column}']", "name")
    assert name, f"the draft offers no unused column {column!r}"
    return "uc_" + name[3:]


def label_field(p: Any, label: str) -> str:
    """The id of the code list of one of the draft's labels."""
    name = p.get_attribute(f"input[name^='lv_'][value='{label}']", "name")
    assert name, f"the draft has no label {label!r}"
    return "lc_" + name[3:]


@pytest.mark.parametrize("width", [360, 1280], ids=["phone-360", "desktop-1280"])
def test_a_cso_builds_a_mapping_submits_with_it_and_the_nso_pulls_the_data(
    malawi_site: LiveServer, browser: Any, tmp_path: Path, width: int
) -> None:
    export = malawi.write_export(tmp_path, dated=True)
    metadata = tmp_path / "quality.yaml"
    metadata.write_bytes(malawi.quality_yaml())
    url = malawi_site.url
    with checked_tab(browser, width) as tab:
        _build_and_submit(tab, url, malawi_site.keys["chikondi"], export, metadata)
        version_url = tab.page.url
        navigate(tab.page, "button:has-text('Sign out')")
        _accept_and_publish(tab, url, malawi_site.keys["banda"], version_url)
    _pull(url, malawi_site.keys["banda"])


def _build_and_submit(tab: Checked, url: str, key: str, export: Path, metadata: Path) -> None:
    p = tab.page
    sign_in_with_key(tab, url, key)
    p.goto(f"{url}/submit")
    navigate(p, "a:has-text('No mapping yet? Build one from your export.')")
    assert p.url.endswith("/mappings")
    tab.check("mappings")

    # the export and the dataflow: the draft
    p.set_input_files("#data", str(export))
    p.select_option("#dataflow", malawi.FLOW)
    p.fill("#name", "mw-health-voices")
    navigate(p, "button:has-text('Draft the mapping')")
    assert p.is_visible("h1:has-text('Check the drafted mapping')")
    assert p.input_value("#dim_AGE") == "column:Age bracket"
    assert p.input_value("#dim_REF_AREA") == "value:454"
    assert p.input_value("#dim_SEX") == "value:_T"  # the Chichewa column was not recognised
    assert p.locator("text=check this").count() >= 1
    tab.check("the draft")

    # the series, from the bundled mappings' evidence ("satisfied"), is the one meant
    assert p.input_value("#dim_SERIES") == "value:SP_PSR_SATIS"
    # the period was taken from the report's date: one year for every row
    assert (p.input_value("#t_src"), p.input_value("#t_value")) == ("value", "2025")
    assert (p.input_value("#m_kind"), p.input_value("#m_col"), p.input_value("#m_den")) == (
        "proportion", "Number satisfied", "Number interviewed")  # fmt: skip
    # the person's corrections: the year column; gender placed from the unused columns,
    # disability chosen for its dimension
    p.select_option("#t_src", "column:Chaka")
    p.select_option("#t_fmt", "year")
    p.select_option(f"#{unused_field(p, 'Gender (Mtundu)')}", "dimension:SEX")
    p.select_option("#dim_DISABILITY_STATUS", "column:Disability (Ulumali)")
    navigate(p, "button:has-text('Update the draft')")
    assert p.input_value("#dim_SEX") == "column:Gender (Mtundu)"
    assert p.input_value("#t_src") == "column:Chaka"
    assert p.locator("td:has-text('your choice')").count() == 3  # SEX, DISABILITY_STATUS, TIME_PERIOD
    # the labels: 'Mkazi' found with the list's search box (typing a name picks its one code)
    mkazi = label_field(p, "Mkazi")
    search = p.locator(f"#search-{mkazi}")
    assert search.is_visible()
    search.fill("female")
    assert p.input_value(f"#{mkazi}") == "F"
    p.select_option(f"#{label_field(p, 'Mwamuna')}", "M")
    p.select_option(f"#{label_field(p, 'Ali ndi ulumali')}", "PD")
    p.select_option(f"#{label_field(p, 'Alibe ulumali')}", "PWD")
    tab.check("the draft, corrected")

    # another measure tried in the preview: the number satisfied, summed
    p.select_option("#m_kind", "count")
    p.select_option("#m_den", "")
    navigate(p, "button:has-text('Preview the result')")
    assert p.is_visible("text=The mapping gives 32 observations")
    heads = p.locator("#preview .scroll thead th").all_inner_texts()
    first = dict(zip(heads, p.locator("#preview .scroll tbody tr").first.locator("td").all_inner_texts(),
                     strict=True))  # fmt: skip
    assert float(first["OBS_VALUE"]) == int(malawi.rows()[int(first["SOURCE_ROW"]) - 2][5])
    assert first["TIME_PERIOD"] in malawi.YEARS
    tab.check("the preview of a count")

    # and back to the proportion: the real pipeline on the upload with the edited mapping
    p.select_option("#m_kind", "proportion")
    p.select_option("#m_den", "Number interviewed")
    navigate(p, "button:has-text('Preview the result')")
    assert p.is_visible("text=The mapping gives 32 observations")
    assert p.input_value(f"#{label_field(p, 'Mkazi')}") == "F"
    assert p.locator("#preview .scroll tbody tr").count() == 20
    assert p.locator("#preview .verdict.ok").count() == 1, p.locator("#preview").inner_text()[:2000]
    tab.check("the preview")

    # saved to the organisation, then downloaded as YAML
    navigate(p, "button:has-text('Save the mapping')")
    assert p.is_visible("h1:has-text('Mapping mw-health-voices, version 1')")
    with p.expect_download() as got:
        p.click("a:has-text('Download as YAML')")
    text = Path(got.value.path()).read_text(encoding="utf-8")
    assert "Mkazi" in text
    assert "SP_PSR_SATIS" in text
    assert 'time: {column: "Chaka", format: "year"}' in text
    tab.check("the saved mapping")

    # submitted with it
    navigate(p, "a:has-text('Submit data with this mapping')")
    assert "mw-health-voices, version 1" in p.locator("#mapping_choice option:checked").inner_text()
    p.set_input_files("#data", str(export))
    p.set_input_files("#metadata", str(metadata))
    navigate(p, "button[value=submit]")
    assert "/versions/" in p.url, p.locator("main").inner_text()[:2000]
    assert "sent for review" in p.content()
    tab.check("the version, submitted")


def _accept_and_publish(tab: Checked, url: str, key: str, version_url: str) -> None:
    p = tab.page
    sign_in_with_key(tab, url, key)
    p.goto(f"{url}/inbox")
    assert p.locator("text=mw-health-voices-2024").count() >= 1
    p.goto(version_url)
    navigate(p, "button:has-text('Accept')")
    assert "was accepted" in p.content()
    navigate(p, "button:has-text('Publish')")
    assert "was published" in p.content()


def _pull(url: str, key: str) -> None:
    r = httpx.get(
        f"{url}/sdmx/v2/data/dataflow/IAEG-SDGs/DF_SDG_GLH/1.5/*",
        params={"format": "sdmx-csv-2.0"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text[:500]
    rows = [row for row in csv.DictReader(io.StringIO(r.text)) if row["REF_AREA"] == "454"]
    got = {
        (row["TIME_PERIOD"], row["SEX"], row["AGE"], row["DISABILITY_STATUS"]): float(row["OBS_VALUE"])
        for row in rows
        if row["OBS_VALUE"]
    }
    assert {row["SERIES"] for row in rows} == {"SP_PSR_SATIS"}
    assert got == malawi.expected()
