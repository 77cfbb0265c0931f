"""Benchmark secondary suppression and the disclosure audit on generated tables (#12).

Each table is a seeded 4-way table of counts, REF_AREA x SEX x AGE x DISABILITY_STATUS, with
every marginal (``_T`` on each dimension, so every 1-, 2- and 3-way total is published too): A
areas + the total x 3 x 5 x 3 = 45 (A + 1) cells. About one finest cell in ten is small (1 to
k-1), a few are zero. The script runs what ``convert`` runs on such a table: primary
suppression, then :func:`cgd_bridge.checks.disclosure.secure`, which audits and adds complements
until the audit passes (``--heuristic`` runs the old family heuristic first, for comparison).
Then, independently, it runs the audit a reader would run on the published table
(:func:`cgd_bridge.checks.disclosure.audit_published`, as ``cgd-bridge audit``).

Usage (from the repository root)::

    .venv/bin/python benchmarks/suppression.py            # ~2,000 and ~10,000 cells
    .venv/bin/python benchmarks/suppression.py --tiny     # a few hundred cells, seconds
    .venv/bin/python benchmarks/suppression.py --cells 50000

Exit code: 0 when the audit of every completed table passes, 2 when it fails on one.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's own cgd_bridge

from cgd_bridge.checks.disclosure import audit_published, protect, secure
from cgd_bridge.checks.relations import total_parents

K = 5
SEXES = ["F", "M"]
AGES = ["Y15T24", "Y25T44", "Y45T64", "Y_GE65"]
DISABILITY = ["PD", "PWD"]
DIMS = ["REF_AREA", "SEX", "AGE", "DISABILITY_STATUS"]


@dataclass
class Run:
    cells: int
    primary: int
    secondary: int
    loss_share: float  # secondary suppressed total value / sum of the finest cells' values
    suppress_s: float
    suppress_cpu: float
    audit_s: float
    exposed: int
    lps: int
    completion_lps: int = 0  # the completion's own LPs: deviations and its audits
    cubes: int = 0  # exposed cells protected by a hypercube, no LP


def table(areas: int, seed: int = 12) -> pa.Table:
    """The 4-way table with every marginal, as codes and counts."""
    rng = np.random.default_rng(seed)
    area_codes = [f"KE_{i:03d}" for i in range(1, areas + 1)]
    dims = [area_codes, SEXES, AGES, DISABILITY]
    finest = np.asarray(rng.integers(8, 120, size=[len(d) for d in dims]), dtype=np.float64)
    flat = finest.reshape(-1)
    small = rng.random(flat.size) < 0.10
    flat[small] = rng.integers(1, K, size=int(small.sum()))
    zero = rng.random(flat.size) < 0.02
    flat[zero] = 0
    full = finest
    for axis in range(full.ndim):  # append the total along each axis
        full = np.concatenate([full, full.sum(axis=axis, keepdims=True)], axis=axis)
    labels = [[*d, "_T"] for d in dims]
    keys = list(itertools.product(*labels))
    columns = {name: [k[i] for k in keys] for i, name in enumerate(DIMS)}
    return pa.table({**columns, "OBS_VALUE": full.reshape(-1)})


def codes(t: pa.Table) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
    keys, labels = {}, {}
    for d in DIMS:
        enc = t[d].combine_chunks().dictionary_encode()
        keys[d] = np.asarray(enc.indices, dtype=np.int64)
        labels[d] = [str(x) for x in enc.dictionary.to_pylist()]
    return keys, labels


def run(areas: int, *, heuristic: bool = False, cubes: bool = True) -> Run:
    """Suppress and audit the table of ``areas`` areas; ``heuristic``: run the family heuristic
    (:func:`cgd_bridge.checks.disclosure.protect`) before the LP completion, as the pipeline did
    before (it now runs the completion alone)."""
    t = table(areas)
    v = t["OBS_VALUE"].to_numpy()
    keys, labels = codes(t)
    started, cpu = time.perf_counter(), time.process_time()
    sup = (v > 0) & (v < K)
    primary = sup.copy()
    totals = {d: np.asarray([labels[d][c] == "_T" for c in keys[d]]) for d in DIMS}
    if heuristic:
        protect(keys, totals, sup, v, eligible=v > 0)
    parents = {d: total_parents(len(labels[d]), {labels[d].index("_T")}) for d in DIMS}
    done = secure(keys, parents, {"OBS_VALUE": v}, sup, v, K, cubes=cubes).completion
    suppress_s, suppress_cpu = time.perf_counter() - started, time.process_time() - cpu
    shown = pa.array(np.where(sup, np.nan, v), from_pandas=True)
    published = t.set_column(t.schema.get_field_index("OBS_VALUE"), "OBS_VALUE", shown).append_column(
        "OBS_STATUS", pa.array(np.where(sup, "Q", "A"))
    )
    started = time.perf_counter()
    report = audit_published(published, DIMS, threshold=K, file="generated")
    audit_s = time.perf_counter() - started
    stats = report.stats["audit"]
    finest = np.all([~totals[d] for d in DIMS], axis=0)
    secondary = sup & ~primary
    return Run(
        cells=t.num_rows,
        primary=int(primary.sum()),
        secondary=int(secondary.sum()),
        loss_share=float(v[secondary & finest].sum() / max(v[finest].sum(), 1.0)),
        suppress_s=suppress_s,
        suppress_cpu=suppress_cpu,
        audit_s=audit_s,
        exposed=int(stats["exposed"]) + int(stats["not_audited"]),
        lps=int(stats["linear_programmes"]),
        completion_lps=done.lps + sum(r.lps for r in done.result.values()),
        cubes=done.cubes,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="one table of a few hundred cells")
    parser.add_argument("--cells", type=int, nargs="*", help="approximate table sizes (default 2000 10000)")
    parser.add_argument("--heuristic", action="store_true", help="the family heuristic before the LPs")
    parser.add_argument(
        "--no-cubes", action="store_true", help="the deviation LPs alone, without the hypercubes first"
    )
    args = parser.parse_args(argv)
    sizes = [360] if args.tiny else (args.cells or [2000, 10000])
    print(f"{'cells':>7} {'primary':>8} {'secondary':>10} {'lost value':>11} {'suppress s':>11} "
          f"{'(cpu s)':>8} {'LPs':>5} {'cubes':>6} {'audit s':>8} {'audit LPs':>10} "
          f"{'exposed':>8}")  # fmt: skip
    failed = False
    for size in sizes:
        r = run(max(1, round(size / 45) - 1), heuristic=args.heuristic, cubes=not args.no_cubes)
        print(f"{r.cells:>7,} {r.primary:>8,} {r.secondary:>10,} {r.loss_share:>10.1%} {r.suppress_s:>11.2f} "
              f"{r.suppress_cpu:>8.2f} {r.completion_lps:>5,} {r.cubes:>6,} {r.audit_s:>8.2f} {r.lps:>10,} "
              f"{r.exposed:>8,}")  # fmt: skip
        failed |= r.exposed > 0
    print("FAIL: the audit finds exposed or unaudited cells after completion" if failed else "PASS")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
