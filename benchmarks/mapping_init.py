"""How much of a mapping `cgd-bridge mapping init` gets right on realistic exports (#18).

The exports are ``tests/corpus/mapping_exports.py``: a Swahili county scorecard from Kenya
(county names with and without "County"/"City"), a KoboToolbox microdata export from Uganda with
an English/Swahili XLSForm whose choice names are numbers, an ODK Central CSV from Tanzania
(``group-question`` headers, Swahili answers, no form) and a Ghana aggregate table with
abbreviations. Each is drafted (:func:`cgd_bridge.mapping.draft.draft_mapping`) and compared
with the mapping a person would write: the column or fixed code of every dimension of the
DSD, and the code of every label of a mapped column. SERIES is not counted (the NSO chooses it;
the draft proposes one to confirm).

Learning from earlier work (``mapping init --learn-from``) is measured too: every export drafted
alone and again with the bundled mappings as evidence (the share must not drop), and a second
export of the Kenyan CSO (renamed columns, its own abbreviations and codes) drafted alone and with
its earlier mapping and open-sdg code map (learning must raise the share, to the goals).

    python benchmarks/mapping_init.py              # 500 respondents per microdata export
    python benchmarks/mapping_init.py --tiny       # 40: seconds, for CI

Goals (issue #18): >= 90 % of dimensions and >= 95 % of label choices right on the first exports,
alone and learning; learning no worse on them, and better on the second export, where it meets the
goals too. Exit code 0 when all hold, 1 otherwise (an accuracy benchmark, one run in-process, not
through the harness).
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
from tests.corpus.mapping_exports import FIRST_EXPORTS, SECOND_EXPORTS, Score, evaluate  # noqa: E402

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
    runs: dict[tuple[str, bool], Score] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for what, cases in (("first", FIRST_EXPORTS), ("second", SECOND_EXPORTS)):
            for learn in (False, True):
                folder = Path(tmp) / f"{what}-{learn}"
                runs[(what, learn)] = evaluate(folder, structures, rows=rows, cases=cases, learn=learn)
    seconds = time.perf_counter() - start
    print(f"{len(FIRST_EXPORTS)} first exports and {len(SECOND_EXPORTS)} second export(s), "
          f"{rows} respondents per microdata export, drafted twice in {seconds:.2f} s\n")  # fmt: skip
    print(f"Goals: >= {DIMENSIONS:.0%} of dimensions, >= {LABELS:.0%} of labels right.\n")
    print("| exports | learning from | dimension -> column or code | label -> code | verdict |")
    print("|---|---|---|---|---|")
    verdicts = {}
    for (what, learn), s in runs.items():
        meets = s.dimension_share >= DIMENSIONS and s.label_share >= LABELS
        if what == "first":
            ok = meets and (not learn or _no_worse(s, runs[(what, False)]))
        else:
            ok = not learn or (meets and _better(s, runs[(what, False)]))
        verdicts[(what, learn)] = ok
        names = (
            f"{len(FIRST_EXPORTS)} first exports"
            if what == "first"
            else f"{len(SECOND_EXPORTS)} second export"
        )
        source = (
            ("the bundled mappings" if what == "first" else "its earlier mappings + bundled")
            if learn
            else "-"
        )
        print(f"| {names} | {source} | "
              f"{s.dimensions_right} of {s.dimensions} ({100 * s.dimension_share:.1f} %) | "
              f"{s.labels_right} of {s.labels} ({100 * s.label_share:.1f} %) | "
              f"{_verdict(what, learn, ok)} |")  # fmt: skip
    ok = all(verdicts.values())
    for (what, learn), s in runs.items():
        if args.verbose or not verdicts[(what, learn)]:
            for line in s.misses:
                print(f"  wrong ({what} export, {'learning' if learn else 'alone'}): {line}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _no_worse(s: Score, alone: Score) -> bool:
    return s.dimensions_right >= alone.dimensions_right and s.labels_right >= alone.labels_right


def _better(s: Score, alone: Score) -> bool:
    return _no_worse(s, alone) and (s.dimensions_right, s.labels_right) != (
        alone.dimensions_right,
        alone.labels_right,
    )


def _verdict(what: str, learn: bool, ok: bool) -> str:
    if what == "second" and not learn:
        return "(the baseline)"
    word = "PASS" if ok else "FAIL"
    if what == "first":
        return f"{word}: meets the goals" + (", no worse than alone" if learn else "")
    return f"{word}: meets the goals, better than alone"


if __name__ == "__main__":
    sys.exit(main())
