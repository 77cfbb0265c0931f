"""Numbers in the locale's own digits (#17): the real ``cgd-bridge`` with ``--lang ne`` and
``--lang bn`` writes the report's counts in Devanagari and Bengali digits, Swahili keeps Latin
ones (CLDR's default numbering systems), and every machine output (the SDMX files, the JSON
report's numbers) is byte-identical to the English run's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cgd_bridge.i18n import translator
from tests.e2e.test_cli import KENYA, MAPPINGS, assert_no_traceback, cli
from tests.e2e.test_cli_i18n import WRONG
from tests.support.json_numbers import json_numbers

pytestmark = pytest.mark.e2e
HEAD = r"^\S+ ([a-z0-9-]+): .* \(([^()]+)\)$"  # "ERROR code: title (count)"
NATIVE = {"ne": "०१२३४५६७८९", "bn": "০১২৩৪৫৬৭৮৯"}


def _counts(report_json: str) -> dict[str, int]:
    """Each finding code's count, from the JSON report."""
    data = json.loads(report_json)
    counts: dict[str, int] = {}
    for task in data["tasks"]:
        for f in [*task["errors"], *task["warnings"]]:
            counts[f["type"]] = counts.get(f["type"], 0) + 1
    return counts


@pytest.mark.parametrize("lang", ["ne", "bn"])
def test_the_text_report_counts_in_nepali_and_bangla_digits(lang: str) -> None:
    english = cli("validate", *WRONG, "--format", "json", "--limit", "100000")
    counts = _counts(english.stdout)
    assert counts
    p = cli("validate", *WRONG, "--lang", lang)
    assert_no_traceback(p)
    assert p.returncode == 1
    t = translator(lang)
    heads = {m.group(1): m.group(2) for m in re.finditer(HEAD, p.stdout, re.M)}
    assert set(counts) <= set(heads), (sorted(counts), sorted(heads))
    for code in counts:
        written = heads[code]
        assert set(written) <= set(NATIVE[lang]) | {","}, (code, written)
    # the counts of the English run, read back from the native digits
    english_text = cli("validate", *WRONG)
    en_heads = {
        m.group(1): int(m.group(2).replace(",", ""))
        for m in re.finditer(r"^\S+ ([a-z0-9-]+): .* \(([0-9,]+)\)$", english_text.stdout, re.M)
    }
    assert {code: int(t.parse_number(heads[code])) for code in en_heads} == en_heads


def test_swahili_keeps_latin_digits() -> None:
    p = cli("validate", *WRONG, "--lang", "sw")
    heads = re.findall(r"^\S+ [a-z0-9-]+: .* \(([^()]+)\)$", p.stdout, re.M)
    assert heads
    assert all(re.fullmatch(r"[0-9,]+", h) for h in heads), heads


@pytest.mark.parametrize("lang", ["ne", "bn"])
def test_the_json_reports_numbers_are_those_of_the_english_run(lang: str) -> None:
    en = json.loads(cli("validate", *WRONG, "--format", "json", "--limit", "100000").stdout)
    other_run = cli("validate", *WRONG, "--format", "json", "--limit", "100000", "--lang", lang)
    other = json.loads(other_run.stdout)
    numbers = [(p, v) for p, v in json_numbers(en) if p != "/stats/seconds"]  # the run's own time
    assert len(numbers) > 10
    assert numbers == [(p, v) for p, v in json_numbers(other) if p != "/stats/seconds"]
    # and the texts in it do use the language's digits
    assert any(ch in json.dumps(other, ensure_ascii=False) for ch in NATIVE[lang])


@pytest.mark.parametrize("fmt", ["sdmx-csv-2.0", "sdmx-ml-2.1-ss", "sdmx-json-2.0"])
def test_the_sdmx_output_is_byte_identical_in_nepali_and_bangla(tmp_path: Path, fmt: str) -> None:
    args = ("--mapping", MAPPINGS / "kenya-health-scorecard.yaml", "--metadata", KENYA / "quality.yaml")
    written = {}
    for lang in ("en", "ne", "bn"):
        out = tmp_path / f"{lang}.out"
        p = cli("convert", KENYA / "data.csv", *args, "--to", fmt, "-o", out, "--lang", lang)
        assert p.returncode == 0, p.stderr
        written[lang] = _unstamped(out.read_bytes())
    assert written["en"]
    assert written["ne"] == written["en"] == written["bn"]


def _unstamped(message: bytes) -> bytes:
    """A data message without what differs between any two runs: the header's random message id
    and the second it was prepared at (everything else compared byte for byte)."""
    message = re.sub(rb"CGD[0-9A-F]{16}", b"CGD-ID", message)
    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"PREPARED", message)
