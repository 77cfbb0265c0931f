"""A year published beside its quarters and months cannot give a suppressed month away.

The attack (#16, #17): a CSO publishes its monthly counts with the quarters and the year, as
monthly reporting tools do. A month with 1 to 4 people is suppressed; if nothing on the year's
side is, the year minus the eleven other months is that month. Slabs made it worse in
principle: :func:`~cgd_bridge.checks.disclosure.secure` cuts a large table along the
dimensions no relation crosses, and TIME_PERIOD was one. The proof here is the reader's own:
the SDMX-CSV that ``convert`` writes is read back, and an interval LP written in this file
(scipy's ``linprog``, not the product's audit) bounds every suppressed cell by the published
ones over every relation a reader knows: sex totals, quarters of months, the year of its
quarters and of its months.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import linprog

from cgd_bridge import pipeline
from cgd_bridge.checks import disclosure
from cgd_bridge.checks.relations import period_parents

ROOT = Path(__file__).resolve().parents[3]
K = 5  # the quality metadata's threshold
COUNTIES = {"KE_042": "Kisumu", "KE_032": "Nakuru", "KE_016": "Machakos", "KE_003": "Kilifi"}
# small months (1 to 4 clients) in three of the counties: every slab but one has one
SMALL = {
    ("Kisumu", "Female", 3): 2,
    ("Nakuru", "Male", 7): 1,
    ("Kilifi", "Female", 11): 3,
    ("Kilifi", "Male", 2): 4,
}

MAPPING = """\
# Monthly exit interviews at public health facilities (Sauti ya Walemavu Health Watch): clients
# satisfied with their visit, by county and sex, per month with the quarters and the year.
profile: cgd-mapping/1.0
dataset: ke-exit-interviews-monthly
schema:
  dataKind: aggregate
  primaryKey: [county, sex, frequency, period]
  fields:
    - {name: county, type: string, role: area, constraints: {required: true}}
    - {name: sex, type: string, role: disaggregation, dimension: SEX, totalValues: [Jumla],
       constraints: {required: true}}
    - {name: frequency, type: string, role: other}
    - {name: period, type: string, role: period}
    - {name: satisfied, type: integer, role: count, constraints: {minimum: 0}}
version: 1.0.0
dataflow: CGD_BRIDGE:DF_CGD_KE(1.0)
dimensions:
  FREQ: {column: frequency, map: {A: [Mwaka], Q: [Robo mwaka], M: [Mwezi]}}
  REPORTING_TYPE: {value: N}
  SERIES: {value: SP_PSR_SATIS}
  REF_AREA:
    column: county
    map: {KE_003: [Kilifi], KE_016: [Machakos], KE_032: [Nakuru], KE_042: [Kisumu]}
  SEX: {column: sex, map: {F: [Female], M: [Male], _T: [Jumla]}}
  AGE: {value: _T}
  URBANISATION: {value: _T}
  INCOME_WEALTH_QUANTILE: {value: _T}
  EDUCATION_LEV: {value: _T}
  OCCUPATION: {value: _T}
  CUST_BREAKDOWN: {value: _T}
  COMPOSITE_BREAKDOWN: {value: _T}
  DISABILITY_STATUS: {value: _T}
  ACTIVITY: {value: _T}
  PRODUCT: {value: _T}
time: {column: period, format: period}
value: {kind: count, numerator: satisfied, decimals: 0}
attributes:
  UNIT_MEASURE: {value: PT}
  UNIT_MULT: {value: "0"}
