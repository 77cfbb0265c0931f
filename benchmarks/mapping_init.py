"""How much of a mapping `cgd-bridge mapping init` gets right on realistic exports (#18).

The exports are ``tests/corpus/mapping_exports.py``: a Swahili county scorecard from Kenya
(county names with and without "County"/"City"), a KoboToolbox microdata export from Uganda with
an English/Swahili XLSForm whose choice names are numbers, an ODK Central CSV from Tanzania
(``group-question`` headers, Swahili answers, no form) and a Ghana aggregate table with
abbreviations. Each is drafted (:func:`cgd_bridge.mapping.draft.draft_mapping`) and compared
with the mapping a person would write: the column or fixed code of every dimension of the
DSD, and the code of every label of a mapped column. SERIES is not counted (the NSO chooses it;
the draft proposes one to confirm).

    python benchmarks/mapping_init.py              # 500 respondents per microdata export
    python benchmarks/mapping_init.py --tiny       # 40: seconds, for CI

Goals (issue #18): >= 90 % of dimensions and >= 95 % of label choices right. Exit code 0 when
both hold, 1 otherwise (an accuracy benchmark, one run in-process, not through the harness).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cgd_bridge.structures import Structures  # noqa: E402
from tests.corpus.mapping_exports import CASES, evaluate  # noqa: E402

DIMENSIONS = 0.90
LABELS = 0.95


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=500, help="respondents per microdata export (default 500)"
    )
    parser.add_argument("--tiny", action="store_true", help="40 respondents per export, for a quick run")
    parser.add_argument("--verbose", action="store_true", help="list every wrong choice")
    args = parser.parse_args(argv)
    rows = 40 if args.tiny else args.rows
    structures = Structures.load(None, bundled=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        s = evaluate(Path(tmp), structures, rows=rows)
    seconds = time.perf_counter() - start
    print(f"{len(CASES)} exports, {rows} respondents per microdata export, drafted in {seconds:.2f} s\n")
    dims_ok = s.dimension_share >= DIMENSIONS
    labels_ok = s.label_share >= LABELS
    print("| choices | right | share | goal | verdict |")
    print("|---|---|---|---|---|")
    print(
        f"| dimension -> column or code | {s.dimensions_right} of {s.dimensions} | "
        f"{100 * s.dimension_share:.1f} % | >= {DIMENSIONS:.0%} | {'PASS' if dims_ok else 'FAIL'} |"
    )
    print(f"| label -> code | {s.labels_right} of {s.labels} | {100 * s.label_share:.1f} % | "
          f">= {LABELS:.0%} | {'PASS' if labels_ok else 'FAIL'} |")  # fmt: skip
    if args.verbose or not (dims_ok and labels_ok):
        for line in s.misses:
            print(f"  wrong: {line}")
    ok = dims_ok and labels_ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
