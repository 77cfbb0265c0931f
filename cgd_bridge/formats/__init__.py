"""SDMX I/O only: the formats cgd-bridge writes, as data (media types), and their writers.

Writers take a :class:`~cgd_bridge.mapping.apply.Harmonised`-like input (an Arrow table whose
columns are SDMX component ids) plus a :class:`Target` naming the dataflow, and stream bytes to
a binary file object. They work on columns: the text of each observation is assembled with Arrow
string kernels a batch at a time, never with one Python object per observation.
"""

from __future__ import annotations

from cgd_bridge.formats.registry import FORMATS, Format, Target, get_format, write

__all__ = ["FORMATS", "Format", "Target", "get_format", "write"]
