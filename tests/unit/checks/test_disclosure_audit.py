"""The disclosure audit and the secondary suppression it proves (#12): adversarial tables.

Each table is published as SDMX-CSV would carry it (codes, ``_T`` totals, counts). The old
family heuristic (``protect``) or a weakened pattern must fail the audit, naming the cell; the
suppression ``secure`` completes must pass it.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cgd_bridge.checks.disclosure import audit_published, protect, secure
from cgd_bridge.checks.relations import build_relations, dimension_parents, total_parents
from cgd_bridge.sdmx.formats import formats
from cgd_bridge.structures import Structures

K = 5
ROOT = Path(__file__).resolve().parents[3]


def cube(dims: dict[str, list[str]], finest: dict[tuple[str, ...], int]) -> pa.Table:
    """Every combination of the codes (each dimension's last code is ``_T``) with its sum."""
    names = list(dims)
    rows = []
    for key in itertools.product(*dims.values()):
        value = sum(v for k, v in finest.items() if all(key[i] in ("_T", k[i]) for i in range(len(names))))
        rows.append((*key, value))
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {**{n: list(cols[i]) for i, n in enumerate(names)}, "OBS_VALUE": [float(v) for v in cols[-1]]}
    )


def codes(t: pa.Table, dims: list[str]) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    keys, labels = {}, {}
    for d in dims:
        enc = t[d].combine_chunks().dictionary_encode()
        keys[d] = np.asarray(enc.indices, dtype=np.int64)
        labels[d] = enc.dictionary.to_pylist()
    return keys, labels


def old_heuristic(t: pa.Table, dims: list[str]) -> np.ndarray:
    """The suppression before #12: primary, then the family heuristic (zeros allowed)."""
    v = t["OBS_VALUE"].to_numpy()
    keys, labels = codes(t, dims)
    sup = (v > 0) & (v < K)
    totals = {d: np.asarray([labels[d][c] == "_T" for c in keys[d]]) for d in dims}
    protect(keys, totals, sup, v)
    return sup


def new_suppression(t: pa.Table, dims: list[str], hierarchy: dict[str, str] | None = None) -> np.ndarray:
    v = t["OBS_VALUE"].to_numpy()
    keys, labels = codes(t, dims)
    sup = (v > 0) & (v < K)
    totals = {d: np.asarray([labels[d][c] == "_T" for c in keys[d]]) for d in dims}
    protect(keys, totals, sup, v, eligible=v > 0)
    parents = {}
    for d in dims:
        if hierarchy and d == "REF_AREA":
            from cgd_bridge.checks.relations import hierarchy_parents

            parents[d] = hierarchy_parents(labels[d], hierarchy)
        elif "_T" in labels[d]:
            parents[d] = total_parents(len(labels[d]), {labels[d].index("_T")})
    secure(keys, parents, {"OBS_VALUE": v}, sup, v, K)
    return sup


def publish(t: pa.Table, sup: np.ndarray) -> pa.Table:
    values = [None if s else x for s, x in zip(sup.tolist(), t["OBS_VALUE"].to_pylist(), strict=True)]
    status = ["Q" if s else "A" for s in sup.tolist()]
    out = t.set_column(t.schema.get_field_index("OBS_VALUE"), "OBS_VALUE", pa.array(values, pa.float64()))
    return out.append_column("OBS_STATUS", pa.array(status)).append_column(
        "UNIT_MEASURE", pa.array(["PS"] * len(status))
    )


def run_audit(t: pa.Table, dims: list[str], sup: np.ndarray, hierarchy: dict[str, str] | None = None):
    return audit_published(
        publish(t, sup),
        dims,
        threshold=K,
        file="t.csv",
        hierarchies={"REF_AREA": hierarchy} if hierarchy else None,
    )


def exposed(report) -> list[str]:
    return [f.details["cell"] for f in report if f.code == "suppression-exposed"]


