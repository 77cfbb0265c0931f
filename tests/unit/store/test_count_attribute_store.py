"""The store receives no count of a suppressed cell in an attribute (#12 part 5), on SQLite and
PostgreSQL: what a version keeps is what the pipeline harmonised, and the published view
(:mod:`cgd_bridge.store.published`) only guards it a second time."""

from __future__ import annotations

import pyarrow.compute as pc

from cgd_bridge.pipeline import harmonise
from cgd_bridge.store import submissions
from cgd_bridge.store.data import load_tables
from tests.unit.test_count_attribute import malawi


def test_a_stored_version_has_no_count_on_suppressed_rows(session, cast, tmp_path):
    data, quality, mapping = malawi(tmp_path)
    content = harmonise(data, metadata=quality, mapping=mapping)
    assert content.harmonised is not None
    v = submissions.create_version(session, content, principal=cast.cso, files=[])
    [(_, stored)] = load_tables(session, [v.id], cache=None)
    hidden = stored.filter(pc.fill_null(stored["SUPPRESSED"], False))
    assert hidden.num_rows >= 4  # the four inner cells, and the margins the audit adds
    assert hidden["COMMENT_OBS"].null_count == hidden.num_rows
    assert hidden["OBS_VALUE"].null_count == hidden.num_rows
    shown = stored.filter(pc.invert(pc.fill_null(stored["SUPPRESSED"], False)))
    assert shown.num_rows > 0
    assert shown["COMMENT_OBS"].null_count == 0
    assert "COMMENT_OBS" in (v.attributes or [])
