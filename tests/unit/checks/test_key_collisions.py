"""The duplicate-key check reports only real duplicates, whatever the key values (#16).

A polynomial hash mod 2**64 collides for every odd base on Thue-Morse strings; these tests run
such a pair through the real ``cgd-bridge validate``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.checks.conftest import AGG_SCHEMA

HEAD = "county,sex,year,respondents,satisfied\n"


def thue_morse_pair(n: int) -> tuple[str, str]:
    """Two different texts of ``n`` characters that every polynomial hash mod 2**64 confuses."""
    s = [0]
    while len(s) < n:
        s = s + [1 - x for x in s]
    return "".join("ab"[x] for x in s[:n]), "".join("ba"[x] for x in s[:n])


def _validate(tmp_path: Path, csv: str, schema: dict) -> list[dict]:
    data = tmp_path / "data.csv"
    data.write_text(csv, encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump({"profile": "cgd-mapping/1.0", "schema": schema}))
    r = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "validate", str(data), "--mapping", str(mapping),
         "--format", "json"],
        capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, check=False,
    )  # fmt: skip
    assert "Traceback" not in r.stderr, r.stderr
    report = json.loads(r.stdout)
    return [e for task in report["tasks"] for e in task["errors"]]


KEY_SCHEMA = {"fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "integer"}],
              "primaryKey": ["id"]}  # fmt: skip


def test_thue_morse_keys_are_not_duplicates_through_validate(tmp_path: Path) -> None:
    a, b = thue_morse_pair(2048)
    assert a != b
    errors = _validate(tmp_path, f"id,n\n{a},1\n{b},2\n", KEY_SCHEMA)
    assert not [e for e in errors if e.get("type") == "duplicate-key"], errors


def test_true_duplicates_still_found_through_validate(tmp_path: Path) -> None:
    a, b = thue_morse_pair(2048)
    errors = _validate(tmp_path, f"id,n\n{a},1\n{b},2\n{a},3\n", KEY_SCHEMA)
    dup = [e for e in errors if e.get("type") == "duplicate-key"]
    assert len(dup) == 1, errors
    assert dup[0]["rowNumbers"] == [2, 4]


def test_duplicates_across_batches_nulls_empty_and_non_ascii(run) -> None:
    schema = {"fields": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}],
              "primaryKey": ["a", "b"]}  # fmt: skip
    x, y = thue_morse_pair(1024)
    rows = [f"k{i},v{i}" for i in range(2500)]
    rows[10] = "नेपाल,"  # b empty (read as null)
    rows[1900] = "नेपाल,"  # the same key in another batch
    rows[20] = f"{x},Ngʼambo"
    rows[2400] = f"{y},Ngʼambo"  # a different key: no finding
    rows[30] = ",বাংলা"
    rows[1500] = ",বাংলা"  # a null first part, twice
    rows[40] = "k40,v1999"  # a different pair of values than row 1999's
    r = run("a,b\n" + "\n".join(rows) + "\n", schema=schema, metadata=False, batch_rows=1000)
    dup = sorted(f.rows for f in r if f.code == "duplicate-key")
    assert dup == [(12, 1902), (32, 1502)]


def test_unique_text_column_with_colliding_pair(run) -> None:
    a, b = thue_morse_pair(4096)
    schema = {"fields": [{"name": "code", "type": "string", "constraints": {"unique": True}}]}
    r = run(f"code\n{a}\n{b}\n\n{a}\n", schema=schema, metadata=False)
    assert [f.rows for f in r if f.code == "unique-error"] == [(2, 5)]  # row 4 is blank


def test_agg_schema_duplicate_key_unchanged(run) -> None:
    body = "Kisumu,Female,2024,20,10\nKisumu,Male,2024,20,10\nKisumu,Female,2024,21,10\n"
    r = run(HEAD + body, schema=AGG_SCHEMA, metadata=False)
    assert [f.rows for f in r if f.code == "duplicate-key"] == [(2, 4)]
