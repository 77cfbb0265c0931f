"""Generate ``data.csv`` of the Kenya health-access scorecard example (fictional data).

A community scorecard on access to public health services by persons with disabilities, run
in four counties in 2024. The table is aggregate: one row per county x sex x age group x
disability status (and every total over them), with the number of respondents and how many of
them were satisfied with their last visit.

The finest cells (female/male x three age groups x with/without disability) are drawn with a
fixed seed, every total is then computed from them, so the table is internally consistent:
Female + Male = Total, the age groups add up to Total, With + Without = Total, for both
respondents and satisfied. In every finest cell at least 5 were satisfied and at least 5 were
not, so the example raises no small-cell or small-complement warning (docs/attribute-disclosure.md).

Run from anywhere: ``python examples/kenya-health-scorecard/make_data.py``.
"""

from __future__ import annotations

import csv
import itertools
import random
from pathlib import Path

SEED = 20240805
YEAR = 2024
MIN_CELL = 5  # disclosure threshold: no finest cell below it

# county -> share of respondents satisfied with their last visit (before group effects)
COUNTIES = {"Kisumu": 0.58, "Nakuru": 0.64, "Machakos": 0.60, "Kilifi": 0.49}
SEXES = ("Female", "Male")
AGE_GROUPS = ("18-24", "25-44", "45-59", "60+")  # SDG CL_AGE: Y18T24, Y25T44, Y45T59, Y_GE60
DISABILITY = ("With disability", "Without disability")
TOTAL = "Total"

COLUMNS = ("county", "sex", "age_group", "disability_status", "year", "respondents", "satisfied")


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def finest_cells(seed: int = SEED) -> dict[tuple[str, str, str, str], tuple[int, int]]:
    """``(county, sex, age group, disability) -> (respondents, satisfied)`` for the finest cells."""
    rng = random.Random(seed)
    cells = {}
    for county, base in COUNTIES.items():
        for sex, age, dis in itertools.product(SEXES, AGE_GROUPS, DISABILITY):
            with_disability = dis == DISABILITY[0]
            # persons with disabilities were mobilised through county disability networks:
            # fewer of them per cell, and fewer of them satisfied
            respondents = rng.randint(10, 28) if with_disability else rng.randint(14, 40)
            p = base - (0.16 if with_disability else 0.0) - (0.06 if age == "60+" else 0.0)
            p -= 0.03 if sex == "Female" else 0.0
            satisfied = _binomial(rng, respondents, p)
            satisfied = min(respondents - MIN_CELL, max(MIN_CELL, satisfied))
            cells[(county, sex, age, dis)] = (respondents, satisfied)
    return cells


def table_rows(cells: dict[tuple[str, str, str, str], tuple[int, int]]) -> list[dict[str, object]]:
    """Every row of the table: the finest cells and all their totals, in a stable order."""
    rows = []
    for county in COUNTIES:
        for sex, age, dis in itertools.product((*SEXES, TOTAL), (*AGE_GROUPS, TOTAL), (*DISABILITY, TOTAL)):
            parts = [
                value
                for (c, s, a, d), value in cells.items()
                if c == county and sex in (s, TOTAL) and age in (a, TOTAL) and dis in (d, TOTAL)
            ]
            rows.append(
                {
                    "county": county,
                    "sex": sex,
                    "age_group": age,
                    "disability_status": dis,
                    "year": YEAR,
                    "respondents": sum(r for r, _ in parts),
                    "satisfied": sum(s for _, s in parts),
                }
            )
    return rows


def write_csv(path: Path) -> list[dict[str, object]]:
    """Write the table as UTF-8, comma-separated CSV and return its rows."""
    rows = table_rows(finest_cells())
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


if __name__ == "__main__":
    write_csv(Path(__file__).with_name("data.csv"))
