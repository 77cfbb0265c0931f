"""The only orchestrator: open -> schema -> checks -> harmonise -> conform -> write.

Each step is a call into its package: ``ingest`` opens the data and gives its Table Schema,
``checks`` runs the checks (``checks.disclosure`` decides what is suppressed), ``mapping`` maps
and checks the codes, ``formats`` writes.

The CLI and the server call these functions; nothing here prints, reads settings or touches a
database. Long work reports progress through the ``progress`` callback
(``progress(rows_done, rows_estimate)``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge import arrow
from cgd_bridge.atomic import atomic_writer, write_bytes_atomic
from cgd_bridge.checks import Context, Options, dsat_score, run_checks
from cgd_bridge.checks.disclosure import (
    Release,
    Suppression,
    audit_observations,
    suppress_observations,
    suppressed_mask,
    withhold_counts,
)
from cgd_bridge.checks.primary import check_threshold
from cgd_bridge.checks.privacy import IDENTIFIER_IN_ATTRIBUTE, attribute_findings
from cgd_bridge.checks.relations import dimension_parents
from cgd_bridge.errors import FormatError, MappingError, StructureError, UsageError
from cgd_bridge.findings import Report
from cgd_bridge.i18n import ENGLISH, N_, msg, nmsg
from cgd_bridge.ingest import open_table
from cgd_bridge.ingest.schema import schema_for
from cgd_bridge.mapping import load_mapping, load_mapping_schema
from cgd_bridge.mapping.apply import Harmonised, constant_column, rows_kept
from cgd_bridge.mapping.conform import (
    NEVER_FORCED,
    UNCHECKED,
    contract_problems,
    map_and_check,
)
from cgd_bridge.metadata import LoadedMetadata, QualityMetadata, load_metadata
from cgd_bridge.sdmx.formats import get_format, get_metadata_format
from cgd_bridge.sdmx.names import named_target
from cgd_bridge.sdmx.target import Target
from cgd_bridge.sdmx.write import check_csv_options
from cgd_bridge.sdmx.write import write as write_format

if TYPE_CHECKING:
    from cgd_bridge.structures import Structures

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]


def release_memory() -> None:
    """Hand the memory a finished stage freed back to the system before the next one starts.

    Arrow's pool (jemalloc or mimalloc) keeps freed pages for Arrow, and glibc's malloc keeps
    freed heap pages for numpy and Python; a stage that allocates through the other one (the
    cell checks' numpy, then the mapping's Arrow, then the audit's numpy) would otherwise add
    its peak on top of what the previous stage left behind (#16).
    """
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


@dataclass(frozen=True)
class Validation:
    """What :func:`examine` found, and the data it mapped.

    Attributes:
        report: the findings (all a caller shows or stores).
        threshold: the small-cell threshold k the run used, e.g. 5.
        harmonised: the mapped observations (with a ``SUPPRESSED`` column when the mapping
            aggregates microdata or computes totals), when the mapping has SDMX sections
            (``dimensions``, ``time``, ``value``) and the data has their columns; else None.
        suppression: the source rows of aggregate data whose cells are suppressed, e.g. rows
            14 and 15; None for microdata or when the cell checks had nothing to decide.
    """

    report: Report
    threshold: int
    harmonised: Harmonised | None = None
    suppression: Suppression | None = None


def validate(
    data: str | Path,
    *,
    metadata: str | Path | LoadedMetadata | None = None,
    mapping: str | Path | None = None,
    form: str | Path | None = None,
    sheet: str | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
    structures: Structures | None = None,
) -> Report:
    """Check a CSO dataset and its quality metadata; return the full Report.

    Args:
        data: the dataset (CSV, XLSX or a Kobo/ODK export).
        metadata: the filled cgd-quality/1.0 file (YAML or JSON), or one already loaded with
            :func:`~cgd_bridge.metadata.load_metadata` (so a caller that needs it too reads it once).
        mapping: a mapping file whose ``schema`` describes the data; if absent, the schema is
            built from the XLSForm and/or inferred from the data.
        form: the XLSForm the data was collected with.
        sheet: the spreadsheet sheet to read.
        options: stage, thresholds, batch size.
        progress: called as ``progress(rows_done, rows_estimate)`` while reading.
        structures: where the target dataflow's codelists and constraints are looked up when
            the mapping has SDMX sections (default: the bundled ``codelists/`` only).

    Raises:
        InputError, TemplateError, MappingError: an input cannot be read at all.
    """
    return examine(
        data, metadata=metadata, mapping=mapping, form=form, sheet=sheet, options=options,
        progress=progress, structures=structures,
    ).report  # fmt: skip


#: findings that may mean the data is on another sheet of the workbook (cgd_bridge/diagnosis.py)
SHEET_SIGNS = {"missing-column", "blank-header", "empty-table"}


def examine(
    data: str | Path,
    *,
    metadata: str | Path | LoadedMetadata | None = None,
    mapping: str | Path | None = None,
    form: str | Path | None = None,
    sheet: str | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
    structures: Structures | None = None,
    previous: Release | None = None,
) -> Validation:
    """:func:`validate`, returning the mapped data and the suppression with the Report.

    Open -> schema -> checks -> map (when the mapping has SDMX sections) -> disclosure control
    of the mapped observations; the arguments are :func:`validate`'s, and ``previous``: the
    published version of the dataset this one follows, whose cells the reader already knows
    (:func:`~cgd_bridge.checks.disclosure.audit_observations`).
    """
    opts = options or Options()
    report = Report(stage=opts.stage)
    table = open_table(data, sheet=sheet, form=form)
    report.inputs.append(table.info)
    md: LoadedMetadata | None = None
    if metadata is not None:
        md = metadata if isinstance(metadata, LoadedMetadata) else load_metadata(metadata)
        report.inputs.append(md.info)
    declared = None
    spec = None
    if mapping is not None:
        declared, info = load_mapping_schema(mapping)
        report.inputs.append(info)
        spec, _ = load_mapping(mapping)
        if spec.dimensions and spec.time is not None and spec.value is not None:
            # the mapping's observations are the cells the disclosure checks decide on (#13)
            opts = dataclasses.replace(opts, mapped=True)
    schema, bound = schema_for(table, declared, batch_rows=opts.batch_rows)
    ctx = Context(table=table, schema=schema, metadata=md, report=report, options=opts, bound=bound)
    if spec is not None and opts.mapped:  # aggregate data's cells: the rows the mapping keeps (#13)
        ctx.kept = rows_kept(table, spec)
    run_checks(ctx, progress)
    release_memory()  # the cell table's and the secured slabs' pages, before the mapping
    table.info.rows = ctx.rows_read + len(table.skipped)
    threshold = check_threshold(ctx)  # the floor: refused below 3, a warning below 5
    report.stats.update(
        {
            "rows": table.info.rows,
            "columns": len(table.columns),
            "schema": schema.source,
            "data_kind": schema.data_kind,
            "threshold": threshold.value,
            "threshold_source": threshold.source,
            "group_size": threshold.group_size,
        }
    )
    verdict = dsat_score(md.model) if md is not None else None
    if verdict is not None:
        report.stats["dsat"] = verdict
    report.stats["table_schema"] = schema.to_descriptor()
    if table.info.format == "xlsx" and report.codes() & SHEET_SIGNS:  # evidence of a wrong sheet
        from cgd_bridge.ingest.xlsx import sheet_headers

        report.stats["sheets"] = sheet_headers(Path(data))
    h = None
    if mapping is not None and spec is not None:
        h = map_and_check(
            table, spec, report, mapping_file=Path(mapping).name, structures=structures,
            batch_rows=opts.batch_rows, provided=CONFORMED_ATTRIBUTES,
        )  # fmt: skip
        release_memory()  # the mapped batches' pages, before the observations' disclosure checks
        if h is not None:  # identifiers in the attribute values that would be published
            report.extend(attribute_findings(h, spec, file=table.file, mapping_file=Path(mapping).name))
        if h is not None and "OBS_COUNT" in h.table.column_names:
            suppress_observations(
                h, report, threshold=threshold.value, suppression=ctx.suppression, file=table.file,
                group_size=threshold.group_size,
            )  # fmt: skip
        if h is not None:  # the audit over every additive relation, before anything is published
            area = dimension_parents(structures, spec.dataflow, "REF_AREA")
            audit_observations(
                h, report, threshold=threshold.value, suppression=ctx.suppression, file=table.file,
                hierarchies={"REF_AREA": area} if area else None, previous=previous,
            )  # fmt: skip
            release_memory()  # the audit's relations and LP models
    report.finish()
    return Validation(report=report, threshold=ctx.threshold, harmonised=h, suppression=ctx.suppression)


@dataclass
class Conversion:
    """The outcome of :func:`convert`: the validation report, the harmonised data, what was written.

    Attributes:
        report: the validation report (conversion refuses an invalid one unless forced).
        harmonised: the mapped observations, with provenance and suppression applied; None
            when conversion stopped before mapping.
        written: observations written (0 when nothing was written).
        refusal: why nothing was written, in plain words, as a composed message
            (:func:`cgd_bridge.i18n.msg`, shown in any language with ``Translator.text``); None
            when the output was written. ``refused`` is its English.
        metadata: the reference-metadata file written next to the data (``metadata_out``), if any.
    """

    report: Report
    harmonised: Harmonised | None = None
    written: int = 0
    refusal: dict[str, Any] | None = None
    metadata: Path | None = None

    @property
    def refused(self) -> str | None:
        """Why nothing was written, in English; None when the output was written."""
        return None if self.refusal is None else ENGLISH.text(self.refusal)


def _fix_of(finding: Any) -> dict[str, Any]:
    """A finding's fix as a composed message (translated where it is shown), without its full stop."""
    if finding.template is None:
        fix: str = finding.fix or ""
        return msg(fix)
    params = {k: msg(v) if k in finding.translate else v for k, v in finding.params.items()}
    return msg(finding.template[1], **params)


def convert(
    data: str | Path,
    *,
    metadata: str | Path,
    mapping: str | Path,
    to: str,
    output: str | Path,
    form: str | Path | None = None,
    sheet: str | None = None,
    force: bool = False,
    options: Options | None = None,
    progress: Progress | None = None,
    structures: Structures | None = None,
    labels: str = "id",
    metadata_out: str | Path | None = None,
    metadata_format: str = "sdmx-ml-2.1-genericmetadata",
    detail: str = "full",
    dimension_at_observation: str = "TIME_PERIOD",
    time_format: str = "original",
    keys: str = "none",
) -> Conversion:
    """Validate, map and write a CSO dataset as SDMX (format ``to``) to ``output``.

    Validation runs first, and with the mapping it also checks coverage, duplicate series keys,
    codes and constraints: with errors, nothing is written unless ``force`` (and then every
    observation is marked OBS_STATUS U, low reliability); rows whose values have no code are
    never written. Suppressed cells (small cells and the
    cells that would reveal them) are written with no value, OBS_STATUS Q and, where the target DSD
    declares it, CONF_STATUS C.
    The output is written to a temporary file and moved into place, so a failure leaves none.
    Codes, components and the dataflow are named from ``structures`` where the format carries
    names (SDMX-JSON; SDMX-CSV with ``labels`` ``name`` or ``both``).

    ``detail`` (``full``, ``dataonly``, ``serieskeysonly``, ``nodata``) and
    ``dimension_at_observation`` (``TIME_PERIOD``, another dimension of the target dataflow, or
    ``AllDimensions``) shape the message as the SDMX REST parameters of the same names do; with
    ``serieskeysonly`` or ``nodata``, ``written`` counts series. ``time_format`` and ``keys``
    are SDMX-CSV's ``timeFormat`` and ``keys`` options (other formats take the defaults only).
    """
    fmt = get_format(to)  # an unknown format fails before any work
    _check_detail(detail, dimension_at_observation, fmt.name)  # so does an unknown detail
    check_csv_options(fmt.name, time_format=time_format, keys=keys)  # and an SDMX-CSV option
    if metadata_out is not None:
        get_metadata_format(metadata_format)  # so does an unknown metadata format
    if labels not in fmt.labels:
        raise FormatError(
            N_("{format} has no labels='{labels}'"),
            fix=N_("Use labels {allowed} with {name}, or an SDMX-CSV format."),
            params={
                "format": fmt.title,
                "labels": labels,
                "allowed": " / ".join(fmt.labels),
                "name": fmt.name,
            },
        )
    if structures is None:
        from cgd_bridge.structures import Structures as _Structures

        structures = _Structures.load(None)  # lazy: files are read when first looked up
    prepared = harmonise(
        data, metadata=metadata, mapping=mapping, form=form, sheet=sheet, options=options, progress=progress,
        structures=structures, force=force,
    )  # fmt: skip
    report = prepared.report
    result = Conversion(report=report)
    if prepared.harmonised is None or prepared.target is None:
        result.refusal = nmsg(
            "validation found {n} error; fix it, or use --force to convert anyway (observations "
            "are then marked OBS_STATUS U)",
            "validation found {n} errors; fix them, or use --force to convert anyway (observations "
            "are then marked OBS_STATUS U)",
            report.error_count,
        )
        if any(code in UNCHECKED for code, _, _ in report.counts):
            result.refusal = msg(
                N_(
                    "the codes could not be checked against the target's structures (unknown-dataflow); "
                    "--force does not convert unchecked data: import the NSO's structures with "
                    "'cgd-bridge structures import FILE' or correct the mapping's dataflow"
                )
            )
        breaking = [f for f in report.findings if f.code in NEVER_FORCED and f.code not in UNCHECKED]
        if breaking:  # the mapping does not give the DSD what it requires (the DSD contract)
            named = ", ".join(dict.fromkeys(str(f.details.get("component", f.code)) for f in breaking))
            result.refusal = msg(
                N_(
                    "the output would not conform to the target data structure ({components}); "
                    "--force does not convert past that: {fix}"
                ),
                components=named,
                fix=_fix_of(breaking[0]),
            )
        if any(code == IDENTIFIER_IN_ATTRIBUTE for code, _, _ in report.counts):  # the first reason
            result.refusal = msg(
                N_(
                    "attributes filled from the data would publish personal identifiers "
                    "(identifier-in-attribute); --force does not publish identifiers: remove them from "
                    "the column, or stop mapping it"
                )
            )
        return result
    result.harmonised = prepared.harmonised
    result.written, target = write_harmonised(
        prepared, fmt.name, output, structures=structures, labels=labels, detail=detail,
        dimension_at_observation=dimension_at_observation, time_format=time_format, keys=keys,
    )  # fmt: skip
    if metadata_out is not None:  # the quality metadata as an SDMX reference metadata set
        result.metadata = Path(metadata_out)
        from cgd_bridge.sdmx.write.refmeta import render_metadata  # lxml and the MSD: --metadata-out only

        write_bytes_atomic(result.metadata, render_metadata(prepared.metadata.model, target, metadata_format))
    return result


def write_harmonised(
    prepared: Harmonisation,
    to: str,
    output: str | Path,
    *,
    structures: Structures,
    labels: str = "id",
    detail: str = "full",
    dimension_at_observation: str = "TIME_PERIOD",
    time_format: str = "original",
    keys: str = "none",
) -> tuple[int, Target]:
    """Write what :func:`harmonise` prepared as SDMX format ``to`` (the write step of
    :func:`convert`): the observations (or series) written, and the target written for."""
    h, target = prepared.harmonised, prepared.target
    if h is None or target is None:
        raise UsageError(
            N_("nothing to write: validation found errors"),
            fix=N_("Run 'cgd-bridge validate' first and correct what it reports."),
        )
    fmt = get_format(to)
    if fmt.names or labels != "id":  # SDMX-JSON prints names; SDMX-CSV with labels
        target = named_target(target, h.table, structures)
    _check_dimension_at_observation(dimension_at_observation, target)
    with atomic_writer(output) as fh:
        written = write_format(
            fmt.name, h.table, target, fh, labels=labels, detail=detail,
            dimension_at_observation=dimension_at_observation, time_format=time_format, keys=keys,
        )  # fmt: skip
    return written, target


def _check_detail(detail: str, dimension_at_observation: str, fmt: str) -> None:
    """Refuse an unknown ``detail``, series-only details without series, or another dimension
    than TIME_PERIOD at the observation of a time-series-only format, before any work."""
    from cgd_bridge.sdmx.write._text import ALL_DIMENSIONS, DETAILS, SERIES_ONLY, time_series_only

    if get_format(fmt).time_series:
        time_series_only(get_format(fmt).title, dimension_at_observation)

    if detail not in DETAILS:
        raise FormatError(
            N_("'{detail}' is not an SDMX data detail"),
            fix=N_("Use one of: {allowed}."),
            params={"detail": detail, "allowed": ", ".join(DETAILS)},
        )
    if detail in SERIES_ONLY and dimension_at_observation == ALL_DIMENSIONS and not get_format(fmt).flat:
        raise FormatError(
            N_(
                "detail '{detail}' lists series, and with the dimension at "
                "the observation {all} there are no series"
            ),
            fix=N_(
                "Leave the dimension at the observation at TIME_PERIOD (or name another dimension), or "
                "ask for detail full or dataonly."
            ),
            params={"detail": detail, "all": ALL_DIMENSIONS},
        )


def _check_dimension_at_observation(dimension: str, target: Target) -> None:
    """Refuse a dimension at the observation the target dataflow does not have."""
    from cgd_bridge.sdmx.write._text import ALL_DIMENSIONS, TIME

    dims = [d for d in target.dimensions if d != TIME]
    if dimension not in (TIME, ALL_DIMENSIONS, *dims):
        raise FormatError(
            N_(
                "'{dimension}' is not a dimension of {dataflow}, so it "
                "cannot be the dimension at the observation"
            ),
            fix=N_("Use {time} (the default), {all} (no series) or one of: {dimensions}."),
            params={
                "dimension": dimension,
                "dataflow": target.ref,
                "time": TIME,
                "all": ALL_DIMENSIONS,
                "dimensions": ", ".join(dims),
            },
        )


PROVENANCE_ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS", "NATURE", "SOURCE_DETAIL", "COMMENT_OBS")
#: The attributes :func:`conform` gives every observation (when the target DSD declares them).
CONFORMED_ATTRIBUTES = ("OBS_STATUS", "CONF_STATUS", "NATURE", "SOURCE_DETAIL")


def conform(h: Harmonised, suppression: Suppression | None, md: QualityMetadata, *, forced: bool) -> pa.Table:
    """Apply the CGD provenance rules and the suppression the checks decided.

    REPORTING_TYPE stays as mapped (N for national CGD); NATURE defaults to ``_X`` (never C
    unless the NSO endorses); OBS_STATUS defaults to G (experimental), U (low reliability) when
    forced past validation errors, Q where suppressed (:func:`~cgd_bridge.checks.disclosure.
    suppressed_mask`: the observations' own decision, else ``suppression``'s source rows);
    CONF_STATUS is C where suppressed, F elsewhere; SOURCE_DETAIL names the producer, the
    method and the dataset version. A suppressed observation keeps no count, numerator or
    denominator in any attribute (:func:`~cgd_bridge.checks.disclosure.withhold_counts`), so
    no writer and no store receives one.

    Only the attributes the target DSD declares are given (``h.contract``): the SDG DSD 1.5 has
    no CONF_STATUS, so there a suppressed cell shows as what it does have, no value and
    OBS_STATUS Q ("missing value; suppressed"). Without a contract (an unknown target, which
    is never written or stored) every rule applies.
    """
    mask = arrow.array(suppressed_mask(h.table, suppression))
    t = withhold_counts(h.table, mask, h.count_attributes)
    n = t.num_rows

    def column(name: str, default: str) -> pa.Array | pa.ChunkedArray:
        if name not in t.column_names:
            return constant_column(default, n)  # the text once, not once per row
        if t[name].null_count == 0:
            return t[name]  # as mapped (a constant stays shared)
        return pc.coalesce(t[name].combine_chunks(), arrow.scalar(default))

    def where_suppressed(code: str, values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        if not suppressed:
            return values
        whole = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        return pc.if_else(mask, arrow.scalar(code), whole)

    suppressed = bool(pc.any(mask).as_py())
    status = column("OBS_STATUS", "U" if forced else "G")
    if forced:
        status = constant_column("U", n)
    producer = md.producer.organisation if md.producer and md.producer.organisation else "a CSO"
    method = md.method.type if md.method and md.method.type else "citizen data"
    version = md.dataset.version if md.dataset and md.dataset.version else "?"
    updates = {
        "OBS_VALUE": pc.if_else(mask, arrow.scalar(None, pa.float64()), t["OBS_VALUE"].combine_chunks()),
        "OBS_STATUS": where_suppressed("Q", status),
        "CONF_STATUS": where_suppressed("C", column("CONF_STATUS", "F")),
        "NATURE": column("NATURE", "_X"),
        "SOURCE_DETAIL": column("SOURCE_DETAIL", f"CGD: {producer}, {method}, dataset version {version}"),
    }
    declared = h.contract.attribute_ids if h.contract is not None else None
    for name, values in updates.items():
        if declared is not None and name != "OBS_VALUE" and name not in declared:
            continue
        if name in t.column_names:
            t = t.set_column(t.schema.get_field_index(name), name, values)
        else:
            t = t.append_column(name, values)
    return t


#: findings ``--force`` never converts or stores past: codes that could not be checked, and
#: identifiers that the published attributes would carry
UNFORCEABLE = NEVER_FORCED | {IDENTIFIER_IN_ATTRIBUTE}


def unchecked(report: Report) -> bool:
    """Whether nothing may be converted or stored, even when forced: the data could not be
    checked at all (no structure for its target), would not conform to its target DSD (a
    dimension not mapped, an undeclared or missing attribute), or would publish personal
    identifiers."""
    return any(code in UNFORCEABLE for code, _, _ in report.counts)


@dataclass
class Harmonisation:
    """A dataset validated, mapped and conformed, ready to store or write (see :func:`harmonise`).

    Attributes:
        report: the validation report.
        metadata: the loaded quality metadata.
        dataflow: the mapping's target, ``AGENCY:ID(VERSION)``.
        harmonised: the mapped observations, conformed (provenance, suppression); None when
            validation found errors (nothing is harmonised then).
        target: the writers' target (dimensions, attributes, series-level attributes).
        mapping_text: the mapping file as it was read.
    """

    report: Report
    metadata: LoadedMetadata
    dataflow: str | None = None
    harmonised: Harmonised | None = None
    target: Target | None = None
    mapping_text: str = ""


def harmonise(
    data: str | Path,
    *,
    metadata: str | Path,
    mapping: str | Path,
    form: str | Path | None = None,
    sheet: str | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
    structures: Structures | None = None,
    force: bool = False,
    previous: Release | None = None,
) -> Harmonisation:
    """Validate and map a dataset and apply the CGD provenance rules, without writing anything.

    :func:`convert` writes what this returns, and the server stores it. ``harmonised`` is None
    when validation found errors, unless ``force`` (every observation is then OBS_STATUS U).
    ``target`` carries the DSD's series-level attributes but no code names (the writers that
    need names get them from :func:`cgd_bridge.sdmx.names.named_target`). ``previous``: the
    published version this one follows (:func:`examine`; the server's intake passes it).
    """
    if structures is None:
        from cgd_bridge.structures import Structures as _Structures

        structures = _Structures.load(None)
    md = load_metadata(metadata)
    validation = examine(
        data, metadata=md, mapping=mapping, form=form, sheet=sheet, options=options, progress=progress,
        structures=structures, previous=previous,
    )  # fmt: skip
    report = validation.report
    spec, _ = load_mapping(mapping)
    text = Path(mapping).read_text(encoding="utf-8", errors="replace")
    result = Harmonisation(report=report, metadata=md, dataflow=spec.dataflow, mapping_text=text)
    if not report.valid and (not force or unchecked(report)):
        return result
    if not spec.dataflow:
        raise MappingError(
            N_("the mapping does not name its target dataflow"),
            fix=N_("Add 'dataflow: AGENCY:ID(VERSION)', e.g. IAEG-SDGs:DF_SDG_GLH(1.5)."),
            file=Path(mapping).name,
        )
    h = validation.harmonised
    if h is None:
        raise MappingError(
            N_("the mapping has no SDMX sections (dimensions, time, value)"),
            fix=N_("Add them as docs/mapping.md shows."),
            file=Path(mapping).name,
        )
    contract = h.contract
    if contract is None:  # the target is known (else unknown-dataflow stopped us): a broken store
        raise MappingError(
            N_("the data structure of {dataflow} could not be read"),
            fix=N_("Import the NSO's structures again with 'cgd-bridge structures import FILE'."),
            file=Path(mapping).name,
            params={"dataflow": spec.dataflow},
        )
    h.table = conform(h, validation.suppression, md.model, forced=not report.valid)
    release_memory()  # the table before conform, before the contract's checks and the writer
    # the DSD is the contract: its dimensions in key order, its attributes in its order, at
    # the attachment level it declares; checked before anything is written or stored
    present = [a for a in (*h.attributes, *PROVENANCE_ATTRIBUTES) if a in h.table.column_names]
    attributes = contract.declared(present)
    problems = contract_problems(h.table, contract, attributes, structures, codes=report.valid)
    if problems:  # validation lets none of these through: a store whose structures changed, or a bug
        raise StructureError(
            N_("the observations do not conform to {dsd}, so nothing is written or stored: {problems}"),
            fix=N_(
                "Check the imported structures ('cgd-bridge structures list') and validate again; if "
                "validation passes and this remains, report it as a bug."
            ),
            file=Path(mapping).name,
            params={"dsd": contract.dsd, "problems": "; ".join(problems)},
        )
    target = Target.parse(spec.dataflow, contract.dimension_ids, attributes)
    target = dataclasses.replace(
        target, series_attributes=tuple(a for a in contract.series_attributes if a in attributes)
    )
    result.harmonised = h
    result.target = target
    return result


def audit_file(path: str | Path, *, threshold: int = 5, structures: Structures | None = None) -> Report:
    """The disclosure audit of an SDMX data file (``cgd-bridge audit``; every format of
    :func:`cgd_bridge.sdmx.read.published.read_published`): the published values as
    known, the suppressed cells (no value, OBS_STATUS Q / CONF_STATUS C) as unknowns, every
    additive relation the keys imply; a ``suppression-exposed`` error for each suppressed cell
    a reader can narrow down to less than ``threshold``
    (:func:`cgd_bridge.checks.disclosure.audit_published`)."""
    from cgd_bridge.checks.disclosure import audit_published
    from cgd_bridge.findings import InputInfo
    from cgd_bridge.sdmx.read.published import read_published

    data = read_published(path, structures=structures)
    area = dimension_parents(structures, data.dataflow, "REF_AREA") if structures is not None else {}
    report = audit_published(
        data.table, data.dimensions, threshold=threshold, file=Path(path).name,
        hierarchies={"REF_AREA": area} if area else None,
        first_line=2 if data.format.startswith("sdmx-csv") else None,
    )  # fmt: skip
    report.inputs.append(
        InputInfo(file=Path(path).name, kind="data", format=data.format, rows=data.table.num_rows)
    )
    return report
