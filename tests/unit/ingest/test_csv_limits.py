"""CSV files past the reader's limits, or not text at all: refused by name, before the work (#14).

Each limit is lowered for the test (``CsvLimits``) so the files stay small; the defaults are
in docs/limits.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cgd_bridge.errors import CgdBridgeError, InputError, TooLarge
from cgd_bridge.ingest import open_table
from cgd_bridge.ingest.csv import CsvLimits


def read_all(path: Path, limits: CsvLimits | None = None) -> list[list[str | None]]:
    table = open_table(path) if limits is None else open_table(path, csv_limits=limits)
    out: list[list[str | None]] = []
    for batch in table.batches():
        out.extend(zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True))
    return [list(r) for r in out]


def test_a_header_longer_than_the_sniffing_sample_is_read_whole(tmp_path: Path) -> None:
    """Was: the header was taken from the first 256 KiB, so 100,000 columns were mis-read."""
    names = [f"ward_{i:06d}_households" for i in range(20_000)]  # ~500 KiB of header
    path = tmp_path / "bangladesh_wards.csv"
    path.write_text(",".join(names) + "\n" + ",".join(str(i % 97) for i in range(20_000)) + "\n")
    table = open_table(path, csv_limits=CsvLimits(columns=50_000))
    assert [c.name for c in table.columns] == names
    assert read_all(path, CsvLimits(columns=50_000))[0][-1] == str(19_999 % 97)


def test_too_many_columns_are_refused_with_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(300)) + "\n" + ",".join("1" * 300) + "\n")
    with pytest.raises(TooLarge) as err:
        open_table(path, csv_limits=CsvLimits(columns=200))
    assert "300 columns" in err.value.message
    assert "200" in err.value.message
    assert err.value.file == "wide.csv"


def test_a_huge_cell_is_refused_with_its_row_and_column(tmp_path: Path) -> None:
    """Was: a 40 MB cell gave 'failed unexpectedly' with no location."""
    path = tmp_path / "malawi_districts.csv"
    path.write_text("district,notes\nLilongwe,ok\nZomba," + "x" * 5000 + "\nBlantyre,ok\n")
    with pytest.raises(TooLarge) as err:
        read_all(path, CsvLimits(cell_chars=1000, line_bytes=1 << 20))
    assert err.value.row == 3
    assert err.value.field == "notes"
    assert "1,000 characters" in err.value.message


def test_a_line_longer_than_the_limit_is_refused_not_a_parse_error(tmp_path: Path) -> None:
    path = tmp_path / "vietnam.csv"
    """Was: pyarrow's 'straddling object' error, shown as a broken quote."""
    path.write_text("province,note\nHà Nội,ok\nHuế," + "y" * (3 << 20) + "\n")
    with pytest.raises(TooLarge) as err:
        read_all(path, CsvLimits(line_bytes=2 << 20, cell_chars=10_000_000))
    assert "line" in err.value.message
    assert "2 MiB" in err.value.message


def test_too_many_rows_are_refused_while_streaming(tmp_path: Path) -> None:
    path = tmp_path / "india.csv"
    path.write_text("state,n\n" + "".join(f"Kerala,{i}\n" for i in range(5000)))
    with pytest.raises(TooLarge) as err:
        read_all(path, CsvLimits(rows=1000))
    assert "1,000 rows" in err.value.message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("utf16le_no_bom.csv", "district,households\nकाठमाडौं,1204\n".encode("utf-16-le")),
        ("utf16be_no_bom.csv", "district,households\nKathmandu,1204\n".encode("utf-16-be")),
        ("random.csv", bytes((i * 7919 + 13) % 256 for i in range(20_000))),
        ("nul.csv", b"district,households\nKathmandu,12\x0004\n"),
    ],
)
def test_binary_or_utf16_without_bom_is_refused_by_name(tmp_path: Path, name: str, content: bytes) -> None:
    """Was: read as Latin-1 or UTF-8 with NUL bytes: nonsense columns, later 500s."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_all(path)
    assert err.value.file == name
    assert "CSV UTF-8" in (err.value.fix or "")


def test_utf16_with_bom_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "nepal.csv"
    path.write_bytes("district\thouseholds\nकाठमाडौं\t1204\n".encode("utf-16"))
    assert read_all(path) == [["काठमाडौं", "1204"]]


def test_the_cli_refuses_with_exit_2_and_the_same_words(tmp_path: Path) -> None:
    path = tmp_path / "random.csv"
    path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(20_000)))
    r = subprocess.run(
        [sys.executable, "-m", "cgd_bridge", "validate", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert "random.csv" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_column_names_without_a_line_break_are_a_table_without_rows(tmp_path: Path) -> None:
    """Found by fuzzing: a file of only its header, no line break, made pyarrow's reader fail to
    open ("could not skip initial 1 rows") and validate crash."""
    path = tmp_path / "header_only.csv"
    path.write_bytes(b"county,sex,year")
    assert read_all(path) == []


def test_a_header_whose_quote_never_closes_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "open_quote.csv"
    path.write_bytes(b'county,"sex,year\n' + b"Kisumu,F,2024\n" * 3)
    limits = CsvLimits(line_bytes=16)
    with pytest.raises(CgdBridgeError) as caught:
        read_all(path, limits)
    assert caught.value.file == "open_quote.csv"


def test_a_line_longer_than_the_block_but_within_the_limit_is_read(tmp_path: Path) -> None:
    """The reader's block is small (memory); a longer line within the line limit is still read,
    with the rows before and after it, once each, and a short row before it reported once."""
    path = tmp_path / "ghana.csv"
    long_note = "z" * (200 << 10)
    path.write_text(
        "region,note\nAshanti,ok\nshort\nVolta," + long_note + '\nNorthern,"two\nlines"\n' + "Oti,ok\n" * 3000
    )
    table = open_table(path, csv_limits=CsvLimits(line_bytes=1 << 20, block_bytes=64 << 10))
    rows: list[list[str | None]] = []
    for batch in table.batches():
        rows.extend(list(r) for r in zip(*(batch.column(i).to_pylist() for i in range(2)), strict=True))
    assert rows[:3] == [["Ashanti", "ok"], ["Volta", long_note], ["Northern", "two\nlines"]]
    assert rows[3:] == [["Oti", "ok"]] * 3000
    assert [s.row for s in table.skipped] == [3]


def test_a_header_longer_than_the_block_but_within_the_limit_is_read(tmp_path: Path) -> None:
    names = [f"indicator_{i:05d}" for i in range(8_000)]  # ~130 KiB of header
    path = tmp_path / "wide_header.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    limits = CsvLimits(columns=10_000, line_bytes=1 << 20, block_bytes=64 << 10)
    assert read_all(path, limits) == [["1"] * len(names)]


def test_a_line_past_the_limit_is_refused_after_the_larger_block_too(tmp_path: Path) -> None:
    path = tmp_path / "peru.csv"
    path.write_text("region,note\nLima,ok\nCusco," + "q" * (300 << 10) + "\nPuno,ok\n")
    with pytest.raises(TooLarge) as err:
        read_all(path, CsvLimits(line_bytes=256 << 10, block_bytes=64 << 10, cell_chars=10_000_000))
    assert "256 KiB" in err.value.message
    assert err.value.file == "peru.csv"