"""


def write_inputs(folder: Path, seed: int = 16, small: dict[tuple[str, str, int], int] | None = None) -> Path:
    """The monthly, quarterly and annual counts of every county and sex (with the sex totals),
    the quality metadata and the mapping; returns the data file."""
    rng = random.Random(seed)
    rows = []
    for county in COUNTIES.values():
        fine = {
            (s, m): (SMALL if small is None else small).get((county, s, m), rng.randint(20, 90))
            for s in ("Female", "Male")
            for m in range(1, 13)
        }
        for sex in ("Female", "Male", "Jumla"):
            month = {
                m: sum(v for (s, mm), v in fine.items() if mm == m and sex in (s, "Jumla"))
                for m in range(1, 13)
            }
            rows += [(county, sex, "Mwezi", f"2024-{m:02d}", month[m]) for m in range(1, 13)]
            rows += [
                (county, sex, "Robo mwaka", f"2024-Q{q}", sum(month[m] for m in range(3 * q - 2, 3 * q + 1)))
                for q in range(1, 5)
            ]
            rows.append((county, sex, "Mwaka", "2024", sum(month.values())))
    rng.shuffle(rows)  # a file in no particular order
    data = folder / "data.csv"
    with data.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["county", "sex", "frequency", "period", "satisfied"])
        w.writerows(rows)
    quality = (ROOT / "examples/kenya-health-scorecard/quality.yaml").read_text(encoding="utf-8")
    # this file has no disability column: the example's 'PD' group is not in it
    quality = quality.replace(
        "    - code: PD\n      label: With disability\n      local_label: Watu wenye ulemavu\n", ""
    )
    assert "code: PD" not in quality
    (folder / "quality.yaml").write_text(quality, encoding="utf-8")
    (folder / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    return data


Cell = tuple[str, str, str, str]  # REF_AREA, SEX, AGE, TIME_PERIOD
Relation = tuple[Cell, list[Cell]]  # total = sum of the parts


def read_published(path: Path) -> dict[Cell, float | None]:
    """(REF_AREA, SEX, AGE, TIME_PERIOD) -> the published value, None where suppressed."""
    out: dict[Cell, float | None] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (row["REF_AREA"], row["SEX"], row["AGE"], row["TIME_PERIOD"])
            assert key not in out
            out[key] = float(row["OBS_VALUE"]) if row["OBS_VALUE"] else None
            if row["OBS_VALUE"] == "":
                assert row["OBS_STATUS"] == "Q"
                assert row["CONF_STATUS"] == "C"
    return out


def sex_relations(have: set[Cell]) -> list[Relation]:
    """_T = F + M for each county, age and period."""
    return [((a, "_T", g, t), [(a, "F", g, t), (a, "M", g, t)]) for a, s, g, t in have if s == "_T"]


def time_relations(cells: list[Cell]) -> list[Relation]:
    """Every (total, parts) a reader of the monthly table knows, written out without the
    product: _T = F + M for each county and period; each quarter = its three months; the year =
    its four quarters; the year = its twelve months."""
    have = set(cells)
    rel = sex_relations(have)
    for area, sex, age, period in have:
        if period == "2024":
            rel.append(((area, sex, age, period), [(area, sex, age, f"2024-Q{q}") for q in range(1, 5)]))
            rel.append(((area, sex, age, period), [(area, sex, age, f"2024-{m:02d}") for m in range(1, 13)]))
        if "-Q" in period:
            q = int(period[-1])
            months = [(area, sex, age, f"2024-{m:02d}") for m in range(3 * q - 2, 3 * q + 1)]
            rel.append(((area, sex, age, period), months))
    return checked(rel, have)


def checked(rel: list[Relation], have: set[Cell]) -> list[Relation]:
    """``rel``, each of its cells in the table."""
    for total, parts in rel:
        assert total in have
        assert all(p in have for p in parts)
    return rel


def intervals(
    published: dict[Cell, float | None], relations: Callable[[list[Cell]], list[Relation]]
) -> dict[Cell, tuple[float, float]]:
    """The smallest and largest value each suppressed cell can take, given the published cells
    and the reader's ``relations`` (counts: never negative)."""
    hidden = sorted(k for k, v in published.items() if v is None)
    col = {k: i for i, k in enumerate(hidden)}
    a_eq, b_eq = [], []
    for total, parts in relations(list(published)):
        row = np.zeros(len(hidden))
        rhs = 0.0
        for cell, sign in [(total, 1.0), *((p, -1.0) for p in parts)]:
            if published[cell] is None:
                row[col[cell]] += sign
            else:
                rhs -= sign * float(published[cell])  # type: ignore[arg-type]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
        else:
            assert abs(rhs) < 1e-6, f"the published table breaks {total} = {parts}"
    out = {}
    for cell, i in col.items():
        c = np.zeros(len(hidden))
        c[i] = 1.0
        bounds = []
        for sense in (1.0, -1.0):
            res = linprog(
                sense * c, A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=(0, None), method="highs"
            )
            assert res.status in (0, 3), res.message  # feasible (the true table is a solution)
            bounds.append(np.inf if res.status == 3 else sense * res.fun)
        out[cell] = (bounds[0], bounds[1])
    return out