# -- county rows and a national row ----------------------------------------------------------------
def kenya_counties() -> tuple[pa.Table, dict[str, str]]:
    tree = dimension_parents(Structures.load(None), "CGD_BRIDGE:DF_CGD_KE(1.0)", "REF_AREA")
    counties = sorted(tree)
    assert len(counties) == 47
    rng = np.random.default_rng(47)
    finest = {}
    for c in counties:
        finest[(c, "F")] = int(rng.integers(20, 90))
        finest[(c, "M")] = int(rng.integers(20, 90))
    finest[("KE_030", "F")] = 3  # Baringo: three women answered
    rows = []
    for c in [*counties, "404"]:
        for s in ("F", "M", "_T"):
            rows.append(
                (c, s, sum(v for (cc, ss), v in finest.items() if c in ("404", cc) and s in ("_T", ss)))
            )
    cols = list(zip(*rows, strict=True))
    t = pa.table({"REF_AREA": list(cols[0]), "SEX": list(cols[1]), "OBS_VALUE": [float(v) for v in cols[2]]})
    return t, tree


def test_counties_and_the_national_row():
    t, tree = kenya_counties()
    dims = ["REF_AREA", "SEX"]
    old = old_heuristic(t, dims)  # protects along SEX only: the national row is not a _T
    found = exposed(run_audit(t, dims, old, tree))
    assert "REF_AREA=KE_030, SEX=F" in found  # national F minus the 46 other counties
    new = new_suppression(t, dims, tree)
    assert exposed(run_audit(t, dims, new, tree)) == []
    assert new[next(i for i, r in enumerate(t.to_pylist()) if (r["REF_AREA"], r["SEX"]) == ("KE_030", "F"))]


# -- 2-way with all totals: a zero is no complement --------------------------------------------------
def test_a_zero_complement_protects_nothing():
    finest = {("KE_042", "F"): 3, ("KE_042", "M"): 40, ("KE_042", "U"): 0}
    finest.update({("KE_032", "F"): 30, ("KE_032", "M"): 25, ("KE_032", "U"): 6})
    t = cube({"REF_AREA": ["KE_042", "KE_032", "_T"], "SEX": ["F", "M", "U", "_T"]}, finest)
    dims = ["REF_AREA", "SEX"]
    old = old_heuristic(t, dims)
    rows = t.to_pylist()
    zero = next(i for i, r in enumerate(rows) if (r["REF_AREA"], r["SEX"]) == ("KE_042", "U"))
    assert old[zero], "the old heuristic takes the zero, the smallest other part"
    assert "REF_AREA=KE_042, SEX=F" in exposed(run_audit(t, dims, old))
    new = new_suppression(t, dims)
    assert not new[zero]
    assert exposed(run_audit(t, dims, new)) == []


# -- 3-way with every marginal -----------------------------------------------------------------------
def test_three_way_table_with_all_marginals():
    rng = np.random.default_rng(3)
    sexes, ages, dis = ["F", "M"], ["Y15T19", "Y20T24", "Y25T29"], ["PD", "PWD"]
    finest = {k: int(rng.integers(15, 60)) for k in itertools.product(sexes, ages, dis)}
    finest[("F", "Y20T24", "PD")] = 2
    finest[("M", "Y25T29", "PD")] = 4
    t = cube({"SEX": [*sexes, "_T"], "AGE": [*ages, "_T"], "DISABILITY_STATUS": [*dis, "_T"]}, finest)
    dims = ["SEX", "AGE", "DISABILITY_STATUS"]
    new = new_suppression(t, dims)
    assert exposed(run_audit(t, dims, new)) == []
    # weakened: publish one of the complements again
    primary = (t["OBS_VALUE"].to_numpy() > 0) & (t["OBS_VALUE"].to_numpy() < K)
    for i in np.flatnonzero(new & ~primary):
        weak = new.copy()
        weak[i] = False
        if exposed(run_audit(t, dims, weak)):
            break
    else:
        pytest.fail("no complement mattered")
    assert exposed(run_audit(t, dims, weak))


