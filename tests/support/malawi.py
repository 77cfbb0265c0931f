"""A Malawian CSO's export nobody here mapped before, for the web mapping builder's tests (#18).

"Mawu a Odwala" (fictional) ran a KoboToolbox survey of people leaving public health facilities
in 2023 and 2024 and exported the counts by gender, age bracket and disability, with its own
column names and its labels in Chichewa (``Mkazi``/``Mwamuna``, ``Ali ndi ulumali``/``Alibe
ulumali``), as its enumerators typed them. The target is the SDG global dataflow, series
SP_PSR_SATIS (16.6.2), for Malawi (M49 454). The figures are made up, from a fixed seed.
"""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

from tests.support.paths import ROOT

FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"
COLUMNS = ["Chaka (year)", "Gender (Mtundu)", "Age bracket", "Disability (Ulumali)", "Number interviewed",
           "Number satisfied"]  # fmt: skip
SEXES = {"Mkazi": "F", "Mwamuna": "M"}
AGES = {"15-24": "Y15T24", "25-34": "Y25T34", "35-49": "Y35T49", "50+": "Y_GE50"}
DISABILITY = {"Ali ndi ulumali": "PD", "Alibe ulumali": "PWD"}
YEARS = ("2023", "2024")


def rows() -> list[list[str]]:
    """The export's rows: every year, gender, age bracket and disability once."""
    rng = random.Random(454)
    out = []
    for year in YEARS:
        for sex in SEXES:
            for age in AGES:
                for disability in DISABILITY:
                    asked = rng.randint(30, 90)
                    out.append([year, sex, age, disability, str(asked), str(rng.randint(10, asked - 5))])
    return out


def export_csv(*, dated: bool = False) -> bytes:
    """The export as KoboToolbox writes a CSV: UTF-8, a header row, commas. ``dated``: as the
    CSO's second export has it, with the date of its report first (``Tsiku (date)``, every
    row 2025-01-15) and the year column named ``Chaka`` alone, so the draft takes the report's
    date for the period and the person corrects it."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if dated:
        w.writerow([DATED, "Chaka", *COLUMNS[1:]])
        w.writerows(["2025-01-15", *row] for row in rows())
    else:
        w.writerow(COLUMNS)
        w.writerows(rows())
    return buf.getvalue().encode("utf-8")


#: the report's date column of the dated export
DATED = "Tsiku (date)"


def write_export(folder: Path, *, dated: bool = False) -> Path:
    path = folder / "malawi-health-voices.csv"
    path.write_bytes(export_csv(dated=dated))
    return path


def expected() -> dict[tuple[str, str, str, str], float]:
    """What the NSO should get: (year, SEX, AGE, DISABILITY_STATUS) -> the percentage satisfied,
    to one decimal, as the mapping's proportion computes it."""
    return {
        (year, SEXES[sex], AGES[age], DISABILITY[dis]): round(int(k) / int(n) * 100, 1)
        for year, sex, age, dis, n, k in rows()
    }


def quality_yaml() -> bytes:
    """The quality metadata of the export: the Kenya example's record with this dataset's
    identity, producer and geography."""
    text = (ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml").read_text(encoding="utf-8")
    text = text.replace("id: ke-health-scorecard-2024", "id: mw-health-voices-2024", 1)
    text = re.sub(r"ref_areas: \[[^\]]*\]", "ref_areas: [Malawi]", text, count=1)
    text = text.replace("level: admin1", "level: national", 1).replace(
        "codelist: CL_AREA_KE", "codelist: CL_AREA", 1
    )
    return text.encode("utf-8")
