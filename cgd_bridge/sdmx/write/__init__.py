"""The SDMX writers: one module per family of formats, chosen through :mod:`cgd_bridge.sdmx.formats`.

Data writers take an Arrow table whose columns are SDMX component ids plus a
:class:`~cgd_bridge.sdmx.target.Target` naming the dataflow, and stream bytes to a binary file
object. They work on columns: the text of each observation is assembled with Arrow string
kernels a batch at a time, never with one Python object per observation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa

from cgd_bridge.errors import FormatError
from cgd_bridge.i18n import N_
from cgd_bridge.sdmx.formats import FORMATS, get_format
from cgd_bridge.sdmx.maps import DEFAULT_AGENCY, Exported
from cgd_bridge.sdmx.target import Target

if TYPE_CHECKING:
    from cgd_bridge.mapping.model import Mapping


def check_options(
    name: str, dimensions: tuple[str, ...] | list[str], *, detail: str, dimension_at_observation: str
) -> None:
    """Refuse, before anything is written, ``detail`` and ``dimensionAtObservation`` that format
    ``name`` cannot write for a dataflow with these ``dimensions`` (a streamed answer cannot
    fail half-way).

    Raises:
        FormatError: an unknown detail or observation dimension, another than TIME_PERIOD in a
            time-series-only format, or series-only details with ``AllDimensions`` (except in
            SDMX-CSV, which is flat whatever it is).
    """
    from cgd_bridge.sdmx.write._text import TIME, check_detail, layout, time_series_only

    fmt = get_format(name)
    target = Target("", "", "", tuple(dimensions))
    lay = layout(target, dimension_at_observation)
    if fmt.time_series:
        time_series_only(fmt.title, dimension_at_observation)
    check_detail(detail, layout(target, TIME) if fmt.flat else lay)


def check_csv_options(name: str, *, time_format: str = "original", keys: str = "none") -> None:
    """Refuse SDMX-CSV's ``timeFormat`` and ``keys`` options for another format, or values the
    SDMX-CSV 2.0 field guide does not define (before anything is written).

    Raises:
        FormatError: a value other than ``original``/``none`` for a format that is not SDMX-CSV,
            or an unknown value.
    """
    from cgd_bridge.sdmx.write.sdmx_csv import KEYS, TIME_FORMATS

    for option, value, allowed in (("timeFormat", time_format, TIME_FORMATS), ("keys", keys, KEYS)):
        if value not in allowed:
            raise FormatError(
                N_("{option}={value} is not an SDMX-CSV option value"),
                fix=N_("Use one of: {choices} ({default} by default)."),
                params={
                    "option": option,
                    "value": value,
                    "choices": ", ".join(allowed),
                    "default": allowed[0],
                },
            )
        if value != allowed[0] and get_format(name).family != "csv":
            raise FormatError(
                N_("SDMX-CSV's {option}={value} does not apply to {format}"),
                fix=N_(
                    "Leave {option} out, or ask for SDMX-CSV (format=csv on the server, "
                    "--to sdmx-csv-2.0 in cgd-bridge convert)."
                ),
                params={"option": option, "value": value, "format": get_format(name).title},
            )


def write(
    name: str,
    table: pa.Table,
    target: Target,
    out: BinaryIO,
    *,
    labels: str = "id",
    detail: str = "full",
    dimension_at_observation: str = "TIME_PERIOD",
    time_format: str = "original",
    keys: str = "none",
) -> int:
    """Write ``table`` in format ``name`` to ``out``; returns the number of observations
    (of series, with ``detail=serieskeysonly|nodata``).

    Args:
        labels: ``id``, ``name`` or ``both`` for the formats that take it (``Format.labels``);
            any other format accepts only ``id``.
        detail: ``full``, ``dataonly`` (no attributes), ``serieskeysonly`` (the series keys,
            no observations), ``nodata`` (the series keys with their series attributes).
        dimension_at_observation: ``TIME_PERIOD``, another dimension of the target, or
            ``AllDimensions`` (no series); SDMX-CSV is flat whatever it is.
        time_format: SDMX-CSV's ``timeFormat``, ``original`` or ``normalized`` (periods as the
            ISO 8601 date they start on); other formats take ``original`` only.
        keys: SDMX-CSV's ``keys``, ``none``, ``series``, ``obs`` or ``both`` (SERIES_KEY and
            OBS_KEY columns); other formats take ``none`` only.

    Raises:
        FormatError: an unknown format, ``labels``, ``time_format`` or ``keys`` the format does
            not take, an unknown ``detail`` or observation dimension, or series-only details
            with ``AllDimensions``.
    """
    fmt = get_format(name)
    if labels not in fmt.labels:
        takes = [f.name for f in FORMATS.values() if labels in f.labels]
        raise FormatError(
            N_("{format} has no labels='{labels}'"),
            fix=N_("Leave labels out (id), or use a format that takes it: {names}.")
            if takes
            else N_("Leave labels out (id): no format takes it."),
            params={"format": fmt.title, "labels": labels, "names": ", ".join(takes)},
        )
    check_csv_options(name, time_format=time_format, keys=keys)
    writer = fmt.load_writer()
    options: dict[str, str] = {"detail": detail, "dimension_at_observation": dimension_at_observation}
    if labels != "id":
        options["labels"] = labels
    if time_format != "original":
        options["time_format"] = time_format
    if keys != "none":
        options["keys"] = keys
    result: int = writer(table, target, out, **options)
    return result


def export_structure_map(
    mapping: Mapping,
    *,
    structures: Any | None = None,
    agency: str = DEFAULT_AGENCY,
    fmt: str = "sdmx-ml-3.0",
    name: str = "mapping",
) -> Exported:
    """A mapping as an SDMX 3.0 structure message (``sdmx-ml-3.0``, ``sdmx-json-2.0``:
    :mod:`~cgd_bridge.sdmx.write.maps`) or an SDMX 2.1 StructureSet (``sdmx-ml-2.1``:
    :mod:`~cgd_bridge.sdmx.write.maps21`, which builds on the first), chosen here, above both.

    Args:
        mapping: the loaded mapping.
        structures: a :class:`cgd_bridge.structures.Structures`, to name the target codelists.
        agency: the maintenance agency of the CSO-side artefacts, e.g. ``CGD_BRIDGE`` or the ID
            the NSO's registry gave the CSO.
        fmt: ``sdmx-ml-3.0``, ``sdmx-json-2.0`` or ``sdmx-ml-2.1``.
        name: how to name the mapping in warnings (its file name).
    """
    if fmt == "sdmx-ml-2.1":
        from cgd_bridge.sdmx.write.maps21 import export_structure_set

        return export_structure_set(mapping, structures=structures, agency=agency, name=name)
    from cgd_bridge.sdmx.write.maps import export_structure_map_30

    return export_structure_map_30(mapping, structures=structures, agency=agency, fmt=fmt, name=name)
