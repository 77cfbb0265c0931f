"""Start-up imports only what a command runs (#16).

Every CLI call and every test subprocess pays for the modules imported before any work: scipy
(the disclosure audit's LPs), pandas, sdmx1, FastAPI and the like once cost about 1.5 s of a
180-row validate. These tests run the CLI in a subprocess and read ``sys.modules`` at its end:
which modules were imported, never how long anything took (benchmarks/pipeline_vs_peers.py
measures the time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cgd_bridge.lazy import LazyModule, lazy_module
from tests.support.paths import ROOT

#: modules no command below needs; each is seconds of CPU in all
HEAVY = ("pandas", "scipy", "sdmx", "fastapi", "starlette", "uvicorn", "jinja2", "sqlalchemy", "rapidfuzz")

RUN = """
import json, runpy, sys
sys.argv = ["cgd-bridge", *sys.argv[2:]]
code = 0
try:
    runpy.run_module("cgd_bridge", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
with open(OUT, "w") as fh:
    json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
"""


def _imported(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """Run ``cgd-bridge ARGS`` in a fresh interpreter; its exit code and every module it imported."""
    out = tmp_path / "modules.json"
    script = RUN.replace("OUT", repr(str(out)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script, "cgd-bridge", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.is_file(), proc.stdout + proc.stderr
    got = json.loads(out.read_text(encoding="utf-8"))
    return got["code"], {m.split(".")[0] for m in got["modules"]}


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    code, modules = _imported(tmp_path, "--help")
    assert code == 0
    heavy = sorted(m for m in HEAVY if m in modules)
    assert not heavy, f"`cgd-bridge --help` imports {heavy}: import them where they are used"
    assert "pyarrow" not in modules
    assert "numpy" not in modules


def test_validate_without_a_mapping_imports_neither_scipy_nor_sdmx(tmp_path: Path) -> None:
    """A small file with no small cells to protect: no LP to solve, no SDMX structure to read."""
    data = tmp_path / "data.csv"
    data.write_text("district,year,count\nKathmandu,2023,40\nLalitpur,2023,52\n", encoding="utf-8")
    code, modules = _imported(tmp_path, "validate", str(data), "--format", "json", "-o", "report.json")
    assert code in (0, 1), "validate did not run"
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["cgd:stats"]["rows"] == 2
    # pandas is not judged here: pyarrow (26) imports it at the first array it builds from
    # Python or numpy values (its pandas shim), which every validate does
    heavy = sorted(m for m in HEAVY if m in modules and m != "pandas")
    assert not heavy, f"a 2-row validate imports {heavy}: import them where they are used"


def test_lazy_module_imports_on_first_use() -> None:
    probe = lazy_module("json")  # already imported: the module itself
    assert probe is json
    stand_in = LazyModule("colorsys")
    was_loaded = "colorsys" in sys.modules
    assert "not loaded yet" in repr(stand_in)
    assert stand_in.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "colorsys" in sys.modules or was_loaded
    assert "(loaded)" in repr(stand_in)


def test_lazy_module_names_a_missing_module() -> None:
    missing = LazyModule("cgd_bridge_no_such_module")
    with pytest.raises(ModuleNotFoundError, match="cgd_bridge_no_such_module"):
        _ = missing.anything


#: what a validate of a small file with its mapping does not need once the structures are
#: compiled and frictionless's verdict on the mapping's Table Schema is remembered (#16)
NOT_FOR_A_WARM_VALIDATE = (
    "sdmx", "frictionless", "requests", "pydantic_settings", "phonenumbers", "stdnum", "lxml",
    "fastapi", "starlette", "uvicorn", "jinja2", "sqlalchemy", "rapidfuzz",
)  # fmt: skip


def test_a_warm_validate_of_the_example_imports_neither_sdmx1_nor_frictionless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled Kenya example with its real mapping: the first run compiles the structures
    and has frictionless judge the Table Schema; the second reads both from the cache. (scipy
    comes with the disclosure audit's LP, which the example's small cells need; pandas with
    pyarrow, which imports it at the first array built from Python values: see the next test.)"""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    example = ROOT / "examples" / "kenya-health-scorecard"
    args = (
        "validate", str(example / "data.csv"), "--metadata", str(example / "quality.yaml"),
        "--mapping", str(ROOT / "mappings" / "kenya-health-scorecard.yaml"),
        "--format", "json", "-o", "report.json",
    )  # fmt: skip
    code, cold = _imported(tmp_path, *args)
    assert code == 0
    assert {"sdmx", "frictionless"} <= cold  # the first run compiles and judges
    first = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    code, warm = _imported(tmp_path, *args)
    assert code == 0
    second = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert second["cgd:stats"]["rows"] == first["cgd:stats"]["rows"] == 180
    assert [e["cgd:code"] for e in second["tasks"][0]["errors"]] == [
        e["cgd:code"] for e in first["tasks"][0]["errors"]
    ]
    heavy = sorted(m for m in NOT_FOR_A_WARM_VALIDATE if m in warm)
    assert not heavy, f"a warm validate of the example imports {heavy}: import them where they are used"
    assert "cgd_bridge.settings" not in warm


def test_the_validate_path_imports_no_pandas_or_scipy_of_its_own() -> None:
    """pandas arrives on a validate only through pyarrow's shim (pyarrow 26 imports it at the
    first ``pa.array``/``pa.scalar`` of Python values, which every run makes): none of our
    modules may import it, or scipy, sdmx1 or frictionless, when it is imported."""
    code = (
        "import sys, cgd_bridge.cli, cgd_bridge.pipeline, cgd_bridge.checks, cgd_bridge.structures, "
        "cgd_bridge.mapping.conform, cgd_bridge.render; "
        "print(','.join(m for m in ('pandas', 'scipy', 'sdmx', 'frictionless', 'pydantic_settings') "
        "if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"importing the validate path imports {out.stdout.strip()}"
