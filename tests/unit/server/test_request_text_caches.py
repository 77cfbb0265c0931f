"""The per-request-text caches (parsed keys, flow refs, negotiated formats) stay small (#16).

A caller chooses the request text, so a cache keyed on it is a caller-sized store: distinct
long keys (``A+B+C+...`` of thousands of codes, each request a new text) must not pile up
hundreds of MiB of parsed code sets in the server. Each cache still answers the same as a
fresh parse, and hands every caller its own copy.
"""

from __future__ import annotations

import tracemalloc

from cgd_bridge.server.sdmx import service
from cgd_bridge.server.sdmx.negotiate import negotiate
from cgd_bridge.server.sdmx.query import parse_flow_ref, parse_v1_key

DIMS = 15  # the SDG DSD's dimensions


def _long_key(i: int) -> str:
    """A valid v1 key of about 6,000 characters: 600 district codes in one dimension."""
    return "+".join(f"NP_{i:05d}_{j:03d}" for j in range(600)) + "." * (DIMS - 1)


def test_many_distinct_long_keys_do_not_pile_up() -> None:
    service._parsed_keys.cache_clear()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1_500):
            keys = service.parse_keys(_long_key(i), DIMS, api=1)
            assert len(keys[0][0]) == 600  # still parsed, each time
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        service._parsed_keys.cache_clear()
    # 1,500 such keys kept would be about 170 MiB; not keeping them is a few KiB
    assert kept < 8 * 2**20, f"{kept / 2**20:.0f} MiB kept by the parsed-key cache"


def test_a_long_key_parses_the_same_as_without_the_cache() -> None:
    text = _long_key(7)
    assert service.parse_keys(text, DIMS, api=1) == [parse_v1_key(text, DIMS)]
    assert service.parse_keys(text, DIMS, api=1) == [parse_v1_key(text, DIMS)]


def test_a_short_key_is_kept_and_each_caller_gets_its_own_list() -> None:
    service._parsed_keys.cache_clear()
    text = "SH_STA_SCORE.KE_001.F._T" + "." * (DIMS - 4)
    first = service.parse_keys(text, DIMS, api=1)
    first[0][0] = None  # a careless caller changes its copy
    second = service.parse_keys(text, DIMS, api=1)
    assert second[0][0] == frozenset({"SH_STA_SCORE"})
    assert service._parsed_keys.cache_info().hits >= 1


def test_long_accept_headers_and_flow_refs_are_not_kept() -> None:
    negotiate.cache_clear()
    parse_flow_ref.cache_clear()
    for i in range(50):
        accept = ", ".join(f"application/x-{i}-{j};q=0.{j % 9 + 1}" for j in range(300)) + ", */*;q=0.1"
        assert negotiate("data", accept, api=1).name
    assert negotiate.cache_info().currsize == 0
    assert negotiate("data", "text/csv", api=1) == negotiate("data", "text/csv", api=1)
    assert negotiate.cache_info().currsize == 1
