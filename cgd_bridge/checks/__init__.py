"""The checks, one module per family; each finding code is registered in its module.

:func:`all_checks` gives the order in which they run; :func:`run_checks` runs them, every one
seeing every batch. Disclosure control (small cells, secondary suppression) is
:mod:`cgd_bridge.checks.disclosure`.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from cgd_bridge.checks.base import Check, Context, Options, TypedBatch, type_batch
from cgd_bridge.checks.cells import CellCheck
from cgd_bridge.checks.coherence import CoherenceCheck
from cgd_bridge.checks.disability import WashingtonGroupCheck
from cgd_bridge.checks.metadata import MetadataCheck, dsat_score
from cgd_bridge.checks.privacy import PrivacyCheck
from cgd_bridge.checks.table import (
    BlankRowCheck,
    ChoiceColumnCheck,
    EmptyTableCheck,
    EncodingSignsCheck,
    HeaderCheck,
    KeyCheck,
    SkippedRowCheck,
    ValueCheck,
)
from cgd_bridge.mapping import conform as _conform  # noqa: F401 - registers the SDMX finding codes

__all__ = [
    "Check",
    "Context",
    "Options",
    "TypedBatch",
    "all_checks",
    "dsat_score",
    "run_checks",
    "type_batch",
]


def all_checks() -> list[Check]:
    """Fresh instances of every check, in run order."""
    return [
        HeaderCheck(),
        MetadataCheck(),
        PrivacyCheck(),
        ValueCheck(),
        BlankRowCheck(),
        ChoiceColumnCheck(),
        KeyCheck(),
        CoherenceCheck(),
        CellCheck(),
        WashingtonGroupCheck(),
        SkippedRowCheck(),
        EmptyTableCheck(),
        EncodingSignsCheck(),
    ]


def run_checks(ctx: Context, progress: Callable[[int, int | None], None] | None = None) -> None:
    """Run every check over the table of ``ctx``, reading it once, batch by batch.

    Each check starts, sees every batch (typed once for all of them) and finishes; then the
    findings' and the suppression's row numbers become the file's (rows the reader skipped).
    ``progress(rows_done, rows_estimate)`` is called after each batch.
    """
    table = ctx.table
    checks = all_checks()
    for check in checks:
        check.start(ctx)
    estimate: int | None = None
    for batch in table.batches(ctx.options.batch_rows, ctx.schema.missing_values):
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
    mapper = table.row_mapper()
    ctx.report.remap_rows(mapper)
    if ctx.suppression is not None and table.skipped:
        ctx.suppression = ctx.suppression.remap(mapper)
