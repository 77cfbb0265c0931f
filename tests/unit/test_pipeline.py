"""The pipeline: progress reporting, schema choice, the public API."""

from __future__ import annotations

import cgd_bridge
from cgd_bridge.checks import Options


def test_progress_is_reported_per_batch(write):
    body = "county,respondents\n" + "".join(f"area-with-a-long-name-{i},{i % 50}\n" for i in range(120_000))
    path = write("big.csv", body)
    seen: list[tuple[int, int | None]] = []
    report = cgd_bridge.validate(
        path, options=Options(batch_rows=20_000), progress=lambda d, e: seen.append((d, e))
    )
    assert len(seen) > 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1][0] == 120_000 == report.stats["rows"]
    assert all(e is not None and e >= d for d, e in seen)


def test_report_json_is_frictionless_shaped(write):
    report = cgd_bridge.validate(write("d.csv", "county,respondents\nA,x\nB,10\nC,12\n"))
    d = report.to_dict()
    assert set(d) >= {"valid", "stats", "tasks", "warnings", "errors"}
    task = d["tasks"][0]
    assert task["type"] == "table"
    assert task["labels"] == ["county", "respondents"]
    assert task["stats"]["rows"] == 3
    assert len(task["stats"]["sha256"]) == 64
    err = task["errors"][0]
    assert err["type"] == "type-error"
    assert err["rowNumber"] == 2
    assert err["fieldName"] == "respondents"
