"""Mappings from open-sdg's sdg-build column-map and code-map CSVs.

Teams that publish SDG data with open-sdg already map their national labels to SDMX in two
CSV files that sdg-build's SDMX output reads (``sdg/outputs/OutputSdmxMl.py``):

- the **column map** (``Text,Value``): a national column header -> an SDMX concept ID, e.g.
  ``Observation status,OBS_STATUS``;
- the **code map** (``Text,Dimension,Value``): a national value in the column of that concept
  -> an SDMX code, e.g. ``Female,SEX,F``.

sdg-build also renames four columns itself (``Year`` -> TIME_PERIOD, ``Value`` -> OBS_VALUE,
``Series`` -> SERIES, ``Units`` -> UNIT_MEASURE) and defaults FREQ to ``A`` and
REPORTING_TYPE to ``N``; :func:`import_opensdg` does the same and says so. Given one of the
indicator CSVs too, the mapping covers exactly that file's columns and can be applied to it.

Where cgd-bridge differs from sdg-build it warns: sdg-build keeps a value the code map does not
list as it is, cgd-bridge reports it as an unmapped value (a column with no code-map entries
at all keeps its values as codes, ``passthrough``); sdg-build reads an empty dimension cell as
``_T``, cgd-bridge reports it.

Example::

    >>> imported = import_opensdg([Path("ons_column_mapping.csv"), Path("ons_code_mapping.csv"),
    ...     Path("ons_indicator_1-1-1.csv")], dataflow="IAEG-SDGs:DF_SDG_GLH(1.5)")  # doctest: +SKIP
    >>> imported.mapping.attributes["OBS_STATUS"].map  # doctest: +SKIP
    {'E': ['Estimated value'], 'A': ['Normal value']}
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_, msg
from cgd_bridge.sdmx.maps import Imported, target_of
from cgd_bridge.sdmx.read.maps import MappingBuilder

#: the columns sdg-build renames before it applies the column map (OutputSdmxMl.build)
SDG_BUILD_COLUMNS = {"Value": "OBS_VALUE", "Units": "UNIT_MEASURE", "Series": "SERIES", "Year": "TIME_PERIOD"}
#: sdg-build's defaults for dimensions no column gives (OutputSdmxMl.get_dimension_default)
SDG_BUILD_DEFAULTS = {"FREQ": "A", "REPORTING_TYPE": "N"}
_TIME_FORMATS = (("year", r"^\d{4}$"), ("month", r"^\d{4}-\d{2}$"), ("date", r"^\d{4}-\d{2}-\d{2}$"))
_SAMPLE_ROWS = 100_000


@dataclass
class _Inputs:
    column_map: dict[str, str] = field(default_factory=dict)
    code_map: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    column_file: str = ""
    code_file: str = ""
    data_file: str = ""
    header: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)


def _read_csv(path: Path) -> list[list[str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MappingError(
            N_("the CSV file cannot be read ({reason})"),
            fix=N_("Save it as CSV (UTF-8), comma-separated."),
            file=path.name,
            params={"reason": str(exc)},
        ) from exc


def _kind(header: list[str]) -> str:
    names = {h.strip() for h in header}
    if {"Text", "Dimension", "Value"} <= names:
        return "code map"
    if {"Text", "Value"} <= names and len(names) == 2:
        return "column map"
    return "data"


#: what each kind of open-sdg CSV is called in an error
_KIND_NAMES = {"column map": N_("column map"), "code map": N_("code map"), "data": N_("indicator CSV file")}


def _take(kind: str, path: Path, inputs: _Inputs) -> None:
    attr = {"column map": "column_file", "code map": "code_file", "data": "data_file"}[kind]
    if getattr(inputs, attr):
        raise MappingError(
            N_("there is more than one {what}: {first} and {second}"),
            fix=N_(
                "Give one column map, one code map and at most one indicator CSV file (a mapping "
                "describes one dataset); run the import once per indicator."
            ),
            file=path.name,
            params={"what": msg(_KIND_NAMES[kind]), "first": getattr(inputs, attr), "second": path.name},
        )
    setattr(inputs, attr, path.name)


def _read_inputs(paths: Sequence[Path], builder: MappingBuilder) -> _Inputs:
    inputs = _Inputs()
    for path in paths:
        rows = _read_csv(path)
        if not rows or not any(cell.strip() for cell in rows[0]):
            raise MappingError(
                N_("the CSV file is empty or has no header row"),
                fix=N_(
                    "Give the column map (Text,Value), the code map (Text,Dimension,Value) or an "
                    "indicator CSV file."
                ),
                file=path.name,
            )
        header = [h.strip() for h in rows[0]]
        kind = _kind(header)
        _take(kind, path, inputs)
        body = rows[1:]
        if kind == "column map":
            _column_map(path.name, header, body, inputs, builder)
        elif kind == "code map":
            _code_map(path.name, header, body, inputs, builder)
        else:
            inputs.header = header
            inputs.values = {
                h: [r[i].strip() for r in body[:_SAMPLE_ROWS] if i < len(r)] for i, h in enumerate(header)
            }
    if not inputs.column_file and not inputs.code_file:
        raise MappingError(
            N_(
                "neither an open-sdg column map (Text,Value) nor a code map (Text,Dimension,Value) "
                "is among the files"
            ),
            fix=N_("Give sdg-build's column-map and code-map CSV files (their headers say which is which)."),
            file=", ".join(p.name for p in paths),
        )
    return inputs


def _column_map(
    file: str, header: list[str], body: list[list[str]], inputs: _Inputs, b: MappingBuilder
) -> None:
    text, value = header.index("Text"), header.index("Value")
    for n, row in enumerate(body, start=2):
        source = row[text].strip() if text < len(row) else ""
        concept = row[value].strip() if value < len(row) else ""
        if not source and not concept:
            continue
        if not source or not concept:
            b.warn(file, f"row {n}", "has an empty Text or Value; left out")
        elif source in inputs.column_map and inputs.column_map[source] != concept:
            b.warn(file, f"row {n}", f"'{source}' is already mapped to {inputs.column_map[source]}; left out")
        else:
            inputs.column_map[source] = concept


def _code_map(
    file: str, header: list[str], body: list[list[str]], inputs: _Inputs, b: MappingBuilder
) -> None:
    from cgd_bridge.mapping.model import normalise_label

    text, dim, value = header.index("Text"), header.index("Dimension"), header.index("Value")
    seen: dict[tuple[str, str], str] = {}
    for n, row in enumerate(body, start=2):
        cells = [row[i].strip() if i < len(row) else "" for i in (text, dim, value)]
        if not any(cells):
            continue
        label, concept, code = cells
        if not all(cells):
            b.warn(file, f"row {n}", "has an empty Text, Dimension or Value; left out")
            continue
        key = (concept, normalise_label(label))
        if key in seen and seen[key] != code:
            b.warn(
                file,
                f"row {n}",
                f"'{label}' under {concept} already gives {seen[key]} (labels match "
                "case-insensitively); left out",
            )
            continue
        seen[key] = code
        labels = inputs.code_map.setdefault(concept, {}).setdefault(code, [])
        if label not in labels:
            labels.append(label)


def import_opensdg(paths: Sequence[Path], *, dataflow: str, structures: Any | None = None) -> Imported:
    """A mapping from sdg-build's column map and code map, optionally for one indicator CSV.

    Args:
        paths: the column-map CSV, the code-map CSV and, optionally, one indicator CSV.
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        structures: bundled + stored structures, to tell dimensions from attributes.
    """
    target = target_of(dataflow, structures)
    builder = MappingBuilder(target, [])
    inputs = _read_inputs(paths, builder)
    columns = inputs.header or _columns_without_data(inputs)
    where = inputs.data_file or inputs.column_file or inputs.code_file
    used: set[str] = set()
    for column in columns:
        concept = SDG_BUILD_COLUMNS.get(column) or inputs.column_map.get(column)
        if concept is None and (target.role(column) or column in ("TIME_PERIOD", "OBS_VALUE")):
            concept = column  # the column is already named after the SDMX component
        if concept is None:
            builder.warn(
                where,
                f"column '{column}'",
                "is not in the column map and is not an SDMX component of "
                f"{dataflow}: not used. {_suggest(column, target)}",
            )
            continue
        if concept in used:
            builder.warn(
                where, f"column '{column}'", f"{concept} already comes from another column; not used"
            )
            continue
        used.add(concept)
        _add_column(builder, inputs, column, concept, where)
    _unused_codes(builder, inputs, used)
    _defaults(builder, target, used, where)
    builder.dataset = Path(inputs.data_file).stem if inputs.data_file else "open-sdg"
    return Imported(
        mapping=builder.mapping(dataflow), sources=[p.name for p in paths], warnings=builder.warnings
    )


def _suggest(column: str, target: Any) -> str:
    """A hint for a column the column map does not name: the component it looks like, if any."""
    guess = re.sub(r"\W+", "_", column.strip()).upper()
    if target.role(guess):
        return f"It looks like {guess}: add '{column},{guess}' to the column map to use it."
    return "Add it to the column map if it is a disaggregation or an attribute."


def _unmatched(
    builder: MappingBuilder, column: str, values: list[str], codes: dict[str, list[str]], where: str
) -> None:
    """Values of the indicator CSV that the code map gives no code (reported again when mapping)."""
    from cgd_bridge.mapping.model import normalise_label

    known = {normalise_label(x) for code, labels in codes.items() for x in [code, *labels]}
    missing: dict[str, int] = {}
    for v in values:
        if v and normalise_label(v) not in known:
            missing[v] = missing.get(v, 0) + 1
    if missing:
        shown = ", ".join(f"'{v}' ({n} row{'s' if n > 1 else ''})" for v, n in list(missing.items())[:10])
        builder.warn(
            where,
            f"column '{column}'",
            f"values with no code in the code map: {shown}. Add them to "
            "the code map (or the mapping) before converting.",
        )


def _columns_without_data(inputs: _Inputs) -> list[str]:
    """With no indicator CSV: sdg-build's own columns plus every column of the column map."""
    implied = ["Year", "Value"] + [
        c
        for c, concept in SDG_BUILD_COLUMNS.items()
        if concept in inputs.code_map and c not in ("Year", "Value")
    ]
    return list(dict.fromkeys([*implied, *inputs.column_map]))


