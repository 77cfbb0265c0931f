"""A suppressed observation carries no count in any attribute, in any output (#12 part 5).

The Malawi survey (tests/unit/checks/test_attribute_disclosure.py) is mapped with
``aggregate.count_attribute: COMMENT_OBS``: the respondents behind each observation travel in
COMMENT_OBS. Its urban and rural cells are suppressed; a count of 30, 40 or 8 people in their
COMMENT_OBS would publish what the suppression hides (and, with the totals, the rest).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from cgd_bridge.pipeline import convert
from tests.unit.checks.conftest import load_good_metadata, set_path
from tests.unit.checks.test_attribute_disclosure import MALAWI, microdata
from tests.unit.sdmx.test_writers import from_sdmx_json20

RESPONDENTS = sum(n for n, _ in MALAWI.values())


def malawi(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The Malawi microdata, its mapping with a count attribute, and quality metadata for it."""
    data, mapping = microdata(tmp_path, MALAWI)
    return data, malawi_metadata(tmp_path), mapping


def malawi_metadata(folder: Path) -> Path:
    """Quality metadata for the Malawi survey (the Kenya example's, with its sample and groups)."""
    md = load_good_metadata()
    set_path(md, "sampling.n_achieved", RESPONDENTS)
    set_path(md, "population.groups", [{"code": "F"}])
    quality = folder / "quality.yaml"
    quality.write_text(yaml.safe_dump(md, allow_unicode=True), encoding="utf-8")
    return quality


def observations(fmt: str, out: Path) -> list[dict[str, object]]:
    """The written observations as dicts with URBANISATION, SEX, OBS_VALUE, OBS_STATUS, COMMENT_OBS."""
    text = out.read_text(encoding="utf-8")
    if fmt.startswith("sdmx-csv"):
        return [
            {**r, "OBS_VALUE": r["OBS_VALUE"] or None, "COMMENT_OBS": r["COMMENT_OBS"] or None}
            for r in csv.DictReader(io.StringIO(text))
        ]
    if fmt == "sdmx-json-2.0":
        dims = json.loads(text)["data"]["structures"][0]["dimensions"]["series"]
        names = [d["id"] for d in dims]
        return [
            {**dict(zip(names, key, strict=False)), **values}
            for key, values in from_sdmx_json20(text.encode()).items()
        ]
    import sdmx

    msg = sdmx.read_sdmx(io.BytesIO(text.encode()))
    rows = []
    for obs in msg.data[0].obs:
        key = {**obs.series_key.values, **obs.dimension.values} if obs.series_key else obs.dimension.values
        attrs = {a: str(v.value) for a, v in obs.attached_attribute.items()}
        rows.append(
            {
                **{k: str(v.value) for k, v in key.items()},
                "OBS_VALUE": obs.value,
                "OBS_STATUS": attrs.get("OBS_STATUS"),
                "COMMENT_OBS": attrs.get("COMMENT_OBS"),
            }
        )
    return rows


@pytest.mark.parametrize(
    "fmt", ["sdmx-csv-2.0", "sdmx-csv-1.0", "sdmx-ml-2.1-generic", "sdmx-ml-3.0-ss", "sdmx-json-2.0"]
)
def test_suppressed_observations_carry_no_count_in_any_output(tmp_path, fmt):
    data, quality, mapping = malawi(tmp_path)
    out = tmp_path / "out"
    result = convert(data, metadata=quality, mapping=mapping, to=fmt, output=out)
    assert result.refused is None, [f.message for f in result.report if f.severity.value == "error"]
    rows = observations(fmt, out)
    hidden = [r for r in rows if r["OBS_STATUS"] == "Q"]
    shown = [r for r in rows if r["OBS_STATUS"] != "Q"]
    assert len(hidden) == 4  # the four urban/rural x sex cells
    assert all(r["OBS_VALUE"] is None for r in hidden)
    assert [r.get("COMMENT_OBS") for r in hidden] == [None] * 4
    # the published observations keep their count: only the suppressed lose it
    total = next(r for r in shown if r["SEX"] == "_T" and r["URBANISATION"] == "_T")
    assert total["COMMENT_OBS"] == str(RESPONDENTS)


def test_the_harmonised_table_stored_or_written_has_no_count_on_suppressed_rows(tmp_path):
    from cgd_bridge.pipeline import harmonise

    data, quality, mapping = malawi(tmp_path)
    h = harmonise(data, metadata=quality, mapping=mapping).harmonised
    assert h is not None
    rows = h.table.to_pylist()
    assert {r["COMMENT_OBS"] for r in rows if r["SUPPRESSED"]} == {None}
    assert all(r["COMMENT_OBS"] == str(r["OBS_COUNT"]) for r in rows if not r["SUPPRESSED"])


def test_an_attribute_read_from_the_denominator_column_is_emptied_too(tmp_path):
    """Aggregate data: an attribute mapped from the respondents column repeats the denominator."""
    from cgd_bridge.pipeline import harmonise
    from tests.unit.checks.test_attribute_disclosure import aggregate

    data, mapping = aggregate(tmp_path, MALAWI)
    doc = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    doc["attributes"]["COMMENT_OBS"] = {"column": "respondents", "passthrough": True}
    mapping.write_text(yaml.safe_dump(doc), encoding="utf-8")
    h = harmonise(data, metadata=malawi_metadata(tmp_path), mapping=mapping).harmonised
    assert h is not None
    rows = h.table.to_pylist()
    assert {r["COMMENT_OBS"] for r in rows if r["OBS_STATUS"] == "Q"} == {None}
    assert {r["COMMENT_OBS"] for r in rows if r["OBS_STATUS"] != "Q"} >= {str(RESPONDENTS)}
