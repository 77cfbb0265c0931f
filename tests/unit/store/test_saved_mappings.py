"""An organisation's stored mappings as evidence for the next draft (#18), on SQLite and PostgreSQL."""

from __future__ import annotations

from cgd_bridge.mapping.evidence import Evidence
from cgd_bridge.store.submissions import saved_mappings


def test_the_organisation_gets_its_own_mappings_once_newest_first(session, cast, make_version, kenya):
    make_version(cast.cso)
    changed = kenya.mapping_text.replace("version: 1.0.0", "version: 1.1.0")
    assert changed != kenya.mapping_text
    make_version(cast.cso, mapping_text=changed, revision_note="the mapping's 1.1.0")
    make_version(cast.cso, revision_note="back to 1.0.0")  # the same text as v1: listed once, as v3
    saved = saved_mappings(session, cast.cso)
    assert [name for name, _ in saved] == ["ke-health-scorecard-2024 v3", "ke-health-scorecard-2024 v2"]
    assert saved[1][1] == changed
    # another organisation's mappings are never read, whoever asks
    assert saved_mappings(session, cast.other_cso) == []
    assert saved_mappings(session, cast.nso) == []
    # and they are evidence for the next draft, named where they came from
    evidence = Evidence()
    for name, text in saved:
        evidence.add_text(text, name)
    hit = evidence.label("SEX", "Female", ["F", "M", "_T"])
    assert hit is not None
    assert hit.where() == "as in ke-health-scorecard-2024 v3 (and 1 more)"
