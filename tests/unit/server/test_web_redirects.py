"""The sign-in page's ``next`` never sends a browser to another site (open redirects)."""

from __future__ import annotations

import pytest

from cgd_bridge.server.web.routes import _local


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/\x00/x",
        "evil.example",
        "",
        None,
    ],
)
def test_only_paths_of_this_server(url) -> None:
    assert _local(url) is None


@pytest.mark.parametrize("url", ["/", "/inbox", "/versions/3?tab=report#history", "/dataflows/A/B/1.0"])
def test_local_paths_pass(url) -> None:
    assert _local(url) == url
