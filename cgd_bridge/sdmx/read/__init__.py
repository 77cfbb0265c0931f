"""Readers of SDMX: official series (``data``), SDMX maps (``maps``), open-sdg CSVs (``opensdg``).

:func:`import_mapping` is the entry of mapping imports: it hands SDMX maps to
:mod:`~cgd_bridge.sdmx.read.maps` and open-sdg CSVs to :mod:`~cgd_bridge.sdmx.read.opensdg` (here,
above both, so that neither imports the other's module to dispatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cgd_bridge.errors import MappingError, what_is_not_a_file
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.maps import Imported


def import_mapping(
    paths: Sequence[str | Path],
    *,
    dataflow: str,
    structures: Any | None = None,
    links: dict[str, tuple[str, str | None]] | None = None,
) -> Imported:
    """A ``cgd-mapping/1.0`` mapping from SDMX maps or from open-sdg sdg-build CSVs.

    Args:
        paths: SDMX structure messages (SDMX-ML 2.1/3.0, SDMX-JSON 2.0), or open-sdg CSVs (a
            column map, a code map and optionally one indicator CSV they apply to).
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        structures: bundled + stored structures (:class:`cgd_bridge.structures.Structures`).
        links: see :func:`import_sdmx_maps` (SDMX code maps that name no component).

    Example::

        >>> imported = import_mapping(["ons_column_mapping.csv", "ons_code_mapping.csv",
        ...     "ons_indicator_1-1-1.csv"], dataflow="IAEG-SDGs:DF_SDG_GLH(1.5)")  # doctest: +SKIP
        >>> imported.mapping.dimensions["SERIES"].column  # doctest: +SKIP
        'Series'
    """
    from cgd_bridge.errors import StructureError
    from cgd_bridge.sdmx.refs import parse_ref

    try:
        parse_ref(dataflow)
    except StructureError as exc:
        raise MappingError(
            N_("--dataflow '{dataflow}' is not an SDMX reference"),
            fix=N_("Give it as AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5)."),
            params={"dataflow": dataflow},
        ) from exc
    files = [Path(p) for p in paths]
    if not files:
        raise MappingError(
            N_("no files to import"), fix=N_("Give the SDMX map files, or the open-sdg CSV files.")
        )
    for f in files:
        if not f.is_file():
            raise MappingError(
                what_is_not_a_file(f), fix=N_("Check the path and the file name."), file=str(f)
            )
    csvs = [f for f in files if f.suffix.lower() == ".csv"]
    if csvs and len(csvs) != len(files):
        raise MappingError(
            N_("SDMX maps and open-sdg CSV files cannot be imported together"),
            fix=N_("Import the SDMX files in one run and the CSV files in another."),
            file=", ".join(f.name for f in files),
        )
    if csvs:
        from cgd_bridge.sdmx.read.opensdg import import_opensdg

        return import_opensdg(files, dataflow=dataflow, structures=structures)
    from cgd_bridge.sdmx.read.maps import import_sdmx_maps

    return import_sdmx_maps(files, dataflow=dataflow, structures=structures, links=links)
