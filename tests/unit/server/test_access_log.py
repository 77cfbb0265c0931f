"""The access log never holds an API key sent as ``?apikey=`` (#14): only its public prefix."""

from __future__ import annotations

import logging

import pytest

from cgd_bridge.server.run import MaskKeys, mask_keys_in_access_log

KEY = "cgdb_3f9a1c2e4b5d_q8W2xYz7Lm4Np6Rt9Vb3Kc1Hd5Fg0Js"


def uvicorn_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it (its format and arguments)."""
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("198.51.100.4:50312", "GET", path, "1.1", 200), None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [
        f"/sdmx/rest/data/DF_CGD_KE?apikey={KEY}&format=csv",
        f"/sdmx/rest/data/DF_CGD_KE?format=csv&API_KEY={KEY}",
        f"/sdmx/v2/data/dataflow/*/*/*?apikey={KEY}",
    ],
)
def test_the_key_in_the_query_is_masked(path: str) -> None:
    record = uvicorn_record(path)
    assert MaskKeys().filter(record)
    line = record.getMessage()
    assert "q8W2xYz7Lm4Np6Rt9Vb3Kc1Hd5Fg0Js" not in line
    assert "cgdb_3f9a1c2e4b5d_" in line  # the public prefix, to tell keys apart
    assert "format=csv" in line or "format" not in path


def test_a_malformed_key_is_masked_whole_and_other_lines_are_untouched() -> None:
    record = uvicorn_record("/api/me?apikey=hunter2-the-password")
    MaskKeys().filter(record)
    assert "hunter2" not in record.getMessage()
    plain = uvicorn_record("/sdmx/rest/dataflow?detail=allstubs")
    MaskKeys().filter(plain)
    assert plain.getMessage().endswith('"GET /sdmx/rest/dataflow?detail=allstubs HTTP/1.1" 200')


def test_the_mask_is_installed_once() -> None:
    mask_keys_in_access_log()
    mask_keys_in_access_log()
    filters = [f for f in logging.getLogger("uvicorn.access").filters if isinstance(f, MaskKeys)]
    assert len(filters) == 1
