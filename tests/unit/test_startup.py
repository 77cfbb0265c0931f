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

#: the spreadsheet readers, which reading a CSV never needs (modules as ``sys.modules`` names them)
SPREADSHEET = ("python_calamine", "fastexcel", "cgd_bridge.ingest.xlsx")

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

#: ``cgd-bridge validate`` of the bundled Kenya example with its real mapping, its report as JSON
KENYA_VALIDATE = (
    "validate", str(ROOT / "examples" / "kenya-health-scorecard" / "data.csv"),
    "--metadata", str(ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml"),
    "--mapping", str(ROOT / "mappings" / "kenya-health-scorecard.yaml"),
    "--format", "json", "-o", "report.json",
)  # fmt: skip


def _imported(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    """Run ``cgd-bridge ARGS`` in a fresh interpreter; its exit code and every module it imported
    (by its full name and by its top-level package's)."""
    out = tmp_path / "modules.json"
    script = RUN.replace("OUT", repr(str(out)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script, "cgd-bridge", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.is_file(), proc.stdout + proc.stderr
    got = json.loads(out.read_text(encoding="utf-8"))
    return got["code"], {m.split(".")[0] for m in got["modules"]} | set(got["modules"])


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
    heavy = sorted(m for m in HEAVY if m in modules)
    assert not heavy, f"a 2-row validate imports {heavy}: import them where they are used"
    spreadsheet = sorted(m for m in SPREADSHEET if m in modules)
    assert not spreadsheet, f"reading a CSV imports the spreadsheet readers {spreadsheet}"


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
#: compiled and frictionless's verdict on the mapping's Table Schema is remembered (#16);
#: Babel, whose CLDR data an English report's whole numbers do not need (i18n.Translator.number);
#: pandas, which pyarrow imports at its first array of Python values, its first ``to_numpy``
#: and its first group_by unless cgd_bridge/arrow.py builds and reads the arrays
NOT_FOR_A_WARM_VALIDATE = (
    "sdmx", "frictionless", "requests", "pydantic_settings", "phonenumbers", "stdnum", "lxml",
    "fastapi", "starlette", "uvicorn", "jinja2", "sqlalchemy", "rapidfuzz", "pandas",
    "python_calamine", "fastexcel", "cgd_bridge.ingest.xlsx", "babel",
)  # fmt: skip


def test_a_warm_validate_of_the_example_imports_neither_sdmx1_nor_frictionless(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled Kenya example with its real mapping: the first run compiles the structures
    and has frictionless judge the Table Schema; the second reads both from the cache. (scipy
    comes with the disclosure audit's LP, which the example's small cells need; pandas with
    pyarrow, which imports it at the first array built from Python values: see the next test.)"""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    args = KENYA_VALIDATE
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


#: run in a fresh interpreter with the structures compiled: every attempt to import pandas is
#: recorded with where it came from and refused, then the example is validated and converted
#: in-process
GUARDED = """
import json, sys, traceback
attempts = []

class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            attempts.append("".join(traceback.format_stack(limit=12)[:-1]))
            raise ModuleNotFoundError("import of pandas refused by the test", name=name)
        return None

sys.meta_path.insert(0, NoPandas())
from pathlib import Path
from cgd_bridge import pipeline
args = json.loads(sys.argv[1])
data = args.pop("data")
out = Path(args.pop("out"))
report = pipeline.validate(data, **args)
converted = pipeline.convert(data, to="sdmx-csv-2.0", output=out, **args)
print(json.dumps({"attempts": attempts, "rows": report.stats.get("rows"), "written": converted.written}))
"""

EXAMPLES = {
    "kenya-csv": {
        "data": "examples/kenya-health-scorecard/data.csv",
        "metadata": "examples/kenya-health-scorecard/quality.yaml",
        "mapping": "mappings/kenya-health-scorecard.yaml",
    },
    "nepal-xlsx": {
        "data": "examples/nepal-youth-survey/data.xlsx",
        "metadata": "examples/nepal-youth-survey/quality.yaml",
        "mapping": "mappings/nepal-youth-survey.yaml",
        "form": "examples/nepal-youth-survey/form.xlsx",
    },
}


@pytest.mark.parametrize("example", ["kenya-csv", "nepal-xlsx"])
def test_validate_and_convert_never_try_to_import_pandas(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow imports pandas behind the pipeline's back (its pandas shim at ``pa.array`` and
    ``pa.scalar`` of Python or numpy values, ``pc`` functions given Python values, ``to_numpy``,
    ``Table.group_by``'s acero): cgd_bridge/arrow.py builds and reads arrays without it, and a
    validate and a convert of the example must not even try (each attempt is shown with where
    it came from)."""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    args = {k: str(ROOT / v) for k, v in EXAMPLES[example].items()}
    args["out"] = str(tmp_path / "out.csv")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # a first run compiles the structures with sdmx1 (which imports pandas) into the cache
    warm = [f"--{k}={v}" for k, v in args.items() if k not in ("data", "out")]
    subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "validate", args["data"], *warm, "-o", "warm.txt"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", GUARDED, json.dumps(args)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["written"] > 0  # the run did its work
    assert got["rows"] > 0
    assert not got["attempts"], "pandas was imported from:\n" + "\n---\n".join(got["attempts"])


def test_a_validate_with_nothing_suppressed_imports_no_scipy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled Kenya example has no small cell: its disclosure audit has nothing to solve, so
    neither the audit's sparse matrices nor its connected components are built and scipy (about
    0.3 s of CPU) is never imported (#16)."""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    args = KENYA_VALIDATE
    _imported(tmp_path, *args)  # compiles the structures
    code, modules = _imported(tmp_path, *args)
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["cgd:stats"]["rows"] == 180
    assert "suppression" not in json.dumps(report["tasks"][0]["errors"])
    assert "scipy" not in modules, "a validate with nothing suppressed imported scipy"


def test_the_audits_lps_do_not_import_scipy_optimize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HiGHS comes from its own bindings (highspy): ``scipy.optimize``, whose package imports
    every solver scipy has, is not imported by an audit that solves LPs (the broken example
    whose small cell the published totals give away)."""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    case = ROOT / "examples" / "broken" / "suppression-exposed"
    metadata = ROOT / "examples" / "kenya-health-scorecard" / "quality.yaml"
    args = (
        "validate", str(case / "data.csv"), "--metadata", str(metadata),
        "--mapping", str(ROOT / "mappings" / "kenya-health-scorecard.yaml"),
        "--format", "json", "-o", "report.json",
    )  # fmt: skip
    _imported(tmp_path, *args)  # compiles the structures
    _, modules = _imported(tmp_path, *args)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert "suppression-exposed" in json.dumps(report)
    assert "highspy" in modules, "the audit solved no LP: choose an example whose audit does"
    assert "scipy.optimize" not in modules


def test_a_validate_larger_than_the_privacy_sample_never_tries_to_import_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The privacy check samples a column spread over its first batch once the batch has more
    rows than it keeps (800): that sample's positions were once a ``pa.array`` of numpy
    integers, which imported pandas (about 0.5 s of CPU) on every file of more than 800 rows,
    a path the 180-row example never takes."""
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "big.csv"
    rows = [f"Ward {i % 37},{'Female' if i % 2 else 'Male'},{i % 90},{i}" for i in range(2_000)]
    data.write_text("ward,sex,age,id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    script = GUARDED.split("report = pipeline.validate")[0] + (
        "report = pipeline.validate(data, **args)\n"
        "print(json.dumps({'attempts': attempts, 'rows': report.stats.get('rows')}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps({"data": str(data), "out": str(tmp_path / "x")})],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["rows"] == 2_000
    assert not got["attempts"], "pandas was imported from:\n" + "\n---\n".join(got["attempts"])


def test_english_whole_numbers_are_written_as_babel_writes_them() -> None:
    """Translator.number writes an English whole number without Babel (its CLDR data is about
    15 ms of CPU to load): the text must be Babel's own, digit for digit."""
    from babel.numbers import format_decimal

    from cgd_bridge.i18n import ENGLISH, translator

    def babel(v: float, lang: str = "en") -> str:
        return translator(lang).digits(str(format_decimal(v, locale=lang, numbering_system="default")))

    values = [0, 1, -1, 7, 999, 1000, -1000, 1234, 12_345, 180, 1_000_395, -987_654_321, 10**15, 2**63 - 1]
    values += [int("9" * k) for k in range(1, 19)] + [-int("9" * k) for k in range(1, 19)]
    for v in values:
        assert ENGLISH.number(v) == babel(v), v
    # a fraction, a pattern and another language still go through Babel
    assert ENGLISH.number(1234.5) == babel(1234.5) == "1,234.5"
    assert ENGLISH.number(1234, pattern="#,##0.0") == "1,234.0"
    assert translator("bn").number(1234) == babel(1234, "bn") != "1,234"


def test_making_the_english_translator_reads_no_cldr_data(tmp_path: Path) -> None:
    """Every command makes the English translator at start-up (``i18n.ENGLISH``): its digits are
    read from Babel's CLDR data when first used, not then, and ``--help`` imports no Babel."""
    code, modules = _imported(tmp_path, "--help")
    assert code == 0
    assert "babel" not in modules, "`cgd-bridge --help` imports Babel"
    from cgd_bridge.i18n import LATIN_DIGITS, digits, numbering_system

    assert numbering_system("en") == "latn"  # what digits("en") takes for granted without Babel
    assert digits("en") == LATIN_DIGITS
