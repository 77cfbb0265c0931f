"""SDMX-CSV ``timeFormat`` and ``keys`` (the SDMX-CSV 2.0 field guide's options, #15) in both
versions: where the key columns go and what they hold, periods as the date they start on, read
back by sdmx1's SDMX-CSV reader, and refused for other formats or unknown values."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import pyarrow as pa
import pytest
import sdmx

from cgd_bridge.errors import FormatError
from cgd_bridge.sdmx.write import write
from cgd_bridge.sdmx.write.sdmx_csv import period_start
from tests.unit.sdmx.test_dimension_at_observation import (
    FLOW,
    STRUCTURES,
    TARGET,
    harmonised_kenya,
    make_table,
)


@pytest.fixture
def table() -> pa.Table:
    return make_table()


def rows(fmt: str, table: pa.Table, **options: str) -> list[dict[str, str]]:
    out = io.BytesIO()
    assert write(fmt, table, TARGET, out, **options) > 0
    return list(csv.DictReader(io.StringIO(out.getvalue().decode())))


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("2014", "2014-01-01"),
        ("2014-A1", "2014-01-01"),
        ("2014-S2", "2014-07-01"),
        ("2014-T3", "2014-09-01"),
        ("2014-Q4", "2014-10-01"),
        ("2014-M02", "2014-02-01"),
        ("2014-02", "2014-02-01"),
        ("2014-W01", "2013-12-30"),  # ISO week 1 of 2014 starts in 2013
        ("2014-D060", "2014-03-01"),
        ("2014-03-05", "2014-03-05"),  # already a date
        ("2014-03-05T10:00:00", "2014-03-05T10:00:00"),
        ("2014-Q5", "2014-Q5"),  # no such period: as recorded
        ("2014-W54", "2014-W54"),
        ("not a period", "not a period"),
    ],
)
def test_period_start(period: str, start: str) -> None:
    assert period_start(period) == start


LEAD = {"sdmx-csv-1.0": ["DATAFLOW"], "sdmx-csv-2.0": ["STRUCTURE", "STRUCTURE_ID", "ACTION"]}


@pytest.mark.parametrize(("fmt", "lead"), LEAD.items())
@pytest.mark.parametrize(("keys", "columns"), [("series", ["SERIES_KEY"]), ("obs", ["OBS_KEY"]),
                                                ("both", ["SERIES_KEY", "OBS_KEY"])])  # fmt: skip
def test_key_columns_follow_the_lead_columns(table, fmt, lead, keys, columns) -> None:
    got = rows(fmt, table, keys=keys)
    assert list(got[0])[: len(lead) + len(columns) + 1] == [*lead, *columns, "FREQ"]
    for row in got:
        series = ".".join(row[d] for d in TARGET.dimensions)
        assert row.get("SERIES_KEY", series) == series
        assert row.get("OBS_KEY", series + "." + row["TIME_PERIOD"]) == series + "." + row["TIME_PERIOD"]
    assert [{k: v for k, v in r.items() if k not in columns} for r in got] == rows(fmt, table)


def test_keys_stay_ids_with_labels_and_original_periods_when_normalized(table) -> None:
    target = TARGET.__class__(**{**TARGET.__dict__, "names": {"SEX": {"F": "Female", "M": "Male"}}})
    out = io.BytesIO()
    write("sdmx-csv-2.0", table, target, out, labels="both", keys="both", time_format="normalized")
    got = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    female = next(r for r in got if r["SEX"].startswith("F"))
    assert female["SEX"] == "F: Female"
    assert female["SERIES_KEY"].endswith(".F")
    assert female["TIME_PERIOD"].endswith("-01-01")
    assert female["OBS_KEY"] == f"{female['SERIES_KEY']}.{female['TIME_PERIOD'][:4]}"


def test_series_key_follows_the_observation_dimension(table) -> None:
    by_sex = rows("sdmx-csv-2.0", table, keys="series", dimension_at_observation="SEX")
    assert {r["SERIES_KEY"] for r in by_sex} == {
        ".".join([r["FREQ"], r["SERIES"], r["REF_AREA"], r["TIME_PERIOD"]]) for r in by_sex
    }
    flat = rows("sdmx-csv-2.0", table, keys="both", dimension_at_observation="AllDimensions")
    assert {r["SERIES_KEY"] for r in flat} == {""}
    assert all(r["OBS_KEY"] for r in flat)


def test_series_rows_have_a_series_key_and_no_observation_key(table) -> None:
    series = rows("sdmx-csv-2.0", table, keys="both", detail="serieskeysonly")
    assert len(series) == 3  # 524 _T, 404 F, 404 M
    assert all(r["SERIES_KEY"] == ".".join(r[d] for d in TARGET.dimensions) for r in series)
    assert {r["OBS_KEY"] for r in series} == {""}


@pytest.mark.parametrize("fmt", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
def test_normalized_periods_only_change_time_period(table, fmt) -> None:
    quarterly = table.set_column(
        4, "TIME_PERIOD", pa.array(["2023-Q1", "2023-Q2", "2024-Q3", "2024", "2023-06", "2024-Q4"])
    )
    got = rows(fmt, quarterly, time_format="normalized")
    original = rows(fmt, quarterly)
    assert [r["TIME_PERIOD"] for r in got] == [period_start(r["TIME_PERIOD"]) for r in original]
    assert {r["TIME_PERIOD"] for r in got} == {
        "2023-01-01",
        "2023-04-01",
        "2024-07-01",
        "2024-01-01",
        "2023-06-01",
        "2024-10-01",
    }
    assert [{k: v for k, v in r.items() if k != "TIME_PERIOD"} for r in got] == [
        {k: v for k, v in r.items() if k != "TIME_PERIOD"} for r in original
    ]


def test_large_answers_are_written_alike(table, monkeypatch) -> None:
    """Past SMALL_ROWS the Arrow CSV writer writes the rows: the same columns and cells."""
    import cgd_bridge.sdmx.write.sdmx_csv as module

    small = rows("sdmx-csv-2.0", table, keys="both", time_format="normalized")
    monkeypatch.setattr(module, "SMALL_ROWS", 0)
    assert rows("sdmx-csv-2.0", table, keys="both", time_format="normalized") == small


def test_sdmx1_reads_sdmx_csv_with_keys_as_without(caplog) -> None:
    caplog.set_level(logging.ERROR)  # sdmx1 warns of every DSD attribute without a column
    data, target = harmonised_kenya()
    flow = STRUCTURES.dataflow(FLOW)

    def observations(**options: str) -> dict[tuple[Any, ...], Any]:
        out = io.BytesIO()
        write("sdmx-csv-2.0", data, target, out, **options)
        msg = sdmx.read_sdmx(io.BytesIO(out.getvalue()), format="csv", structure=flow)
        return {tuple(str(v.value) for v in o.key.values.values()): o.value for o in msg.data[0].obs}

    plain = observations()
    assert len(plain) == data.num_rows
    assert observations(keys="both") == plain


@pytest.mark.parametrize("fmt", ["sdmx-ml-2.1-generic", "sdmx-ml-3.0-ss", "sdmx-json-2.0", "sdmx-json-1.0"])
@pytest.mark.parametrize("option", [{"time_format": "normalized"}, {"keys": "obs"}])
def test_other_formats_refuse_the_csv_options(table, fmt, option) -> None:
    with pytest.raises(FormatError, match="does not apply to"):
        write(fmt, table, TARGET, io.BytesIO(), **option)


@pytest.mark.parametrize("option", [{"time_format": "iso"}, {"keys": "all"}])
def test_unknown_values_are_refused(table, option) -> None:
    with pytest.raises(FormatError, match="not an SDMX-CSV option value"):
        write("sdmx-csv-2.0", table, TARGET, io.BytesIO(), **option)
