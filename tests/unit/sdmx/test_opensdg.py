"""Mappings from open-sdg sdg-build column-map and code-map CSVs, applied to the ONS indicator CSVs (#3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgd_bridge.errors import MappingError
from cgd_bridge.ingest import open_table
from cgd_bridge.mapping import load_mapping
from cgd_bridge.mapping.apply import apply_mapping
from cgd_bridge.sdmx.read import import_mapping
from cgd_bridge.structures import Structures

SDG_FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures()


@pytest.fixture
def ons(shared) -> Path:
    folder = shared / "specimens" / "mapping"
    for name in ("ons_column_mapping.csv", "ons_code_mapping.csv", "ons_indicator_1-1-1.csv"):
        if not (folder / name).is_file():
            pytest.fail(f"the open-sdg specimen {folder / name} is missing")
    return folder


def imported(ons: Path, indicator: str | None, structures: Structures):
    files = [ons / "ons_column_mapping.csv", ons / "ons_code_mapping.csv"]
    if indicator:
        files.append(ons / f"ons_indicator_{indicator}.csv")
    return import_mapping(files, dataflow=SDG_FLOW, structures=structures)


def messages(result) -> list[str]:
    return [w.message for w in result.warnings]


def test_ons_1_1_1_maps_every_row(ons, structures, tmp_path):
    result = imported(ons, "1-1-1", structures)
    m = result.mapping
    assert m.dimensions["SERIES"].column == "Series"
    assert m.dimensions["SERIES"].map["SI_POV_DAY1"] == [
        "Proportion of population below international poverty line"
    ]
    assert m.dimensions["FREQ"].value == "A"
    assert m.dimensions["REPORTING_TYPE"].value == "N"
    assert m.attributes["OBS_STATUS"].column == "Observation status"
    assert m.attributes["UNIT_MEASURE"].column == "Units"  # sdg-build's own rename
    assert m.time is not None
    assert (m.time.column, m.time.format) == ("Year", "year")
    assert m.value is not None
    assert m.value.column == "Value"
    # the file loads as a mapping, and maps the indicator CSV
    path = tmp_path / "ons-1-1-1.yaml"
    path.write_text(result.to_yaml(), encoding="utf-8")
    mapping, _ = load_mapping(path)
    h = apply_mapping(open_table(ons / "ons_indicator_1-1-1.csv"), mapping)
    assert h.unmapped == []
    assert h.table.num_rows == h.rows_in == 13
    first = h.table.slice(0, 1).to_pylist()[0]
    assert (first["SERIES"], first["TIME_PERIOD"], first["OBS_VALUE"]) == ("SI_POV_DAY1", "2004", 0.4)
    assert (first["OBS_STATUS"], first["UNIT_MULT"], first["UNIT_MEASURE"]) == ("E", "0", "PT")
    assert "ons_indicator_1-1-1.csv, REF_AREA: no column gives it" in " ".join(messages(result))


def test_ons_3_2_1_unmapped_values_are_reported_not_dropped(ons, structures):
    result = imported(ons, "3-2-1", structures)
    text = "\n".join(messages(result))
    assert "ons_indicator_3-2-1.csv, column 'Country': is not in the column map" in text
    assert "column 'Unit measure'" in text
    assert "It looks like UNIT_MEASURE" in text
    assert "column 'Observation status': values with no code in the code map: 'Undefined' (51 rows)" in text
    assert "column 'Sex': 17 empty cell(s)" in text
    h = apply_mapping(open_table(ons / "ons_indicator_3-2-1.csv"), result.mapping)
    assert [(u.component, u.value, u.count) for u in h.unmapped] == [("SEX", "(empty)", 17)]
    assert h.unmapped[0].rows[:3] == [2, 3, 4]
    assert h.table.num_rows + 17 == h.rows_in == 51
    assert set(h.table["SEX"].to_pylist()) == {"F", "M"}


def test_ons_8_2_1_with_a_byte_order_mark(ons, structures):
    result = imported(ons, "8-2-1", structures)
    assert result.mapping.time is not None
    assert result.mapping.time.column == "Year"
    h = apply_mapping(open_table(ons / "ons_indicator_8-2-1.csv"), result.mapping)
    assert h.table.num_rows == 47
    assert "'Estimate' (47 rows)" in " ".join(messages(result))


def test_without_an_indicator_csv_every_column_map_entry_is_used(ons, structures):
    result = imported(ons, None, structures)
    m = result.mapping
    assert m.attributes["OBS_STATUS"].column == "Observation status"
    assert m.dimensions["SEX"].map == {"M": ["Male"], "F": ["Female"]}
    assert m.dimensions["URBANISATION"].column == "Urban or Rural"
    assert m.dimensions["SERIES"].column == "Series"
    assert m.time is not None
    assert m.time.column == "Year"
    assert "FREQ" in m.dimensions
    assert m.dimensions["FREQ"].column == "Frequency"


def test_unused_code_map_entries_are_reported(ons, structures):
    text = "\n".join(messages(imported(ons, "1-1-1", structures)))
    assert "ons_code_mapping.csv, Dimension ACTIVITY: 1 code-map entry not used" in text
    assert "ons_code_mapping.csv, Dimension SEX: 2 code-map entries not used" in text


def test_warnings_are_written_at_the_top_of_the_yaml(ons, structures):
    result = imported(ons, "3-2-1", structures)
    head = result.to_yaml().split("profile:")[0]
    assert head.startswith("# Imported by cgd-bridge from ons_column_mapping.csv, ons_code_mapping.csv")
    assert all(f"#  - {x}" in head for x in messages(result))


def test_column_header_order_does_not_matter(write, structures):
    cols = write("cols.csv", "Value,Text\nSEX,Gender\n")
    codes = write("codes.csv", "Dimension,Value,Text\nSEX,F,Woman\nSEX,M,Man\n")
    data = write("data.csv", "Year,Gender,Value\n2020,Woman,1\n2020,Man,2\n")
    m = import_mapping([cols, codes, data], dataflow=SDG_FLOW, structures=structures).mapping
    assert m.dimensions["SEX"].column == "Gender"
    assert m.dimensions["SEX"].map == {"F": ["Woman"], "M": ["Man"]}


def test_conflicting_rows_are_reported(write, structures):
    cols = write("cols.csv", "Text,Value\nSex,SEX\nSex,AGE\n,\n")
    codes = write("codes.csv", "Text,Dimension,Value\nFemale,SEX,F\nfemale,SEX,M\nMale,,M\n")
    result = import_mapping([cols, codes], dataflow=SDG_FLOW, structures=structures)
    text = "\n".join(messages(result))
    assert "cols.csv, row 3: 'Sex' is already mapped to SEX" in text
    assert "codes.csv, row 3: 'female' under SEX already gives F" in text
    assert "codes.csv, row 4: has an empty Text, Dimension or Value" in text
    assert result.mapping.dimensions["SEX"].map == {"F": ["Female"]}


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({"a.csv": "Text,Value\nSex,SEX\n", "b.csv": "Text,Value\nAge,AGE\n"}, "more than one column map"),
        ({"d1.csv": "Year,Value\n2020,1\n", "d2.csv": "Year,Value\n2020,1\n", "c.csv": "Text,Value\nA,B\n"},
         "more than one indicator CSV"),
        ({"d.csv": "Year,Value\n2020,1\n"}, "neither an open-sdg column map"),
        ({"e.csv": ""}, "empty or has no header row"),
    ],
)  # fmt: skip
def test_broken_inputs_are_mapping_errors(write, files, match):
    paths = [write(name, text) for name, text in files.items()]
    with pytest.raises(MappingError, match=match) as exc:
        import_mapping(paths, dataflow=SDG_FLOW)
    assert exc.value.file
    assert exc.value.fix


def test_a_csv_that_is_not_utf8_is_a_mapping_error(write):
    path = write("codes.csv", "Text,Dimension,Value\nFémme,SEX,F\n", encoding="utf-16")
    with pytest.raises(MappingError, match="cannot be read") as exc:
        import_mapping([path], dataflow=SDG_FLOW)
    assert exc.value.file == "codes.csv"


def test_every_dimension_no_column_gives_is_named_in_a_warning(ons, structures):
    """The DSD is the contract (#13): the import says which dimensions the mapping still lacks,
    as validation will (dimension-not-mapped), rather than leave them to be found later."""
    from cgd_bridge.sdmx.contract import contract_for

    result = imported(ons, "1-1-1", structures)
    lacking = [
        d for d in contract_for(SDG_FLOW, structures).dimension_ids if d not in result.mapping.dimensions
    ]
    assert lacking  # SERIES and REF_AREA come from sdg-build's metadata, URBANISATION ... from no column
    text = "\n".join(messages(result))
    for dim in lacking:
        assert f"{dim}: no column gives it" in text
    assert "add 'URBANISATION: {value: _T}' under dimensions" in text
