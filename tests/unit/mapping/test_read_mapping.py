"""A mapping file is parsed once per text: every reader gets its own copy (#16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.errors import MappingError
from cgd_bridge.mapping import read_mapping_file

ROOT = Path(__file__).resolve().parents[3]


def test_each_read_is_a_copy_that_a_caller_may_change(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text((ROOT / "mappings" / "kenya-health-scorecard.yaml").read_text(encoding="utf-8"))
    first, _ = read_mapping_file(path)
    first["dimensions"]["SEX"] = "changed"
    first["schema"]["fields"].clear()
    second, _ = read_mapping_file(path)
    assert second["dimensions"]["SEX"] != "changed"
    assert second["schema"]["fields"]


def test_a_changed_file_is_read_anew_and_a_broken_one_fails_every_time(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("profile: cgd-mapping/1.0\ndataset: a\n", encoding="utf-8")
    assert read_mapping_file(path)[0]["dataset"] == "a"
    path.write_text("profile: cgd-mapping/1.0\ndataset: b\n", encoding="utf-8")
    data, info = read_mapping_file(path)
    assert data["dataset"] == "b"
    assert info.bytes == path.stat().st_size
    path.write_text("dataset: [unclosed\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(MappingError, match="cannot be read as YAML"):
            read_mapping_file(path)
