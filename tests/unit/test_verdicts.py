"""frictionless's verdicts on Table Schemas, remembered (#16): same answers, less start-up.

A mapping's Table Schema is judged by frictionless (``Schema.validate_descriptor``); importing
it is 0.2-0.3 s of a small validate. A *valid* verdict is remembered for that exact descriptor
and that installed frictionless (``cgd_bridge/verdicts.py``), so the next validate of the same
mapping skips the import. These tests hold the remembered path to frictionless's own verdicts,
cold and warm, and the keys to exactness.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cgd_bridge import verdicts
from cgd_bridge.errors import MappingError
from cgd_bridge.ingest.schema import schema_from_descriptor
from tests.support.paths import ROOT


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "verdicts"


FIELDS = [{"name": "county", "type": "string"}, {"name": "n", "type": "integer"}]

#: descriptors frictionless accepts or refuses, each for its own reason
DESCRIPTORS: list[dict[str, Any]] = [
    {"fields": FIELDS},
    {"fields": FIELDS, "primaryKey": ["county"]},
    {"fields": FIELDS, "primaryKey": "county"},
    {"fields": [*FIELDS[:1], {"name": "n", "type": "integer", "constraints": {"minimum": 0}}]},
    {"fields": [{"name": "d", "type": "date", "format": "%d/%m/%Y"}]},
    {"fields": [{"name": "y", "type": "year"}], "missingValues": ["", "NA"]},
    {"fields": [{"name": "n", "type": "integer", "constraints": {"minLength": 2}}]},  # not for integers
    {"fields": [{"name": "n", "type": "no-such-type"}]},
    {"fields": [{"type": "string"}]},  # no name
    {"fields": [{"name": 3, "type": "string"}]},
    {"fields": FIELDS, "primaryKey": ["nowhere"]},
    {"fields": [*FIELDS, {"name": "county", "type": "string"}]},  # names not unique
    {"fields": [{"name": "x", "type": "string", "constraints": {"required": "yes"}}]},
    {"fields": FIELDS, "missingValues": "NA"},
]


def _frictionless_says(descriptor: dict[str, Any]) -> bool:
    from frictionless import Schema

    return bool(Schema.validate_descriptor(descriptor).valid)


def _we_say(descriptor: dict[str, Any]) -> bool:
    problem = ""
    try:
        schema_from_descriptor(json.loads(json.dumps(descriptor)), file="m.yaml", source="mapping")
    except MappingError as exc:
        problem = exc.problem
    assert not problem or "Table Schema is not valid" in problem or "not a field" in problem, problem
    return not problem


@pytest.mark.parametrize("descriptor", DESCRIPTORS, ids=[str(i) for i in range(len(DESCRIPTORS))])
def test_the_verdict_is_frictionlesss_cold_and_warm(cache: Path, descriptor: dict[str, Any]) -> None:
    expected = _frictionless_says(descriptor)
    assert _we_say(descriptor) is expected  # judged by frictionless
    assert _we_say(descriptor) is expected  # remembered, or judged again when invalid
    assert len(list(cache.glob("*"))) == (1 if expected else 0), "only valid verdicts are kept"


def test_both_verdicts_occur() -> None:
    said = {_frictionless_says(d) for d in DESCRIPTORS}
    assert said == {True, False}


def test_a_near_copy_of_a_remembered_schema_is_judged_on_its_own(cache: Path) -> None:
    good = {"fields": FIELDS}
    assert _we_say(good)
    bad = {"fields": [FIELDS[0], {"name": "n", "type": "integr"}]}
    with pytest.raises(MappingError, match="not valid"):
        schema_from_descriptor(bad, file="m.yaml", source="mapping")


def test_a_damaged_verdict_is_not_believed(cache: Path) -> None:
    assert _we_say({"fields": FIELDS})
    (entry,) = cache.glob("*")
    entry.write_text("valid, trust me\n", encoding="ascii")
    key = entry.name
    assert not verdicts.remembered(key)
    assert not entry.exists()
    assert _we_say({"fields": FIELDS})  # judged again, and kept again
    assert verdicts.remembered(key)


def test_no_cache_folder_remembers_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", "")
    assert _we_say({"fields": FIELDS})
    assert not list(tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"x": 1}, {"x": 1.0}),
        ({"x": 1}, {"x": True}),
        ({"x": 1}, {"x": "1"}),
        ({"x": None}, {"x": ""}),
        ({"x": [1, 2]}, {"x": [2, 1]}),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # frictionless names the first error it meets
    ],
)
def test_keys_tell_apart_what_json_tells_apart(a: Any, b: Any) -> None:
    assert verdicts.key_of("j", a, "code") != verdicts.key_of("j", b, "code")
    assert verdicts.key_of("j", a, "code") == verdicts.key_of("j", json.loads(json.dumps(a)), "code")
    assert verdicts.key_of("j", a, "code") != verdicts.key_of("j", a, "other code")
    assert verdicts.key_of("j", a, "code") != verdicts.key_of("k", a, "code")


@pytest.mark.parametrize(
    "value",
    [{"x": dt.date(2024, 1, 1)}, {1: "x"}, {"x": float("nan")}, {"x": (1, 2)}, {"x": b"bytes"}],
    ids=["date", "number-key", "nan", "tuple", "bytes"],
)
def test_what_json_cannot_say_exactly_is_never_remembered(value: Any) -> None:
    assert verdicts.key_of("j", value, "code") is None


def test_an_unknown_judge_is_never_remembered() -> None:
    assert verdicts.key_of("j", {"x": 1}, None) is None
    assert verdicts.package_fingerprint("cgd_bridge_no_such_package") is None
    assert verdicts.package_fingerprint("frictionless") is not None


def test_the_second_load_of_a_mapping_does_not_import_frictionless(tmp_path: Path) -> None:
    code = (
        "import sys; from cgd_bridge.mapping import load_mapping_schema; "
        f"load_mapping_schema({str(ROOT / 'mappings' / 'kenya-health-scorecard.yaml')!r}); "
        "print('frictionless' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CGD_BRIDGE_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> str:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=120, check=False)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert run() == "True"  # judged
    assert run() == "False"  # remembered
