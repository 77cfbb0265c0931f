"""Real files published by others (../shared): inputs cgd-bridge must read as they are."""

from __future__ import annotations

from cgd_bridge.i18n import ENGLISH
from cgd_bridge.ingest import open_table
from cgd_bridge.pipeline import validate


def first_rows(table, n=3):
    batch = next(table.batches())
    return [[batch.column(i)[r].as_py() for i in range(batch.num_columns)] for r in range(n)]


def test_open_sdg_csv_blank_sex_means_total(shared):
    path = shared / "cgd-specimens" / "open-sdg-sdg-build" / "indicator_1-1-1.csv"
    report = validate(path)
    assert report.valid, [f.message for f in report]
    roles = {f["name"]: f.get("role") for f in report.stats["table_schema"]["fields"]}
    assert roles == {"Year": "period", "SEX": "disaggregation", "Value": "value"}


def test_ons_csv_with_bom(shared):
    table = open_table(shared / "specimens" / "mapping" / "ons_indicator_8-2-1.csv")
    assert table.columns[0].header == "Year"
    assert any("byte-order mark" in n for n in map(ENGLISH.text, table.info.notes))
    assert first_rows(table, 1) == [["1972", "Percentage (%)", "Units", "Estimate", "4.02"]]


def test_ons_csv_quoted_commas(shared):
    table = open_table(shared / "specimens" / "mapping" / "ons_indicator_3-2-1.csv")
    assert first_rows(table, 1)[0][5] == "Rate per 1,000 live births"


def test_scorecard_workbook_named_sheet_in_khmer(shared):
    path = shared / "cgd-specimens" / "kakada-scorecard-web" / "indicator.xlsx"
    table = open_table(path, sheet="Rating")
    assert table.info.sheet == "Rating"
    assert [c.header for c in table.columns][:3] == ["No", "Scorecard Criterias", "Khmer (km)"]
    assert first_rows(table, 1)[0][:2] == ["1", "មិនពេញចិត្តខ្លាំង"]


def test_scorecard_locations_gps_columns_are_flagged(shared):
    report = validate(shared / "cgd-specimens" / "kakada-scorecard-web" / "locations.sample.csv")
    flagged = {f.field for f in report if f.code == "pii-column"}
    assert {"latitude", "longitude"} <= flagged
    assert report.inputs[0].encoding == "utf-8"
