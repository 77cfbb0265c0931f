"""The only orchestrator: ingest -> check (-> map -> write, in later parts).

The CLI and the server call these functions; nothing here prints, reads settings or touches a
database. Long work reports progress through the ``progress`` callback
(``progress(rows_done, rows_estimate)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from cgd_bridge.checks import Context, Options, all_checks, type_batch
from cgd_bridge.findings import Report
from cgd_bridge.ingest import SourceColumn, SourceTable, open_table
from cgd_bridge.ingest.kobo import field_descriptor
from cgd_bridge.ingest.schema import (
    SchemaField,
    TableSchema,
    infer_role,
    infer_schema,
    schema_from_descriptor,
)
from cgd_bridge.mapping import load_mapping_schema
from cgd_bridge.metadata import LoadedMetadata, load_metadata

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]


def validate(
    data: str | Path,
    *,
    metadata: str | Path | None = None,
    mapping: str | Path | None = None,
    form: str | Path | None = None,
    sheet: str | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
) -> Report:
    """Check a CSO dataset and its quality metadata; return the full Report.

    Args:
        data: the dataset (CSV, XLSX or a Kobo/ODK export).
        metadata: the filled cgd-quality/1.0 file (YAML or JSON).
        mapping: a mapping file whose ``schema`` describes the data; if absent, the schema is
            built from the XLSForm and/or inferred from the data.
        form: the XLSForm the data was collected with.
        sheet: the spreadsheet sheet to read.
        options: stage, thresholds, batch size.
        progress: called as ``progress(rows_done, rows_estimate)`` while reading.

    Raises:
        InputError, TemplateError, MappingError: an input cannot be read at all.
    """
    opts = options or Options()
    report = Report(stage=opts.stage)
    table = open_table(data, sheet=sheet, form=form)
    report.inputs.append(table.info)
    md: LoadedMetadata | None = None
    if metadata is not None:
        md = load_metadata(metadata)
        report.inputs.append(md.info)
    schema = _schema(table, mapping, report, opts)
    ctx = Context(table=table, schema=schema, metadata=md, report=report, options=opts)
    ctx.bound = bind(schema, table)
    _attach_labels(schema, table)
    checks = all_checks()
    for check in checks:
        check.start(ctx)
    estimate: int | None = None
    missing = schema.missing_values
    for batch in table.batches(opts.batch_rows, missing):
        tb = type_batch(batch, ctx.rows_read + 2, ctx)
        for check in checks:
            check.batch(ctx, tb)
        ctx.rows_read += batch.num_rows
        if progress is not None:
            if estimate is None and table.info.bytes and batch.nbytes:
                estimate = max(ctx.rows_read, int(table.info.bytes / max(1, batch.nbytes / batch.num_rows)))
            progress(ctx.rows_read, max(estimate or 0, ctx.rows_read) or None)
    pa.default_memory_pool().release_unused()  # hand the batches' memory back before finishing
    for check in checks:
        check.finish(ctx)
    report.remap_rows(table.row_mapper())
    table.info.rows = ctx.rows_read + len(table.skipped)
    report.stats.update(
        {
            "rows": table.info.rows,
            "columns": len(table.columns),
            "schema": schema.source,
            "data_kind": schema.data_kind,
            "threshold": ctx.threshold,
        }
    )
    if md is not None:
        from cgd_bridge.checks import dsat_score

        verdict = dsat_score(md.model)
        if verdict is not None:
            report.stats["dsat"] = verdict
    report.stats["table_schema"] = schema.to_descriptor()
    report.finish()
    return report


def _schema(table: SourceTable, mapping: str | Path | None, report: Report, opts: Options) -> TableSchema:
    if mapping is not None:
        schema, info = load_mapping_schema(mapping)
        report.inputs.append(info)
        return schema
    sample = _first_batch(table, opts)
    data_cols = [c for c in table.columns if c.kind in ("data", "gps") and c.header]
    if table.form is not None:
        fields = []
        for col in data_cols:
            q = table.form.questions.get(col.question or "")
            if q is None:
                inferred = infer_schema([col.name], sample, [col.key]).fields[0]
                fields.append(inferred)
                continue
            desc = field_descriptor(q, table.form)
            desc["name"] = col.name
            role, dimension, wg = infer_role(col.name)
            if role != "other":
                desc["role"] = role
                if dimension:
                    desc["dimension"] = dimension
                if wg:
                    desc["wgDomain"] = wg
            fields.append(desc)
        descriptor = {
            "fields": [f.to_descriptor() if isinstance(f, SchemaField) else f for f in fields],
        }
        descriptor["dataKind"] = "microdata"
        schema = schema_from_descriptor(descriptor, file=table.form.file, source="form")
        return schema
    schema = infer_schema([c.name for c in data_cols], sample, [c.key for c in data_cols])
    return schema


def _first_batch(table: SourceTable, opts: Options) -> pa.RecordBatch | None:
    for batch in table.batches(min(opts.batch_rows, 50_000)):
        return batch
    return None


def bind(schema: TableSchema, table: SourceTable) -> dict[str, SourceColumn]:
    """Match each schema field to a column: by resolved name, by header, then ignoring case."""
    bound: dict[str, SourceColumn] = {}
    used: set[int] = set()
    usable = [c for c in table.columns if c.header and c.kind != "meta"]
    for f in schema.fields:
        col = next((c for c in usable if c.name == f.name and c.index not in used), None)
        col = col or next((c for c in usable if c.header == f.name and c.index not in used), None)
        col = col or next(
            (c for c in usable if c.name.casefold() == f.name.casefold() and c.index not in used), None
        )
        if col is None and f.name.startswith("_"):
            col = next((c for c in table.columns if c.header == f.name and c.index not in used), None)
        if col is not None:
            bound[f.name] = col
            used.add(col.index)
    return bound


def _attach_labels(schema: TableSchema, table: SourceTable) -> None:
    """Give select_one fields their XLSForm label -> name map (labels in exports become names)."""
    form = table.form
    if form is None:
        return
    for f in schema.fields:
        q = form.questions.get(f.name)
        if q is not None and q.base_type == "select_one":
            f.label_map = form.label_to_name(q)
