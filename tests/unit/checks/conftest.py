"""Helpers to run the validation pipeline on small hand-made inputs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cgd_bridge.checks import Options, disclosure
from cgd_bridge.findings import Report
from cgd_bridge.pipeline import validate

ROOT = Path(__file__).resolve().parents[3]
KENYA = ROOT / "examples" / "kenya-health-scorecard"


def load_good_metadata() -> dict[str, Any]:
    """The Kenya example's complete quality metadata, as a dict to modify."""
    return yaml.safe_load((KENYA / "quality.yaml").read_text(encoding="utf-8"))


def set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    """Set (or, with value ... , delete) a dotted path in a nested dict."""
    parts = dotted.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    if value is ...:
        d.pop(parts[-1], None)
    else:
        d[parts[-1]] = value


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., Report]:
    """Validate CSV text with an optional schema and metadata changes.

    ``run(csv, schema={...}, meta={"consent.obtained": False}, metadata=False, **options)``
    """

    def _run(
        csv: str,
        *,
        schema: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        metadata: bool = True,
        name: str = "data.csv",
        **options: Any,
    ) -> Report:
        data = tmp_path / name
        data.write_text(csv, encoding="utf-8")
        mapping_path = None
        if schema is not None:
            mapping_path = tmp_path / "mapping.yaml"
            mapping_path.write_text(yaml.safe_dump({"profile": "cgd-mapping/1.0", "schema": schema}))
        md_path = None
        if metadata:
            md = copy.deepcopy(load_good_metadata())
            for k, v in (meta or {}).items():
                set_path(md, k, v)
            md_path = tmp_path / "quality.yaml"
            md_path.write_text(yaml.safe_dump(md, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return validate(data, metadata=md_path, mapping=mapping_path, options=Options(**options))

    return _run


AGG_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "county", "type": "string", "role": "area"},
        {"name": "sex", "type": "string", "role": "disaggregation", "dimension": "SEX",
         "constraints": {"enum": ["Female", "Male", "Total"], "required": True}},
        {"name": "year", "type": "year", "role": "period"},
        {"name": "respondents", "type": "integer", "role": "denominator", "constraints": {"minimum": 0}},
        {"name": "satisfied", "type": "integer", "role": "count", "denominator": "respondents"},
    ],
    "primaryKey": ["county", "sex", "year"],
}  # fmt: skip


def codes(report: Report) -> set[str]:
    """Every finding code in a report."""
    return report.codes()


@pytest.fixture
def slab_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many slabs each call of ``secure`` cut its table into (1: whole)."""
    cuts: list[int] = []
    real = disclosure._slabs

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        slabs = real(*args, **kwargs)
        cuts.append(1 if slabs is None else len(slabs))
        return slabs

    monkeypatch.setattr(disclosure, "_slabs", spy)
    return cuts
