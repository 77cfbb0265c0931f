"""Precision and recall of the identifier detector per kind, and its false alarms, on the corpus.

The corpus is ``tests/corpus/identifiers.py``: labelled columns of realistic CSO exports from
Kenya, Nepal, Bangladesh, India, Viet Nam and Malawi (people's names, phones, e-mails, GPS,
dates of birth, national IDs, registry numbers, addresses, identifiers inside comments) and
innocent look-alikes (ISO and survey dates, household and survey codes, ward numbers, ages,
yes/no answers under phone-like names, districts, Likert answers, amounts, free text). The
detector (``cgd_bridge.checks.identifiers.detect_columns``) sees each table as the privacy
check does; a column counts as found when the detector blocks it with the labelled kind.

    python benchmarks/identifiers.py              # 1,000 values per column (the detector's sample)
    python benchmarks/identifiers.py --rows 200
    python benchmarks/identifiers.py --tiny       # 20 values per column: seconds, for CI

Requirements (issue #12): recall >= 95 % for every kind, false alarms on at most 2 % of the
innocent columns. Exit code 0 when both hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cgd_bridge.checks.identifiers import KINDS, SAMPLE  # noqa: E402
from tests.corpus.identifiers import corpus, evaluate  # noqa: E402

RECALL = 0.95
FALSE_ALARMS = 0.02


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=SAMPLE, help=f"values per column (default {SAMPLE})")
    parser.add_argument("--tiny", action="store_true", help="20 values per column, for a quick run")
    parser.add_argument("--seed", type=int, default=12, help="the corpus seed (default 12)")
    parser.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args(argv)
    rows = 20 if args.tiny else args.rows

    start = time.perf_counter()
    tables = corpus(rows=rows, seed=args.seed)
    built = time.perf_counter() - start
    s = evaluate(tables)
    labelled = s.columns - s.innocent
    print(
        f"corpus: {len(tables)} tables, {s.columns} columns ({labelled} identifiers, {s.innocent} innocent), "
        f"{rows} values per column, built in {built:.2f} s"
    )
    print(f"detector: {s.seconds:.2f} s, {1000 * s.seconds / s.columns:.1f} ms per column\n")
    print(f"| kind | columns | found | missed | false positives | precision | recall | >= {RECALL:.0%} |")
    print("|---|---|---|---|---|---|---|---|")
    ok = True
    for kind in KINDS:
        n = s.tp[kind] + s.fn[kind]
        if n == 0 and s.fp[kind] == 0:
            continue
        recall = s.recall(kind)
        passed = recall is None or recall >= RECALL
        ok &= passed
        print(
            f"| {kind} | {n} | {s.tp[kind]} | {s.fn[kind]} | {s.fp[kind]} | {_pct(s.precision(kind))} | "
            f"{_pct(recall)} | {'PASS' if passed else 'FAIL'} |"
        )
    alarms_ok = s.false_alarm_rate <= FALSE_ALARMS
    ok &= alarms_ok
    print(
        f"\nfalse alarms: {len(s.false_alarms)} of {s.innocent} innocent columns = "
        f"{_pct(s.false_alarm_rate)} (<= {FALSE_ALARMS:.0%}): {'PASS' if alarms_ok else 'FAIL'}"
    )
    if args.verbose or not ok:
        for line in s.missed:
            print(f"  missed: {line}")
        for line in s.false_alarms:
            print(f"  false alarm: {line}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
