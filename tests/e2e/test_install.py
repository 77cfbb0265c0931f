"""The wheel is a complete product: built as a release is, installed outside the checkout.

Builds the sdist and, from it, the wheel (``python -m build``, as docs/releasing.md does), checks
both with ``twine check``, installs the wheel into a clean virtual environment in a temporary
folder, and uses it there, away from the repository: the core install validates and converts both
bundled examples from the copies inside the wheel and says what to install for the server; the
``[server]`` extra then prepares the demo database. Slow (two installs from the package index or
pip's cache), so it runs once per test session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FOLDERS = ("codelists", "mappings", "metadata_templates", "examples")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, cwd=cwd, env=env, check=False
    )


def ok(p: subprocess.CompletedProcess[str]) -> str:
    assert p.returncode == 0, f"{p.args} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    assert "Traceback" not in p.stdout + p.stderr
    return p.stdout


@dataclass
class Installed:
    """A clean virtual environment outside the checkout with the built wheel installed."""

    venv: Path
    wheel: Path
    work: Path  # the working folder of every command: not the repository

    def cli(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CGD_BRIDGE_", "PYTHON"))}
        env["CGD_BRIDGE_DATA_DIR"] = str(self.work / "data")
        return run(self.venv / "bin" / "cgd-bridge", *args, cwd=self.work, env=env)

    def python(self, code: str) -> str:
        return ok(run(self.venv / "bin" / "python", "-c", code, cwd=self.work)).strip()

    def pip(self, *args: str) -> str:
        return ok(
            run(
                self.venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check", *args, cwd=self.work
            )
        )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel built from it, as a release builds them."""
    out = tmp_path_factory.mktemp("dist")
    ok(run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT))
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh virtual environment (core install, no extras)."""
    base = tmp_path_factory.mktemp("install")
    assert ROOT not in base.parents
    (wheel,) = dist.glob("*.whl")
    ok(run(sys.executable, "-m", "venv", base / "venv", cwd=base))
    (base / "work").mkdir()
    env = Installed(base / "venv", wheel, base / "work")
    env.pip("install", "--quiet", str(wheel))
    return env


def test_twine_accepts_the_sdist_and_the_wheel(dist: Path) -> None:
    built = sorted(dist.iterdir())
    assert sorted(p.suffix for p in built) == [".gz", ".whl"]
    out = ok(run(sys.executable, "-m", "twine", "check", "--strict", *built, cwd=dist))
    assert out.count("PASSED") == 2


def test_the_wheel_carries_the_bundled_folders(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in FOLDERS:
        tracked = ok(run("git", "ls-files", folder, cwd=ROOT)).split()
        assert tracked, folder
        for path in tracked:
            assert f"cgd_bridge/_bundled/{path}" in names, f"{path} is not in the wheel"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert any(n.startswith("cgd_bridge/server/web/static/") for n in names)
    assert any(n.startswith("cgd_bridge/store/migrations/versions/") for n in names)


def test_the_core_install_validates_and_converts_both_examples(installed: Installed) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert ok(installed.cli("--version")).strip() == f"cgd-bridge, version {version}"
    # the examples and mappings come from the wheel, not from the checkout
    examples = Path(installed.python("from cgd_bridge.resources import bundled; print(bundled('examples'))"))
    mappings = examples.parent / "mappings"
    assert installed.venv in examples.parents
    assert "IAEG-SDGs:DF_SDG_GLH(1.5)" in ok(installed.cli("structures", "list"))
    kenya, nepal = examples / "kenya-health-scorecard", examples / "nepal-youth-survey"
    cases = [
        (kenya / "data.csv", (), kenya, "kenya-health-scorecard", 180),
        (nepal / "data.xlsx", ("--form", nepal / "form.xlsx"), nepal, "nepal-youth-survey", 36),
    ]
    for data, form, folder, name, observations in cases:
        inputs = (*form, "--metadata", folder / "quality.yaml", "--mapping", mappings / f"{name}.yaml")
        assert "VALID" in ok(installed.cli("validate", data, *inputs))
        out = installed.work / f"{name}.xml"
        said = ok(installed.cli("convert", data, *inputs, "--to", "sdmx-ml-2.1-ss", "-o", out))
        assert f"Wrote {observations} observations" in said
        assert out.read_bytes().count(b"<Obs ") == observations


def test_the_core_install_names_the_server_extra(installed: Installed) -> None:
    if installed.python("import importlib.util as u; print(u.find_spec('fastapi') is None)") != "True":
        pytest.skip("the server extra is already installed in this environment")
    p = installed.cli("serve", "--port", "1")
    assert p.returncode == 2
    assert "pip install 'cgd-bridge[server]'" in p.stderr
    assert "Traceback" not in p.stderr
    p = installed.cli("demo", "--no-serve", "-o", installed.work / "demo-core")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "needs the bridge server: pip install 'cgd-bridge[server]'" in p.stdout
    assert (installed.work / "demo-core" / "kenya-health-scorecard.sdmx-ml-2.1-ss.xml").is_file()


def test_the_server_extra_prepares_the_demo(installed: Installed) -> None:
    installed.pip("install", "--quiet", f"{installed.wheel}[server]")
    out = ok(installed.cli("demo", "--no-serve", "-o", installed.work / "demo"))
    assert "amina" in out  # the printed keys
    assert "kamau" in out
    assert "not published" not in out  # both examples were published
    assert (installed.work / "demo" / "demo.sqlite").is_file()
    assert "cgd-bridge serve" in out