def convert(folder: Path, out: Path) -> dict[Cell, float | None]:
    done = pipeline.convert(
        folder / "data.csv", metadata=folder / "quality.yaml", mapping=folder / "mapping.yaml",
        to="sdmx-csv-2.0", output=out,
    )  # fmt: skip
    assert done.written, [f.problem for f in done.report.findings if f.severity.name == "ERROR"]
    return read_published(out)


@pytest.mark.parametrize("slab_cells", [None, 60], ids=["whole", "slabs"])
def test_a_suppressed_month_stays_protected_from_its_quarter_and_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slab_spy: list[int], slab_cells: int | None
) -> None:
    write_inputs(tmp_path)
    if slab_cells is not None:  # 204 observations in slabs of about 60: each county its own
        monkeypatch.setattr(disclosure, "SLAB_CELLS", slab_cells)
    published = convert(tmp_path, tmp_path / "out.csv")
    assert len(published) == 4 * 3 * 17
    if slab_cells is None:
        assert max(slab_spy) == 1
    else:  # the observations' audit really ran in slabs (the counties: no relation crosses them)
        assert max(slab_spy) == 4
    hidden = {k for k, v in published.items() if v is None}
    names = {v: k for k, v in COUNTIES.items()}
    for county, sex, month in SMALL:
        assert (names[county], sex[0], "_T", f"2024-{month:02d}") in hidden
    found = intervals(published, time_relations)
    narrow = {cell: (lo, hi) for cell, (lo, hi) in found.items() if hi - lo < K - 1e-6}
    assert not narrow, f"a reader narrows these suppressed cells below {K}: {narrow}"


