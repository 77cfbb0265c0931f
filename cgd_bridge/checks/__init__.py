"""The checks, one module per family; each finding code is registered in its module.

``ALL_CHECKS`` gives the order in which they run (every one sees every batch).
"""

from __future__ import annotations

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
    ]
