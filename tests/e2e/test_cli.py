"""The real ``cgd-bridge`` command in a subprocess: exit codes, formats, files, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
KENYA = ROOT / "examples" / "kenya-health-scorecard"
NEPAL = ROOT / "examples" / "nepal-youth-survey"
MAPPINGS = ROOT / "mappings"


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cgd_bridge", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


def assert_no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr, p.stderr
    assert "Traceback" not in p.stdout, p.stdout


def test_valid_example_exits_0():
    p = cli(
        "validate",
        KENYA / "data.csv",
        "--metadata",
        KENYA / "quality.yaml",
        "--mapping",
        MAPPINGS / "kenya-health-scorecard.yaml",
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("VALID")


def test_kobo_example_with_form_exits_0():
    p = cli("validate", NEPAL / "data.xlsx", "--metadata", NEPAL / "quality.yaml",
            "--mapping", MAPPINGS / "nepal-youth-survey.yaml", "--form", NEPAL / "form.xlsx")  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr


def test_problems_exit_1_with_json_report(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("county,respondents,phone\nA,10,+254712345678\nB,x,+254712345679\nC,12,+254712345670\n")
    p = cli("validate", data, "--format", "json")
    assert p.returncode == 1
    report = json.loads(p.stdout)
    assert report["valid"] is False
    assert report["stats"]["errors"] >= 2
    errors = report["tasks"][0]["errors"]
    assert {"type-error", "pii-column"} <= {e["type"] for e in errors}
    te = next(e for e in errors if e["type"] == "type-error")
    assert te["rowNumber"] == 3
    assert te["fieldName"] == "respondents"
    assert te["cell"] == "x"


def test_html_report_written_to_file(tmp_path):
    out = tmp_path / "r" / "report.html"
    p = cli(
        "validate", KENYA / "data.csv", "--metadata", KENYA / "quality.yaml", "--format", "html", "-o", out
    )
    assert p.returncode == 0, p.stderr
    html = out.read_text()
    assert html.startswith("<!doctype html>")
    assert "Validation report" in html
    assert "http" not in html.split("<body>")[0]
    assert "Report written to" in p.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["validate", "missing.csv"], "missing.csv: the file does not exist"),
        (["validate", "{data}", "--metadata", "nope.yaml"], "nope.yaml"),
        (["validate", "{data}", "--metadata", "{bad_yaml}"], "q.yaml: the YAML cannot be read"),
        (["validate", "{data}", "--mapping", "{bad_mapping}"], "role"),
        (["validate", "{data}", "--sheet", "X"], "sheet"),
        (["validate"], "Missing argument"),
        (["validate", "{data}", "--stage", "later"], "later"),
    ],
)
def test_cannot_run_exits_2_with_a_plain_message(tmp_path, args, needle):
    data = tmp_path / "d.xlsx"
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["a"])
    wb.save(data)
    bad_yaml = tmp_path / "q.yaml"
    bad_yaml.write_text("dataset:\n  id: [unclosed\n")
    bad_mapping = tmp_path / "m.yaml"
    bad_mapping.write_text("schema:\n  fields:\n    - {name: a, type: string, role: bogus}\n")
    subst = {"{data}": str(data), "{bad_yaml}": str(bad_yaml), "{bad_mapping}": str(bad_mapping)}
    p = cli(*[subst.get(a, a) for a in args], cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr
    assert_no_traceback(p)


def test_output_is_not_left_half_written_when_the_run_fails(tmp_path):
    out = tmp_path / "report.json"
    p = cli("validate", tmp_path / "missing.csv", "--format", "json", "-o", out)
    assert p.returncode == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_demo_validates_the_bundled_examples(tmp_path):
    p = cli("demo", "-o", tmp_path / "demo", "--no-serve")
    assert p.returncode == 0, p.stdout + p.stderr
    names = sorted(x.name for x in (tmp_path / "demo").iterdir())
    assert "kenya-health-scorecard.report.html" in names
    assert "nepal-youth-survey.report.json" in names
    # both examples are converted with their mappings in mappings/ (#3)
    assert {"kenya-health-scorecard.sdmx-csv-2.0.csv", "nepal-youth-survey.sdmx-csv-2.0.csv"} <= set(names)
    assert "SDMX: 36 observations written" in p.stdout


def _nepal_health_satisfaction() -> dict[tuple[str, str, str], tuple[int, int]]:
    """Satisfied / health-service users per (sex, age group, disability), read from the export itself."""
    import openpyxl

    wb = openpyxl.load_workbook(NEPAL / "data.xlsx", read_only=True)
    try:
        rows = list(wb.active.iter_rows(values_only=True))
    finally:
        wb.close()  # read-only workbooks keep the file open until closed
    head = list(rows[0])
    col = {name.rsplit("/", 1)[-1]: i for i, name in enumerate(head) if name and name.count("/") <= 1}
    out: dict[tuple[str, str, str], list[int]] = {}
    for r in rows[1:]:
        if "health" not in str(r[col["services_used"]]).split():
            continue
        cell = out.setdefault((r[col["sex"]], r[col["age_group"]], r[col["disability"]]), [0, 0])
        cell[0] += r[col["satisfied_health"]] == "yes"
        cell[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_nepal_microdata_converts_to_sdg_cells_read_back_by_sdmx1(tmp_path):
    """The Kobo export (one row per respondent) becomes SP_PSR_SATIS for Nepal with every total (#3)."""
    import io

    import sdmx

    out = tmp_path / "np.xml"
    args = ["--form", NEPAL / "form.xlsx", "--metadata", NEPAL / "quality.yaml",
            "--mapping", MAPPINGS / "nepal-youth-survey.yaml"]  # fmt: skip
    p = cli("convert", NEPAL / "data.xlsx", *args, "--to", "sdmx-ml-2.1-ss", "-o", out)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Wrote 36 observations" in p.stdout  # (F, M, _T) x (3 age groups, Y15T29) x (PD, PWD, _T)
    msg = sdmx.read_sdmx(io.BytesIO(out.read_bytes()))
    got: dict[tuple[str, str, str], float | None] = {}
    for obs in msg.data[0].obs:
        key = {k: v.value for k, v in obs.key.values.items()}
        assert (key["SERIES"], key["REF_AREA"], key["TIME_PERIOD"]) == ("SP_PSR_SATIS", "524", "2024")
        status = str(obs.attached_attribute["OBS_STATUS"].value)
        assert (obs.value is None) == (status == "Q")  # suppressed: no value, OBS_STATUS Q
        got[(key["SEX"], key["AGE"], key["DISABILITY_STATUS"])] = (
            None if obs.value is None else float(obs.value)
        )
    assert len(got) == 36
    cells = _nepal_health_satisfaction()
    sex = {"female": "F", "male": "M"}
    age = {"15-19": "Y15T19", "20-24": "Y20T24", "25-29": "Y25T29"}
    dis = {"yes": "PD", "no": "PWD"}
    # 13 of the 17 young men aged 25-29 without disability were satisfied: the 4 who were not are
    # too few to publish (small-complement), so that cell is suppressed, with those revealing it
    assert cells[("male", "25-29", "no")] == (13, 17)
    assert got[("M", "Y25T29", "PWD")] is None
    for (s, a, d), (num, den) in cells.items():
        if got[(sex[s], age[a], dis[d])] is not None:
            assert got[(sex[s], age[a], dis[d])] == round(100 * num / den, 1)
    num = sum(v[0] for v in cells.values())
    den = sum(v[1] for v in cells.values())
    assert got[("_T", "Y15T29", "_T")] == round(100 * num / den, 1)  # recomputed, not averaged
    f_pd = [v for (s, _, d), v in cells.items() if s == "female" and d == "yes"]
    assert got[("F", "Y15T29", "PD")] == round(100 * sum(v[0] for v in f_pd) / sum(v[1] for v in f_pd), 1)
    csv_out = tmp_path / "np.csv"
    p = cli("convert", NEPAL / "data.xlsx", *args, "--to", "sdmx-csv-2.0", "-o", csv_out)
    assert p.returncode == 0, p.stderr
    import csv

    header = next(csv.reader(io.StringIO(csv_out.read_text(encoding="utf-8"))))
    assert "UNIT_MEASURE" in header
    for helper in ("OBS_COUNT", "SOURCE_ROWS", "SUPPRESSED", "OBS_NUMERATOR"):
        assert helper not in header  # lineage and privacy columns are not SDMX components


def test_metadata_template_command_prints_the_shipped_template():
    p = cli("metadata", "template")
    assert p.returncode == 0
    assert p.stdout == (ROOT / "metadata_templates" / "cgd-quality.yaml").read_text(encoding="utf-8")


def test_version_and_help():
    assert cli("--version").stdout.startswith("cgd-bridge, version")
    assert "validate" in cli("--help").stdout


def test_convert_writes_sdmx_and_refuses_broken_data(tmp_path):
    out = tmp_path / "ke.xml"
    args = [
        "--metadata",
        KENYA / "quality.yaml",
        "--mapping",
        MAPPINGS / "kenya-health-scorecard.yaml",
        "--to",
        "sdmx-ml-2.1-ss",
    ]
    p = cli("convert", KENYA / "data.csv", *args, "-o", out)
    assert p.returncode == 0, p.stderr
    assert "Wrote 180 observations" in p.stdout
    assert out.read_bytes().startswith(b"<?xml")
    broken = ROOT / "examples" / "broken" / "total-mismatch" / "data.csv"
    refused = tmp_path / "refused.xml"
    p = cli("convert", broken, *args, "-o", refused)
    assert p.returncode == 1
    assert "Not converted" in p.stderr
    assert not refused.exists()
    assert_no_traceback(p)
    p = cli("convert", "--list-formats")
    assert p.returncode == 0
    assert "sdmx-csv-2.0" in p.stdout