def _add_column(builder: MappingBuilder, inputs: _Inputs, column: str, concept: str, where: str) -> None:
    values = inputs.values.get(column, [])
    if concept == "TIME_PERIOD":
        fmt = next(
            (f for f, rx in _TIME_FORMATS if values and all(re.match(rx, v) for v in values if v)), None
        )
        if fmt is None:
            fmt = "year" if not values else "period"
            if values:
                builder.warn(
                    where,
                    f"column '{column}'",
                    "holds periods that are not all years, months or "
                    "dates: they are used as TIME_PERIOD as they are",
                )
        builder.time = {"column": column, "format": fmt}
        return
    if concept == "OBS_VALUE":
        builder.value = {"kind": "column", "column": column}
        return
    codes = inputs.code_map.get(concept, {})
    spec: dict[str, Any] = {"column": column, "map": codes}
    if not codes:
        spec["passthrough"] = True
        builder.warn(
            where,
            f"column '{column}'",
            f"the code map has no entries for {concept}: the column's "
            "values are used as codes as they are (sdg-build does the same)",
        )
    else:
        _unmatched(builder, column, values, codes, where)
    empty = sum(1 for v in values if not v)
    if empty and builder.target.role(concept) != "attributes":
        builder.warn(
            where,
            f"column '{column}'",
            f"{empty} empty cell(s): sdg-build reads an empty "
            f"{concept} as _T, cgd-bridge reports them as unmapped values. Write a label such as "
            "'Total' in those cells and map it to _T.",
        )
    builder.components[concept] = spec