# -- hierarchical areas: ISO 3166-2 provinces under Nepal ---------------------------------------------
def test_provinces_under_the_country_code():
    provinces = [f"NP-P{i}" for i in range(1, 8)]
    rng = np.random.default_rng(7)
    finest = {(p, s): int(rng.integers(10, 50)) for p in provinces for s in ("F", "M")}
    finest[("NP-P6", "M")] = 1  # Karnali
    rows = []
    for p in [*provinces, "NP"]:
        for s in ("F", "M", "_T"):
            rows.append(
                (p, s, sum(v for (pp, ss), v in finest.items() if p in ("NP", pp) and s in ("_T", ss)))
            )
    cols = list(zip(*rows, strict=True))
    t = pa.table({"REF_AREA": list(cols[0]), "SEX": list(cols[1]), "OBS_VALUE": [float(v) for v in cols[2]]})
    dims = ["REF_AREA", "SEX"]
    old = old_heuristic(t, dims)
    assert "REF_AREA=NP-P6, SEX=M" in exposed(run_audit(t, dims, old))
    tree = dict.fromkeys(provinces, "NP")
    new = new_suppression(t, dims, tree)
    assert exposed(run_audit(t, dims, new)) == []


# -- linked tables: two breakdowns sharing the grand total ---------------------------------------------
def test_linked_breakdowns_share_a_margin():
    # SEX x AGE=_T and SEX=_T x AGE: two tables of one series, linked by the grand total
    rows = [("F", "_T", 3), ("M", "_T", 60), ("_T", "Y15T19", 20), ("_T", "Y20T24", 43), ("_T", "_T", 63)]
    t = pa.table(
        {"SEX": [r[0] for r in rows], "AGE": [r[1] for r in rows], "OBS_VALUE": [float(r[2]) for r in rows]}
    )
    dims = ["SEX", "AGE"]
    sup = np.array([True, False, False, False, False])
    assert exposed(run_audit(t, dims, sup)) == ["SEX=F, AGE=_T"]  # the grand total minus the men
    new = new_suppression(t, dims)
    assert exposed(run_audit(t, dims, new)) == []


def test_a_complement_implied_elsewhere_is_caught():
    """The heuristic protects F along SEX with the smallest other part, but that part is itself
    given away by the AGE breakdown of the same totals."""
    finest = {("F", "Y15T19"): 3, ("F", "Y20T24"): 30, ("M", "Y15T19"): 7, ("M", "Y20T24"): 50}
    t = cube({"SEX": ["F", "M", "_T"], "AGE": ["Y15T19", "Y20T24", "_T"]}, finest)
    dims = ["SEX", "AGE"]
    rows = t.to_pylist()
    at = {(r["SEX"], r["AGE"]): i for i, r in enumerate(rows)}
    weak = np.zeros(len(rows), bool)
    weak[[at[("F", "Y15T19")], at[("M", "Y15T19")]]] = True  # protected along SEX only
    assert "AGE=Y15T19, SEX=F" in exposed(run_audit(t, dims, weak)) or "SEX=F, AGE=Y15T19" in exposed(
        run_audit(t, dims, weak)
    )
    assert exposed(run_audit(t, dims, new_suppression(t, dims))) == []


def test_relations_of_a_two_way_table():
    t = cube({"SEX": ["F", "M", "_T"], "AGE": ["A", "B", "_T"]}, {("F", "A"): 1, ("M", "B"): 2})
    keys, labels = codes(t, ["SEX", "AGE"])
    parents = {d: total_parents(len(labels[d]), {labels[d].index("_T")}) for d in keys}
    rel = build_relations(keys, parents)
    assert rel.n == 6  # 3 along SEX (A, B, _T) and 3 along AGE
    assert rel.equal.all()


