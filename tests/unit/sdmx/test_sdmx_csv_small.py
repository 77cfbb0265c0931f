"""Small SDMX-CSV answers are joined in Python (sdmx_csv._write_small): the bytes must be pyarrow's.

Every case is written twice, once through the small path and once with it turned off (the
pyarrow CSVWriter), for both SDMX-CSV versions and every ``labels``, on values that need
quoting (commas, quotes, line breaks), empty strings, nulls, numbers and non-ASCII text.
"""

from __future__ import annotations

import io
import random

import pyarrow as pa
import pytest

from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import sdmx_csv

NASTY = ["plain", "with, comma", 'a "quoted" word', "two\nlines", "cr\r\nlf", "", None, "Ñandú ñ", ": colon"]


def _table(rows: int, seed: int) -> pa.Table:
    rnd = random.Random(seed)
    return pa.table(
        {
            "SEX": [rnd.choice(["F", "M", "_T"]) for _ in range(rows)],
            "AGE": [rnd.choice(["Y15T24", "_T", None]) for _ in range(rows)],
            "TIME_PERIOD": [rnd.choice(["2023", "2024-Q1"]) for _ in range(rows)],
            "OBS_VALUE": pa.array(
                [rnd.choice([1.5, 100.0, None, 0.0001, 1e21, -3.25]) for _ in range(rows)], pa.float64()
            ),
            "UNIT_MULT": pa.array([rnd.choice([0, 3, None]) for _ in range(rows)], pa.int64()),
            "COMMENT_OBS": [rnd.choice(NASTY) for _ in range(rows)],
        }
    )


TARGET = Target(
    "CGD_BRIDGE",
    "DF_TEST",
    "1.0",
    ("SEX", "AGE"),
    ("UNIT_MULT", "COMMENT_OBS"),
    names={"SEX": {"F": "Female", "M": 'Male, "m"'}, "AGE": {"Y15T24": "15 to 24"}},
    concepts={"SEX": "Sex", "AGE": "Age", "COMMENT_OBS": "Comment"},
    name="A test, with a comma",
)


def _both(writer, table: pa.Table, monkeypatch: pytest.MonkeyPatch, **kw) -> tuple[bytes, bytes]:
    small = io.BytesIO()
    n = writer(table, TARGET, small, **kw)
    with monkeypatch.context() as m:
        m.setattr(sdmx_csv, "SMALL_ROWS", -1)
        arrow = io.BytesIO()
        assert writer(table, TARGET, arrow, **kw) == n  # rows written (series, with series-only details)
    return small.getvalue(), arrow.getvalue()


@pytest.mark.parametrize("rows", [0, 1, 7, 60])
@pytest.mark.parametrize(
    ("writer", "labels"),
    [
        (sdmx_csv.write_csv10, "id"),
        (sdmx_csv.write_csv10, "both"),
        (sdmx_csv.write_csv20, "id"),
        (sdmx_csv.write_csv20, "both"),
        (sdmx_csv.write_csv20, "name"),
    ],
)
def test_small_answers_are_the_arrow_writers_bytes(writer, labels, rows, monkeypatch) -> None:
    for seed in range(5):
        small, arrow = _both(writer, _table(rows, seed), monkeypatch, labels=labels)
        assert small == arrow


@pytest.mark.parametrize("detail", ["dataonly", "serieskeysonly", "nodata"])
def test_small_answers_with_detail(detail, monkeypatch) -> None:
    small, arrow = _both(sdmx_csv.write_csv20, _table(12, 1), monkeypatch, detail=detail)
    assert small == arrow


def test_the_small_path_is_taken_and_the_limit_respected(monkeypatch) -> None:
    calls = []
    original = sdmx_csv._write_small
    monkeypatch.setattr(sdmx_csv, "_write_small", lambda *a: calls.append(1) or original(*a))
    sdmx_csv.write_csv20(_table(sdmx_csv.SMALL_ROWS, 2), TARGET, io.BytesIO())
    sdmx_csv.write_csv20(_table(sdmx_csv.SMALL_ROWS + 1, 2), TARGET, io.BytesIO())
    assert calls == [1]


@pytest.mark.parametrize("write", [sdmx_csv.write_csv10, sdmx_csv.write_csv20])
def test_the_batch_size_changes_no_byte(write, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large answers are written :data:`sdmx_csv.CSV_BATCH` rows at a time; one batch gives the same."""
    table = _table(2 * sdmx_csv.CSV_BATCH + 17, seed=16)
    batched = io.BytesIO()
    write(table, TARGET, batched)
    monkeypatch.setattr(sdmx_csv, "CSV_BATCH", table.num_rows)
    whole = io.BytesIO()
    write(table, TARGET, whole)
    assert batched.getvalue() == whole.getvalue()
    assert batched.getvalue().count(b"\n") >= table.num_rows + 1