def _unused_codes(builder: MappingBuilder, inputs: _Inputs, used: set[str]) -> None:
    for concept, codes in inputs.code_map.items():
        if concept not in used:
            n = sum(len(labels) for labels in codes.values())
            what = f"no column of {inputs.data_file}" if inputs.data_file else "no entry of the column map"
            builder.warn(
                inputs.code_file,
                f"Dimension {concept}",
                f"{n} code-map entr{'y' if n == 1 else 'ies'} not used: {what} is {concept}",
            )


def _defaults(builder: MappingBuilder, target: Any, used: set[str], where: str) -> None:
    for comp_id, code in SDG_BUILD_DEFAULTS.items():
        if comp_id not in used and (comp_id in target.dimensions):
            builder.components[comp_id] = {"value": code}
            builder.warn(where, comp_id, f"no column gives it: fixed to '{code}', sdg-build's default")
    for comp_id in ("SERIES", "REF_AREA"):
        if comp_id in target.dimensions and comp_id not in used:
            builder.warn(
                where,
                comp_id,
                f"no column gives it (sdg-build takes it from the indicator's metadata or "
                f"its default_values): add '{comp_id}: {{value: <code>}}' under dimensions",
            )
    for comp_id in target.dimensions:  # the DSD is the contract: validation requires every dimension
        if comp_id in used or comp_id in SDG_BUILD_DEFAULTS or comp_id in ("SERIES", "REF_AREA"):
            continue
        builder.warn(
            where,
            comp_id,
            f"no column gives it (sdg-build writes _T): add '{comp_id}: {{value: _T}}' under dimensions "
            "if the data is not broken down by it, else map its column; validation requires every "
            "dimension of the data structure",
        )