# -- the command ------------------------------------------------------------------------------------
def test_cli_audit_names_the_exposed_cell(tmp_path):
    finest = {("F", "Y15T19"): 3, ("F", "Y20T24"): 30, ("M", "Y15T19"): 7, ("M", "Y20T24"): 50}
    t = cube({"SEX": ["F", "M", "_T"], "AGE": ["Y15T19", "Y20T24", "_T"]}, finest)
    head = "STRUCTURE,STRUCTURE_ID,ACTION,SEX,AGE,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS,CONF_STATUS\n"

    def write(sup: np.ndarray, name: str) -> Path:
        lines = [head]
        for r, s in zip(t.to_pylist(), sup.tolist(), strict=True):
            value = "" if s else f"{r['OBS_VALUE']:g}"
            lines.append(
                f"dataflow,CGD_BRIDGE:DF_CGD_KE(1.0),I,{r['SEX']},{r['AGE']},2024,{value},PS,"
                f"{'Q' if s else 'A'},{'C' if s else 'F'}\n"
            )
        path = tmp_path / name
        path.write_text("".join(lines), encoding="utf-8")
        return path

    at = {(r["SEX"], r["AGE"]): i for i, r in enumerate(t.to_pylist())}
    weak = np.zeros(t.num_rows, bool)
    weak[[at[("F", "Y15T19")], at[("M", "Y15T19")]]] = True
    cmd = [sys.executable, "-m", "cgd_bridge", "audit"]
    bad = subprocess.run([*cmd, str(write(weak, "weak.csv"))], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1, bad.stderr
    assert "SEX=F, AGE=Y15T19" in bad.stdout
    assert "suppression-exposed" in bad.stdout
    assert bad.stdout.startswith("EXPOSED: 2 error(s)")
    assert "(disclosure audit, " in bad.stdout
    assert bad.stdout.rstrip().endswith("or publish the table through cgd-bridge convert.")
    assert "do not publish it as it is" in bad.stdout
    assert "submit" not in bad.stdout
    good = subprocess.run(
        [*cmd, str(write(new_suppression(t, ["SEX", "AGE"]), "good.csv"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.startswith("PROTECTED: 0 error(s)")
    assert "No suppressed cell can be worked out from this file" in good.stdout
    assert "submit" not in good.stdout
    missing = subprocess.run([*cmd, str(tmp_path / "nope.csv")], capture_output=True, text=True, cwd=ROOT)
    assert missing.returncode == 2
    assert "nope.csv" in missing.stderr


# -- the completion at scale: many small cells in one table, every marginal ---------------------------
def four_way(areas: int, seed: int) -> tuple[pa.Table, list[str]]:
    """Malawi's districts x sex x age x disability with every marginal; one finest cell in ten is
    small, a few are zero (the shape benchmarks/suppression.py times)."""
    rng = np.random.default_rng(seed)
    dims = {
        "REF_AREA": [f"MW-{i:02d}" for i in range(1, areas + 1)],
        "SEX": ["F", "M"],
        "AGE": ["Y15T24", "Y25T44", "Y_GE45"],
        "DISABILITY_STATUS": ["PD", "PWD"],
    }
    finest = {}
    for key in itertools.product(*dims.values()):
        r = rng.random()
        finest[key] = 0 if r < 0.03 else int(rng.integers(1, K)) if r < 0.13 else int(rng.integers(8, 90))
    return cube({d: [*codes_, "_T"] for d, codes_ in dims.items()}, finest), list(dims)


def lp_only(t: pa.Table, dims: list[str]) -> tuple[np.ndarray, np.ndarray]:
    v = t["OBS_VALUE"].to_numpy()
    keys, labels = codes(t, dims)
    sup = (v > 0) & (v < K)
    primary = sup.copy()
    parents = {d: total_parents(len(labels[d]), {labels[d].index("_T")}) for d in dims}
    secure(keys, parents, {"OBS_VALUE": v}, sup, v, K)
    return primary, sup


def test_many_small_cells_are_protected_jointly_and_each_complement_matters():
    t, dims = four_way(6, seed=21)
    primary, sup = lp_only(t, dims)
    v = t["OBS_VALUE"].to_numpy()
    assert primary.sum() >= 6
    assert not sup[v == 0].any(), "a zero is never a complement"
    assert exposed(run_audit(t, dims, sup)) == []
    # publishing any one complement again exposes a cell, for most complements
    complements = np.flatnonzero(sup & ~primary)
    weakened = 0
    for i in complements[:12]:
        weak = sup.copy()
        weak[i] = False
        weakened += bool(exposed(run_audit(t, dims, weak)))
    assert weakened >= 6, f"only {weakened} of 12 complements mattered"


def test_the_one_cell_at_a_time_fallback_also_holds(monkeypatch):
    """When the joint deviation finds nothing, each exposed cell gets LPs of its own."""
    import cgd_bridge.checks.audit as audit_mod

    monkeypatch.setattr(audit_mod, "_joint", lambda *a, **k: None)
    t, dims = four_way(3, seed=5)
    primary, sup = lp_only(t, dims)
    assert primary.any()
    assert (sup & ~primary).any()
    assert exposed(run_audit(t, dims, sup)) == []


def test_the_warm_solver_finds_the_intervals_linprog_finds(monkeypatch):
    """The audit keeps each component's LP in HiGHS between solves; without it (linprog from
    scratch) the intervals and the exposed cells are the same."""
    import cgd_bridge.checks.audit as audit_mod
    from cgd_bridge.checks.audit import audit

    t, dims = four_way(4, seed=8)
    v = t["OBS_VALUE"].to_numpy()
    keys, labels = codes(t, dims)
    parents = {d: total_parents(len(labels[d]), {labels[d].index("_T")}) for d in dims}
    rel = build_relations(keys, parents)
    sup = (v > 0) & (v < K)  # primary only: many cells exposed
    shown = np.where(sup, np.nan, v)
    warm = audit(rel, shown, sup, float(K))
    monkeypatch.setattr(audit_mod, "_highs", None)
    cold = audit(rel, shown, sup, float(K))
    assert warm.exposed, "primary suppression alone must be exposed"
    assert [e.row for e in warm.exposed] == [e.row for e in cold.exposed]
    for a, b in zip(warm.exposed, cold.exposed, strict=True):
        assert a.low == pytest.approx(b.low, abs=1e-6)
        assert a.high == pytest.approx(b.high, abs=1e-6)


def test_the_audit_has_its_own_verdict_and_validate_keeps_its_own():
    from cgd_bridge.findings import InputInfo, Report
    from cgd_bridge.render import render_html, render_text

    finest = {("F", "Y15T19"): 3, ("F", "Y20T24"): 30, ("M", "Y15T19"): 7, ("M", "Y20T24"): 50}
    t = cube({"SEX": ["F", "M", "_T"], "AGE": ["Y15T19", "Y20T24", "_T"]}, finest)
    protected = run_audit(t, ["SEX", "AGE"], new_suppression(t, ["SEX", "AGE"]))
    text = render_text(protected)
    assert text.startswith("PROTECTED")
    assert "ready to submit" not in text
    html = render_html(protected)
    assert "<h1>Disclosure audit</h1>" in html
    assert "No suppressed cell can be worked out" in html
    # percentages: nothing additive to audit, and the verdict says so
    percent = publish(t, new_suppression(t, ["SEX", "AGE"])).drop_columns(["UNIT_MEASURE"])
    percent = percent.append_column("UNIT_MEASURE", pa.array(["PT"] * percent.num_rows))
    shares = audit_published(percent, ["SEX", "AGE"], threshold=K, file="t.csv")
    assert render_text(shares).startswith("NOTHING AUDITABLE")
    assert "do not add up" in render_text(shares)
    # validate's report is unchanged (a submission's, with its metadata and mapping read)
    plain = Report()
    plain.inputs += [InputInfo(file="quality.yaml", kind="metadata", format="yaml"),
                     InputInfo(file="mapping.yaml", kind="mapping", format="yaml")]  # fmt: skip
    plain.finish()
    assert render_text(plain).startswith("VALID")
    assert render_text(plain).rstrip().endswith("The dataset is ready to submit.")
    assert "<h1>Validation report</h1>" in render_html(plain)


# -- the command on every data format the bridge writes ---------------------------------------------
@pytest.fixture(scope="module")
def kenya_counts():
    """The Kenya scorecard's observations with their respondents as the published value (a count
    series, UNIT_MEASURE NUMBER), and the writers' target."""
    from cgd_bridge import pipeline

    kenya = ROOT / "examples" / "kenya-health-scorecard"
    result = pipeline.harmonise(
        kenya / "data.csv",
        metadata=kenya / "quality.yaml",
        mapping=ROOT / "mappings" / "kenya-health-scorecard.yaml",
    )
    assert result.harmonised is not None
    assert result.target is not None
    t = result.harmonised.table
    target = result.target
    t = t.set_column(t.schema.get_field_index("OBS_VALUE"), "OBS_VALUE", t["OBS_DENOMINATOR"])
    t = t.set_column(
        t.schema.get_field_index("UNIT_MEASURE"), "UNIT_MEASURE", pa.array(["NUMBER"] * t.num_rows)
    )
    return t.select([*target.dimensions, "TIME_PERIOD", "OBS_VALUE", *target.attributes]), target


def write_ml(t: pa.Table, target, sup: np.ndarray, fmt: str, path: Path) -> Path:
    from cgd_bridge.sdmx.write import write

    value = pa.array(np.where(sup, np.nan, t["OBS_VALUE"].to_numpy()), from_pandas=True)
    t = t.set_column(t.schema.get_field_index("OBS_VALUE"), "OBS_VALUE", value)
    for col, code in (("OBS_STATUS", "Q"), ("CONF_STATUS", "C")):
        mark = pa.array(np.where(sup, code, t[col].to_numpy(zero_copy_only=False)))
        t = t.set_column(t.schema.get_field_index(col), col, mark)
    with path.open("wb") as f:
        write(fmt, t, target, f)
    return path


DATA_FORMATS = [f.name for f in formats("data") if f.writer]


def test_every_data_format_is_audited():
    """The parametrised audits below take their formats from the table: every writer is there."""
    assert set(DATA_FORMATS) == {
        "sdmx-csv-1.0", "sdmx-csv-2.0", "sdmx-ml-2.1-ss", "sdmx-ml-2.1-generic", "sdmx-ml-3.0-ss",
        "sdmx-json-2.0", "sdmx-json-1.0", "sdmx-ml-2.1-generic-ts", "sdmx-ml-2.1-ss-ts",
    }  # fmt: skip


def audit_cli(*args: str | Path) -> tuple[int, str, str]:
    """``cgd-bridge audit ARGS`` in this process (the CLI's own entry point, with its error
    handling, without a Python start per call); its exit code, stdout and stderr."""
    import contextlib
    import io

    from cgd_bridge.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as done:
        main(["audit", *map(str, args)])
    return int(done.value.code or 0), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_cli_audit_reads_every_data_format(kenya_counts, fmt, tmp_path):
    """The audit reads each format as the bridge writes it: a weakened suppression fails naming
    the cell and the relation, a sound one passes with every suppressed cell audited."""
    t, target = kenya_counts
    rows = t.select(["REF_AREA", "SEX", "AGE", "DISABILITY_STATUS"]).to_pylist()
    cell = {"REF_AREA": "KE_042", "SEX": "F", "AGE": "Y18T24", "DISABILITY_STATUS": "PD"}
    weak = np.array([r == cell for r in rows])
    assert weak.sum() == 1
    code, out, err = audit_cli(write_ml(t, target, weak, fmt, tmp_path / "weak.data"))
    assert code == 1, out + err
    assert "REF_AREA=KE_042, SEX=F, AGE=Y18T24, DISABILITY_STATUS=PD" in out
    assert "a reader can work it out exactly: 19" in out
    # a row number only where rows are lines of the file
    assert ("weak.data, row " in out) == fmt.startswith("sdmx-csv"), out
    # the relation: the SEX total of the same cell, published, minus the men
    assert "through along SEX: [REF_AREA=KE_042, SEX=_T, AGE=Y18T24, DISABILITY_STATUS=PD] =" in out
    # Kisumu (KE_042) withheld whole: nothing outside it adds up to any of its cells
    county = np.array([r["REF_AREA"] == "KE_042" for r in rows])
    code, out, err = audit_cli(write_ml(t, target, county, fmt, tmp_path / "good.data"))
    assert code == 0, out + err
    assert out.startswith("PROTECTED")
    n = int(county.sum())
    assert f"{n} suppressed cell{'s' if n != 1 else ''}, {n} audited" in err


@pytest.mark.parametrize("fmt", DATA_FORMATS)
def test_a_truncated_file_is_refused_naming_it_and_the_fix(kenya_counts, fmt, tmp_path):
    t, target = kenya_counts
    whole = write_ml(t, target, np.zeros(t.num_rows, bool), fmt, tmp_path / "whole.data").read_bytes()
    path = tmp_path / "cut.data"
    path.write_bytes(whole[: len(whole) // 2])
    code, out, err = audit_cli(path)
    if fmt.startswith("sdmx-csv"):
        # half a CSV is a shorter CSV (its last row may be cut): never a traceback
        assert code in (0, 1, 2), out + err
    else:
        assert code == 2, out + err
        assert "cut.data" in err
        assert "cut off" in err
        assert "write the file again" in err
    assert "Traceback" not in err