def test_the_attack_is_real_without_the_time_relations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file with the periods' relations switched off: the month is worked out exactly
    from the year (this is what convert published before the time relations)."""
    write_inputs(tmp_path)
    monkeypatch.setattr(disclosure, "period_parents", lambda labels: ({}, {}))
    found = intervals(convert(tmp_path, tmp_path / "out.csv"), time_relations)
    lo, hi = found[("KE_042", "F", "_T", "2024-03")]
    assert lo == pytest.approx(2)
    assert hi == pytest.approx(2)


def test_period_parents_nest_the_smallest_period_present() -> None:
    tree, children = period_parents(
        ["2024", "2024-Q1", "2024-01", "2024-02", "2024-03", "2024-04", "2023-12", "x"]
    )
    assert tree == {
        "2024-01": "2024-Q1",
        "2024-02": "2024-Q1",
        "2024-03": "2024-Q1",
        "2024-Q1": "2024",
        "2024-04": "2024",
    }
    assert children["2024-Q1"] == 3
    assert children["2024"] == 10**6
    tree, children = period_parents(
        ["2024", *(f"2024-M{m:02d}" for m in range(1, 13)), "2024-02-29", "2024-02"]
    )
    assert tree["2024-M05"] == "2024"
    assert tree["2024-02-29"] == "2024-02"
    assert children["2024-02"] == 29
    assert period_parents(["2024-W01", "2024", "2024-13", "2024-02-30x"]) == ({}, {})


def test_the_published_file_audit_sees_a_year_over_its_months() -> None:
    """``cgd-bridge audit`` of a count table published by another tool: the month is exposed
    through the year, FREQ differing between them."""
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    values: list[float | None] = [float(30 + m) for m in range(12)]
    values[2] = None
    table = pa.table(
        {
            "FREQ": ["M"] * 12 + ["A"],
            "REF_AREA": ["KE_042"] * 13,
            "TIME_PERIOD": [*months, "2024"],
            "OBS_VALUE": [*values, float(sum(30 + m for m in range(12)))],
            "OBS_STATUS": ["Q" if v is None else "A" for v in values] + ["A"],
            "UNIT_MEASURE": ["NUMBER"] * 13,
        }
    )
    report = disclosure.audit_published(table, ["FREQ", "REF_AREA"], threshold=K, file="other.csv")
    assert report.stats["audit"]["exposed"] == 1, report.stats["audit"]
    counted = defaultdict(int)
    for f in report.findings:
        counted[f.code] += 1
    assert counted[disclosure.EXPOSED] == 1


# -- age bands inside a wider band ------------------------------------------------------------------

BANDS = {"18-24": "Y18T24", "25-44": "Y25T44", "45-59": "Y45T59", "60+": "Y_GE60", "18-44": "Y18T44"}
AGE_MAPPING = (
    MAPPING.replace("primaryKey: [county, sex, frequency, period]", "primaryKey: [county, sex, age_group]")
    .replace(
        "    - {name: frequency, type: string, role: other}\n",
        "    - {name: age_group, type: string, role: disaggregation, dimension: AGE}\n",
    )
    .replace("    - {name: period, type: string, role: period}\n", "")
    .replace(
        "  FREQ: {column: frequency, map: {A: [Mwaka], Q: [Robo mwaka], M: [Mwezi]}}", "  FREQ: {value: A}"
    )
    .replace(
        "  AGE: {value: _T}",
        "  AGE: {column: age_group, map: {" + ", ".join(f'{c}: ["{b}"]' for b, c in BANDS.items()) + "}}",
    )
    .replace("time: {column: period, format: period}", 'time: {value: "2024"}')
)
# one small cell per county but Machakos, in a band the 18-44 band holds or outside it
SMALL_AGE = {("Kisumu", "Female", "18-24"): 2, ("Nakuru", "Male", "25-44"): 3, ("Kilifi", "Female", "60+"): 1}


def write_age_inputs(folder: Path, seed: int = 17) -> None:
    """Clients satisfied by county, sex (with its total) and age band, with the band 18-44
    beside the 18-24 and 25-44 it holds (as the scorecard's summary gives it); no age total."""
    assert "age_group" in AGE_MAPPING
    assert "Y18T44" in AGE_MAPPING
    assert "period" not in AGE_MAPPING.split("dimensions:")[0]
    rng = random.Random(seed)
    rows = []
    fine_bands = [b for b in BANDS if b != "18-44"]
    for county in COUNTIES.values():
        fine = {
            (s, b): SMALL_AGE.get((county, s, b), rng.randint(20, 90))
            for s in ("Female", "Male")
            for b in fine_bands
        }
        for sex in ("Female", "Male", "Jumla"):
            band = {
                b: sum(v for (s, bb), v in fine.items() if bb == b and sex in (s, "Jumla"))
                for b in fine_bands
            }
            band["18-44"] = band["18-24"] + band["25-44"]
            rows += [(county, sex, b, n) for b, n in band.items()]
    rng.shuffle(rows)
    with (folder / "data.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["county", "sex", "age_group", "satisfied"])
        w.writerows(rows)
    write_inputs(folder / "unused")  # the quality metadata, as for the monthly table
    (folder / "quality.yaml").write_text((folder / "unused/quality.yaml").read_text(encoding="utf-8"))
    (folder / "mapping.yaml").write_text(AGE_MAPPING, encoding="utf-8")


def band_relations(cells: list[Cell]) -> list[Relation]:
    """_T = F + M; Y18T44 = Y18T24 + Y25T44 for each county and sex."""
    have = set(cells)
    rel = sex_relations(have)
    rel += [
        ((a, s, "Y18T44", t), [(a, s, "Y18T24", t), (a, s, "Y25T44", t)])
        for a, s, g, t in have
        if g == "Y18T44"
    ]
    return checked(rel, have)


@pytest.mark.parametrize("slab_cells", [None, 15], ids=["whole", "slabs"])
def test_a_suppressed_band_stays_protected_from_the_wider_band_that_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slab_spy: list[int], slab_cells: int | None
) -> None:
    (tmp_path / "unused").mkdir()
    write_age_inputs(tmp_path)
    if slab_cells is not None:
        monkeypatch.setattr(disclosure, "SLAB_CELLS", slab_cells)
    published = convert(tmp_path, tmp_path / "out.csv")
    assert len(published) == 4 * 3 * 5
    assert max(slab_spy) == (1 if slab_cells is None else 4)
    hidden = {k for k, v in published.items() if v is None}
    names = {v: k for k, v in COUNTIES.items()}
    for county, sex, band in SMALL_AGE:
        assert (names[county], sex[0], BANDS[band], "2024") in hidden
    found = intervals(published, band_relations)
    narrow = {cell: (lo, hi) for cell, (lo, hi) in found.items() if hi - lo < K - 1e-6}
    assert not narrow, f"a reader narrows these suppressed cells below {K}: {narrow}"
