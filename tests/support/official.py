"""An official series for tests, made from the Kenya example: what an NSO would load.

The Kenya example is converted to SDMX-CSV 1.0 by the real ``cgd-bridge convert`` (a
subprocess), then changed the way official survey data differs from the CSO's: not
disaggregated by disability status (only the totals ``_T`` are kept), reported as global data
(``REPORTING_TYPE`` G) and with other values (ten points lower, so a chart can tell them apart).
Nothing is copied from outside the repository.
"""

from __future__ import annotations

import csv
import functools
import io
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
DATAFLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
LABEL = "KNBS KDHS 2022"


@functools.cache
def converted_csv() -> bytes:
    """The Kenya example as ``cgd-bridge convert --to sdmx-csv-1.0`` writes it."""
    with tempfile.TemporaryDirectory(prefix="cgd-bridge-official-") as tmp:
        out = Path(tmp) / "kenya.csv"
        subprocess.run(
            [sys.executable, "-m", "cgd_bridge", "convert", str(KENYA / "data.csv"),
             "--metadata", str(KENYA / "quality.yaml"), "--mapping", str(MAPPING),
             "--to", "sdmx-csv-1.0", "--output", str(out)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return out.read_bytes()


def official_value(cgd_value: float) -> float:
    """The official value the test file gives where the CGD value is ``cgd_value``."""
    return round(max(cgd_value - 10.0, 0.0), 1)


@functools.cache
def official_csv() -> bytes:
    """The official SDMX-CSV 1.0 file (see the module docstring)."""
    rows = list(csv.DictReader(io.StringIO(converted_csv().decode("utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if row["DISABILITY_STATUS"] != "_T":
            continue
        row["REPORTING_TYPE"] = "G"
        row["OBS_VALUE"] = f"{official_value(float(row['OBS_VALUE'])):.1f}" if row["OBS_VALUE"] else ""
        row["SOURCE_DETAIL"] = LABEL
        row["COMMENT_OBS"] = ""
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def broken_csv() -> bytes:
    """The official file with a sex code that is not in CL_SEX on its first data row (row 2)
    and a value that is not a number on its third (row 4)."""
    lines = official_csv().decode("utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    sex, value = header.index("SEX"), header.index("OBS_VALUE")
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        cells = next(csv.reader([line]))
        if i == 0:
            cells[sex] = "Femme"
        if i == 2:
            cells[value] = "n/a"
        buf = io.StringIO()
        csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="").writerow(cells)
        out.append(buf.getvalue())
    return ("\n".join(out) + "\n").encode("utf-8")
