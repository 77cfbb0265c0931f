"""`cgd-bridge convert --detail` and `--dimension-at-observation` in a real subprocess (#4):
the messages they shape, read back by sdmx1, and plain errors (exit 2, no file) for bad values."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import sdmx
from lxml import etree

from tests.e2e.test_cli import KENYA, MAPPINGS, assert_no_traceback, cli

pytestmark = pytest.mark.e2e
GENERIC = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/data/generic}"
COUNTIES = {"KE_003", "KE_016", "KE_032", "KE_042"}


def convert(out: Path, *options: str, to: str = "sdmx-ml-2.1-generic"):
    return cli(
        "convert", KENYA / "data.csv", "--metadata", KENYA / "quality.yaml",
        "--mapping", MAPPINGS / "kenya-health-scorecard.yaml", "--to", to, "-o", out, *options,
    )  # fmt: skip


def read(path: Path) -> sdmx.message.DataMessage:
    with path.open("rb") as fh:
        return sdmx.read_sdmx(fh, format="XML")


def counts(path: Path) -> tuple[int, int, int, int]:
    """(series, observations, series with attributes, observations with attributes) of a
    generic data message."""
    root = etree.parse(str(path)).getroot()
    return (
        len(list(root.iter(f"{GENERIC}Series"))),
        len(list(root.iter(f"{GENERIC}Obs"))),
        len(root.findall(f".//{GENERIC}Series/{GENERIC}Attributes")),
        len(root.findall(f".//{GENERIC}Obs/{GENERIC}Attributes")),
    )


def test_default_is_full_detail_by_time_period(tmp_path):
    out = tmp_path / "full.xml"
    p = convert(out)
    assert p.returncode == 0, p.stderr
    assert "Wrote 180 observations as SDMX-ML 2.1 Generic data" in p.stdout
    series, obs, series_attributes, obs_attributes = counts(out)
    assert (series, obs) == (180, 180)
    assert series_attributes == series  # every series carries its attributes (SOURCE_DETAIL...)
    assert obs_attributes == obs  # and so does every observation (OBS_STATUS...)
    assert 'dimensionAtObservation="TIME_PERIOD"' in out.read_text()


def test_dataonly_leaves_the_attributes_out(tmp_path):
    out = tmp_path / "dataonly.xml"
    p = convert(out, "--detail", "dataonly")
    assert p.returncode == 0, p.stderr
    assert counts(out) == (180, 180, 0, 0)
    msg = read(out)
    assert len(msg.data[0].obs) == 180


@pytest.mark.parametrize("detail", ["serieskeysonly", "nodata"])
def test_series_only_details_write_no_observations(tmp_path, detail):
    out = tmp_path / f"{detail}.xml"
    p = convert(out, "--detail", detail)
    assert p.returncode == 0, p.stderr
    assert f"Wrote 180 series (detail {detail}, no observations)" in p.stdout
    series, obs, series_attributes, _ = counts(out)
    assert (series, obs) == (180, 0)
    # nodata keeps the series attributes, serieskeysonly has none
    assert series_attributes == (0 if detail == "serieskeysonly" else series)


def test_another_dimension_at_the_observation_read_back_by_sdmx1(tmp_path):
    out = tmp_path / "by_area.xml"
    p = convert(out, "--dimension-at-observation", "REF_AREA")
    assert p.returncode == 0, p.stderr
    msg = read(out)
    assert msg.observation_dimension.id == "REF_AREA"
    ds = msg.data[0]
    assert len(ds.series) == 45  # 180 observations / 4 counties
    assert len(ds.obs) == 180
    for key, observations in ds.series.items():
        assert "REF_AREA" not in key.values
        assert {o.dimension.values["REF_AREA"].value for o in observations} <= COUNTIES
    # the same observations as the default layout
    by_time = tmp_path / "by_time.xml"
    assert convert(by_time).returncode == 0
    a = sdmx.to_pandas(ds).reorder_levels(sorted(sdmx.to_pandas(ds).index.names)).sort_index()
    b = sdmx.to_pandas(read(by_time).data[0])
    b = b.reorder_levels(sorted(b.index.names)).sort_index()
    assert a.equals(b)


def test_all_dimensions_writes_observations_without_series(tmp_path):
    out = tmp_path / "flat.xml"
    p = convert(out, "--dimension-at-observation", "AllDimensions")
    assert p.returncode == 0, p.stderr
    series, obs, _, obs_attributes = counts(out)
    assert (series, obs, obs_attributes) == (0, 180, 180)
    assert 'dimensionAtObservation="AllDimensions"' in out.read_text()
    assert len(read(out).data[0].obs) == 180


def test_sdmx_csv_is_flat_so_series_only_with_all_dimensions_is_fine(tmp_path):
    out = tmp_path / "series.csv"
    p = convert(
        out, "--detail", "serieskeysonly", "--dimension-at-observation", "AllDimensions", to="sdmx-csv-2.0"
    )
    assert p.returncode == 0, p.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 180
    assert "OBS_VALUE" not in lines[0]


@pytest.mark.parametrize("to", ["sdmx-csv-1.0", "sdmx-csv-2.0"])
def test_csv_keys_and_time_format(tmp_path, to):
    out = tmp_path / "keys.csv"
    p = convert(out, "--keys", "both", "--time-format", "normalized", to=to)
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 180
    assert {"SERIES_KEY", "OBS_KEY"} <= set(rows[0])
    for row in rows:
        assert row["OBS_KEY"].startswith(row["SERIES_KEY"] + ".")
        assert row["TIME_PERIOD"].endswith("-01-01")  # annual data: the first day of the year
        assert row["OBS_KEY"].endswith("." + row["TIME_PERIOD"][:4])  # keys keep the original period


def test_time_series_formats_read_back_by_sdmx1(tmp_path):
    for to, root in (("sdmx-ml-2.1-generic-ts", "GenericTimeSeriesData"),
                     ("sdmx-ml-2.1-ss-ts", "StructureSpecificTimeSeriesData")):  # fmt: skip
        out = tmp_path / f"{to}.xml"
        p = convert(out, to=to)
        assert p.returncode == 0, p.stderr
        assert f"<message:{root} " in out.read_text()[:1000]
        assert len(read(out).data[0].obs) == 180


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (
            ["--detail", "bogus"],
            [
                "Invalid value for '--detail': 'bogus' is not one of",
                "'full', 'dataonly', 'serieskeysonly', 'nodata'",
            ],
        ),
        (
            ["--dimension-at-observation", "COUNTY"],
            [
                "Error: 'COUNTY' is not a dimension of CGD_BRIDGE:DF_CGD_KE(1.0), so it cannot be the "
                "dimension at the observation.",
                "Use TIME_PERIOD (the default), AllDimensions (no series) or one of: FREQ,",
                "REF_AREA",
            ],
        ),
        (
            ["--keys", "both"],
            ["SDMX-CSV's keys=both does not apply to SDMX-ML 2.1 Generic data"],
        ),
        (
            ["--to", "sdmx-csv-2.0", "--time-format", "local"],
            ["Invalid value for '--time-format'"],
        ),
        (
            ["--to", "sdmx-ml-2.1-ss-ts", "--dimension-at-observation", "SEX"],
            ["SDMX-ML 2.1 StructureSpecific time-series data has TIME_PERIOD at the observation",
             "genericdata or structurespecificdata"],
        ),
        (
            ["--detail", "nodata", "--dimension-at-observation", "AllDimensions"],
            ["lists series, and with the dimension at the observation AllDimensions there are no series",
             "ask for detail full or dataonly"],
        ),
    ],
)  # fmt: skip
def test_bad_values_are_one_plain_error_and_no_file(tmp_path, options, needles):
    out = tmp_path / "never.xml"
    p = convert(out, *options)
    assert p.returncode == 2, p.stdout + p.stderr
    assert_no_traceback(p)
    for needle in needles:
        assert needle in p.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left either
