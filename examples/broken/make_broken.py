"""Write the broken variants of the two examples: one folder per check, each breaking one thing.

Run from the repository root: ``python examples/broken/make_broken.py``. Each folder holds the
changed files and a ``case.yaml`` saying what was broken and which finding code it triggers;
files that were not changed are referred to in the valid example. ``tests/test_broken_examples.py``
validates every folder and checks that its finding appears, and that every finding code has a case.
"""

from __future__ import annotations

import copy
import csv
import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import yaml

HERE = Path(__file__).resolve().parent
KENYA = HERE.parent / "kenya-health-scorecard"
NEPAL = HERE.parent / "nepal-youth-survey"
MAPPINGS = HERE.parent.parent / "mappings"  # the examples' mappings: mappings/<example>.yaml
KEYS = ("county", "sex", "age_group", "disability_status", "year")
MEASURES = ("respondents", "satisfied")

Rows = list[list[str]]


def read_csv(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as fh:
        return [list(r) for r in csv.reader(fh)]


def write_csv(path: Path, rows: Rows) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def recompute_totals(rows: Rows) -> Rows:
    """Recompute every Total row of the Kenya table from its finest cells."""
    head, body = rows[0], rows[1:]
    k = [head.index(c) for c in KEYS]
    m = [head.index(c) for c in MEASURES]
    finest = [r for r in body if all(r[i] != "Total" for i in k)]
    for r in body:
        if any(r[i] == "Total" for i in k):
            parts = [f for f in finest if all(r[i] in ("Total", f[i]) for i in k)]
            for i in m:
                r[i] = str(sum(int(p[i]) for p in parts))
    return [head, *body]


def row_index(rows: Rows, **match: str) -> int:
    head = rows[0]
    for n, r in enumerate(rows[1:], start=1):
        if all(r[head.index(c)] == v for c, v in match.items()):
            return n
    raise KeyError(match)


FINEST = {"county": "Kisumu", "sex": "Female", "age_group": "18-24", "disability_status": "With disability"}


class Case:
    """One broken variant: what it breaks, the code it triggers, and how the files change."""

    def __init__(
        self,
        code: str,
        about: str,
        *,
        base: str = "kenya",
        data: Callable[[Rows], Rows] | None = None,
        sheet: Callable[[Any], None] | None = None,
        meta: Callable[[dict[str, Any]], None] | None = None,
        mapping: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.code, self.about, self.base = code, about, base
        self.data, self.sheet, self.meta, self.mapping = data, sheet, meta, mapping

    def write(self) -> None:
        folder = HERE / self.code
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        src = KENYA if self.base == "kenya" else NEPAL
        files: dict[str, str] = {}
        if self.data is not None:
            write_csv(folder / "data.csv", self.data(read_csv(src / "data.csv")))
            files["data"] = "data.csv"
        elif self.sheet is not None:
            wb = openpyxl.load_workbook(src / "data.xlsx")
            self.sheet(wb.active)
            wb.save(folder / "data.xlsx")
            files["data"] = "data.xlsx"
        else:
            files["data"] = f"../../{src.name}/{'data.csv' if self.base == 'kenya' else 'data.xlsx'}"
        sources = {"quality.yaml": src / "quality.yaml", "mapping.yaml": MAPPINGS / f"{src.name}.yaml"}
        for name, change in (("quality.yaml", self.meta), ("mapping.yaml", self.mapping)):
            key = name.split(".")[0].replace("quality", "metadata")
            if change is None:
                files[key] = Path(os.path.relpath(sources[name], folder)).as_posix()
                continue
            doc = yaml.safe_load(sources[name].read_text(encoding="utf-8"))
            change(doc)
            (folder / name).write_text(
                yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
            )
            files[key] = name
        if self.base == "nepal":
            files["form"] = f"../../{NEPAL.name}/form.xlsx"
        case = {"expect": self.code, "about": self.about, "files": files}
        (folder / "case.yaml").write_text(
            yaml.safe_dump(case, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )


def edit(rows: Rows, n: int, column: str, value: str) -> Rows:
    rows[n][rows[0].index(column)] = value
    return rows


def add_column(rows: Rows, name: str, values: Callable[[int], str]) -> Rows:
    return [[*rows[0], name]] + [[*r, values(i)] for i, r in enumerate(rows[1:])]


def meta_set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        parts = path.split(".")
        d = doc
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        if value is ...:
            d.pop(parts[-1], None)
        else:
            d[parts[-1]] = copy.deepcopy(value)

    return change


def schema_field(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        for f in doc["schema"]["fields"]:
            if f["name"] == name:
                change(f)

    return apply


def nepal_cell(column: str, row: int, value: Any) -> Callable[[Any], None]:
    def change(ws: Any) -> None:
        header = [c.value for c in ws[1]]
        ws.cell(row=row, column=header.index(column) + 1, value=value)

    return change


def _small_cell(rows: Rows) -> Rows:
    n = row_index(rows, **FINEST)
    edit(rows, n, "respondents", "3")
    edit(rows, n, "satisfied", "2")
    return recompute_totals(rows)


def _small_complement(rows: Rows) -> Rows:
    n = row_index(rows, **FINEST)
    edit(rows, n, "satisfied", str(int(rows[n][rows[0].index("respondents")]) - 2))
    return recompute_totals(rows)


def _whole_group(rows: Rows) -> Rows:
    n = row_index(rows, **FINEST)
    edit(rows, n, "respondents", "8")
    edit(rows, n, "satisfied", "8")
    return recompute_totals(rows)


def _blank_small_cell(rows: Rows) -> Rows:
    """The CSO blanked a small cell itself but published its totals: they give it away."""
    _small_cell(rows)
    n = row_index(rows, **FINEST)
    edit(rows, n, "respondents", "")
    return edit(rows, n, "satisfied", "")


def _above_denominator(rows: Rows) -> Rows:
    n = row_index(rows, **FINEST)
    edit(rows, n, "satisfied", str(int(rows[n][rows[0].index("respondents")]) + 4))
    return recompute_totals(rows)


def _wg_drop_selfcare(ws: Any) -> None:
    header = [c.value for c in ws[1]]
    ws.delete_cols(header.index("wg/wg_selfcare") + 1)


def _wg_status_flip(ws: Any) -> None:
    header = [c.value for c in ws[1]]
    col = header.index("wg/disability") + 1
    ws.cell(row=2, column=col, value="no" if ws.cell(row=2, column=col).value == "yes" else "yes")


def _wg_missing(ws: Any) -> None:
    header = [c.value for c in ws[1]]
    wg = [
        header.index(f"wg/wg_{d}") + 1
        for d in ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")
    ]
    for r in range(2, ws.max_row + 1):
        if all(str(ws.cell(row=r, column=c).value) in ("1", "2") for c in wg):
            ws.cell(row=r, column=wg[1]).value = None
            return


LONG = "The nurse at the dispensary near the market told us to come back another day because {i} people were waiting"
CASES = [
    # table
    Case("blank-header", "a column of notes with no name", data=lambda r: add_column(r, "", lambda i: "x" if i == 0 else "")),
    Case("duplicate-header", "the satisfied column appears twice", data=lambda r: [[*row, row[-1]] for row in r]),
    Case("missing-column", "the satisfied column was left out of the export", data=lambda r: [row[:-1] for row in r]),
    Case("extra-column", "a column the mapping does not declare", data=lambda r: add_column(r, "enumerator_team", lambda i: "A")),
    Case("type-error", "a count written in words", data=lambda r: edit(r, 1, "respondents", "nineteen")),
    Case("constraint-error", "a sex label that is not in the list", data=lambda r: edit(r, 1, "sex", "Femme")),
    Case("missing-value", "a county left empty", data=lambda r: edit(r, 2, "county", "")),
    Case("blank-row", "an empty row inside the data", data=lambda r: [*r[:10], [""] * len(r[0]), *r[10:]]),
    Case("duplicate-key", "a row pasted twice", data=lambda r: [*r[:3], r[2], *r[3:]]),
    Case("unique-error", "a column declared unique that repeats",
         mapping=schema_field("satisfied", lambda f: f.setdefault("constraints", {}).update(unique=True))),
    Case("extra-cell", "an unquoted comma inside a value", data=lambda r: [*r[:5], [*r[5], "extra"], *r[6:]]),
    Case("missing-cell", "a row cut short", data=lambda r: [*r[:5], r[5][:-2], *r[6:]]),
    Case("empty-table", "the column names but no rows", data=lambda r: r[:1]),
    Case("system-column", "a Kobo export with its system columns (a note, not an error)", base="nepal"),
    Case("choice-column-mismatch", "a 0/1 choice column edited by hand", base="nepal",
         sheet=nepal_cell("services/services_used/justice", 2, "1")),
    # metadata
    Case("metadata-missing-field", "no contact e-mail", meta=meta_set("producer.contact_email", ...)),
    Case("metadata-invalid-value", "a method that is not in the list", meta=meta_set("method.type", "interviews")),
    Case("metadata-unknown-field", "a misspelt field", meta=lambda d: d["consent"].update(obtaned=True)),
    Case("metadata-date-order", "the reference period ends before it starts", meta=meta_set("period.reference_end", "2023-06-30")),
    Case("metadata-sdg-code", "an SDG target written as a goal name", meta=meta_set("purpose.sdg_targets", ["SDG16"])),
    Case("dsat-fail", "an ethics principle answered no", meta=meta_set("quality.self_assessment.ethics.privacy", "no")),
    Case("metadata-licence", "a licence id that is not an SPDX id", meta=meta_set("licence.id", "CC-BY")),
    Case("missing-consent", "consent not obtained", meta=meta_set("consent.obtained", False)),
    Case("metadata-participation", "citizens only analysed the data", meta=meta_set("participation.stages", ["analysis"])),
    Case("metadata-revision", "a new version without a revision note", meta=meta_set("revision", ...)),
    Case("non-probability-sample", "a convenience sample", meta=meta_set("sampling.design", "convenience")),
    Case("metadata-timeliness", "published four years after the period", meta=meta_set("release.published", "2029-03-01")),
    Case("metadata-profile", "another template's profile", meta=meta_set("profile", "dcat-ap/2.1")),
    # coherence
    Case("period-mismatch", "the reference period is 2025, the data is 2024",
         meta=lambda d: d["period"].update(reference_start="2025-01-01", reference_end="2025-12-31")),
    Case("area-mismatch", "Kilifi is in the data but not in the metadata",
         meta=meta_set("geography.ref_areas", ["Kisumu", "Nakuru", "Machakos"])),
    Case("group-not-in-data", "a declared group with no column",
         meta=lambda d: d["population"]["groups"].append({"code": "ethnic_minority", "label": "Ethnic minorities"})),
    Case("sample-size-mismatch", "the metadata's achieved sample differs from the data", meta=meta_set("sampling.n_achieved", 1000)),
    # privacy
    Case("pii-column", "respondents' phone numbers left in", data=lambda r: add_column(r, "phone", lambda i: f"07{i:08d}")),
    Case("pii-name-only", "a yes/no column named mobile (a warning, not an error)",
         data=lambda r: add_column(r, "mobile", lambda i: "Yes" if i % 3 else "No")),
    Case("identifier-in-attribute", "a comment column with phone numbers, published as COMMENT_OBS",
         data=lambda r: add_column(r, "comments", lambda i: f"Ask the chairperson, call 0712 345 6{i:02d}" if i % 4 == 0 else ""),
         mapping=lambda d: d["attributes"].update(COMMENT_OBS={"column": "comments", "passthrough": True})),
    Case("formula-like-value", "a comment cell a spreadsheet would run, published as COMMENT_OBS",
         data=lambda r: add_column(r, "comments", lambda i: '=HYPERLINK("http://example.org/x","open")' if i == 3 else ""),
         mapping=lambda d: d["attributes"].update(COMMENT_OBS={"column": "comments", "passthrough": True})),
    Case("free-text-column", "enumerators' free-text notes",
         data=lambda r: add_column(r, "notes", lambda i: LONG.format(i=i))),
    Case("small-cell", "a cell of three respondents", data=_small_cell),
    Case("secondary-suppression", "a cell of three respondents, revealed by the total", data=_small_cell),
    Case("small-complement", "17 of 19 satisfied: the 2 who were not are few", data=_small_complement),
    Case("group-disclosure", "all 8 respondents of a cell satisfied", data=_whole_group),
    Case("threshold-too-low", "a disclosure threshold of 1", meta=meta_set("privacy.disclosure_control.threshold", 1)),
    Case("threshold-low", "a disclosure threshold of 4", meta=meta_set("privacy.disclosure_control.threshold", 4)),
    Case("suppression-exposed", "a small cell left empty while the totals that give it away are published",
         data=_blank_small_cell),
    # consistency
    Case("total-mismatch", "a total that is one off", data=lambda r: edit(r, 3, "respondents", str(int(r[3][5]) + 1))),
    Case("count-above-denominator", "more satisfied than respondents", data=_above_denominator),
    # SDMX codes and mapping
    Case("unmapped-value", "the mapping has no label for Male", mapping=lambda d: d["dimensions"]["SEX"]["map"].update(M=["Man"])),
    Case("duplicate-series-key", "two age groups given the same code",
         mapping=lambda d: d["dimensions"]["AGE"]["map"].update(Y18T24=["18-24", "25-44"], Y25T44=["none"])),
    Case("unknown-code", "a sex code that is not in CL_SEX", mapping=lambda d: d["dimensions"]["SEX"]["map"].update(FEM=["Female"], F=["none"])),
    Case("code-not-allowed", "a unit the series' constraint does not allow",
         mapping=lambda d: d["attributes"].update(UNIT_MEASURE={"value": "NUMBER"})),
    Case("unknown-dataflow", "a dataflow nobody has imported", mapping=lambda d: d.update(dataflow="XX:DF_NOPE(1.0)")),
    # the target DSD is the contract
    Case("dimension-not-mapped", "the URBANISATION dimension of the DSD left out of the mapping",
         mapping=lambda d: d["dimensions"].pop("URBANISATION")),
    Case("component-not-in-dsd", "CONF_STATUS given for the SDG DSD 1.5, which has none", base="nepal",
         mapping=lambda d: d["attributes"].update(CONF_STATUS={"value": "F"})),
    Case("attribute-missing", "the mandatory UNIT_MEASURE left out of the mapping",
         mapping=lambda d: d["attributes"].pop("UNIT_MEASURE")),
    # Washington Group
    Case("wg-incomplete", "the self-care question was left out", base="nepal", sheet=_wg_drop_selfcare,
         mapping=lambda d: d["schema"].update(fields=[f for f in d["schema"]["fields"] if f["name"] != "wg_selfcare"])),
    Case("wg-invalid-answer", "an answer outside the four categories", base="nepal", sheet=nepal_cell("wg/wg_seeing", 3, "5")),
    Case("wg-missing-answer", "a question not answered", base="nepal", sheet=_wg_missing),
    Case("wg-status-mismatch", "a disability status that contradicts the answers", base="nepal", sheet=_wg_status_flip),
]  # fmt: skip


def main() -> None:
    for case in CASES:
        case.write()
    print(f"wrote {len(CASES)} broken variants under {HERE}")


if __name__ == "__main__":
    main()
