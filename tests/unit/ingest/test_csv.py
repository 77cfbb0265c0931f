"""Reading CSV files: encodings, delimiters, quoted newlines, broken rows, row numbers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from cgd_bridge.errors import InputError
from cgd_bridge.i18n import ENGLISH
from cgd_bridge.ingest import open_table


def rows(table) -> list[list[str | None]]:
    out: list[list[str | None]] = []
    for batch in table.batches():
        out.extend(zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True))
    return [list(r) for r in out]


def test_utf8_comma(write):
    t = open_table(write("a.csv", "county,sex\nKisumu,Female\n"))
    assert [c.name for c in t.columns] == ["county", "sex"]
    assert rows(t) == [["Kisumu", "Female"]]
    assert t.info.encoding == "utf-8"
    assert t.info.delimiter == ","


def test_utf8_with_bom_is_read_and_noted(write):
    t = open_table(write("a.csv", "\ufeffcounty,sex\nKisumu,Female\n"))
    assert t.columns[0].header == "county"
    assert any("byte-order mark" in n for n in map(ENGLISH.text, t.info.notes))


def test_cp1252_is_detected_and_said(write):
    t = open_table(write("a.csv", "name_of_place,n\nMurang’a,5\nKörle,6\n", encoding="cp1252"))
    assert t.info.encoding == "cp1252"
    assert rows(t) == [["Murang’a", "5"], ["Körle", "6"]]
    assert any("not UTF-8" in n and "line 2" in n for n in map(ENGLISH.text, t.info.notes))


def test_late_non_utf8_byte_is_found_by_full_scan(write):
    body = "a,b\n" + "x,1\n" * 100_000 + "caf\xe9,2\n"
    t = open_table(write("a.csv", body, encoding="latin-1"))
    assert t.info.encoding == "cp1252"
    assert rows(t)[-1] == ["café", "2"]


def test_utf16_excel_unicode_text(write):
    t = open_table(write("a.txt", "county\tsex\nKisumu\tFemale\n", encoding="utf-16"))
    assert t.info.delimiter == "\t"
    assert rows(t) == [["Kisumu", "Female"]]


@pytest.mark.parametrize(("delim", "word"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiters_are_sniffed(write, delim, word):
    t = open_table(write("a.csv", f"a{delim}b{delim}c\n1{delim}2,5{delim}3\n"))
    assert t.info.delimiter == delim
    assert rows(t) == [["1", "2,5", "3"]]
    assert any(word in n for n in map(ENGLISH.text, t.info.notes))


def test_quoted_fields_with_newlines_and_delimiters(write):
    t = open_table(write("a.csv", 'a,b\n"line one\nline two","x, y"\n3,4\n'))
    assert rows(t) == [["line one\nline two", "x, y"], ["3", "4"]]


def test_cells_are_trimmed_and_empty_is_null(write):
    t = open_table(write("a.csv", "a,b\n  x ,\n"))
    assert rows(t) == [["x", None]]


def test_missing_values_become_null(write):
    t = open_table(write("a.csv", "a,b\nNA,1\n"))
    batch = next(t.batches(missing_values=("", "NA")))
    assert batch.column(0).to_pylist() == [None]


def test_rows_with_wrong_cell_count_are_skipped_and_mapped(write):
    t = open_table(write("a.csv", "a,b\n1,2\n3,4,5\n6\n7,8\n"))
    assert rows(t) == [["1", "2"], ["7", "8"]]
    assert [(s.row, s.expected, s.actual) for s in t.skipped] == [(3, 2, 3), (4, 2, 1)]
    mapper = t.row_mapper()
    assert [mapper(2), mapper(3)] == [2, 5]


def test_batches_are_bounded(write):
    t = open_table(write("a.csv", "a,b\n" + "".join(f"some-area-{i},{i}\n" for i in range(200_000))))
    sizes = [b.num_rows for b in t.batches(batch_rows=10_000)]
    assert sum(sizes) == 200_000
    assert len(sizes) > 2
    assert all(isinstance(b, pa.RecordBatch) for b in t.batches(batch_rows=10_000))


@pytest.mark.parametrize(
    ("content", "needle"),
    [("", "empty"), ("\n\n", "empty")],
)
def test_empty_files_are_refused(write, content, needle):
    with pytest.raises(InputError, match=needle) as exc:
        open_table(write("empty.csv", content))
    assert "empty.csv" in exc.value.message


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(InputError) as exc:
        open_table(tmp_path / "nope.csv")
    assert "nope.csv" in exc.value.message
    assert "does not exist" in exc.value.message


def test_unclosed_quote_is_reported_with_its_row(write):
    from cgd_bridge.pipeline import validate

    report = validate(write("q.csv", 'a,b\n"open,1\n2,3\n'))
    assert report.flatten("row", "code") == [(2, "missing-cell")]
    assert "quote" in report.findings[0].message
