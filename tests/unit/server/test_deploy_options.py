"""What ``serve`` hands uvicorn behind a proxy, the root path setting, and the image's files (#19).

The proxy behaviour itself is tested end to end with a real nginx (tests/e2e/test_behind_proxy.py)
and the image by building it (tests/e2e/test_image.py); these are the cheap guarantees around them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from cgd_bridge import places
from cgd_bridge.cli import cli
from cgd_bridge.server import run
from cgd_bridge.server.http import route_path
from cgd_bridge.settings import Settings
from tests.support.paths import ROOT


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run replaced by a recorder: the keyword arguments of each call."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def _serve(settings: Settings, tmp_path: Path, workers: int = 1) -> None:
    url = f"sqlite:///{tmp_path / 'bridge.sqlite'}"
    run.run_server(settings, database_url=url, workers=workers, say=lambda _: None)


@pytest.mark.parametrize("workers", [1, 3])
def test_forwarded_headers_are_not_believed_unless_asked(
    tmp_path: Path, uvicorn_calls: list[dict[str, Any]], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own default believes X-Forwarded-For from 127.0.0.1: anyone on the host could
    # then write any address into the audit log and dodge the per-address rate limit
    monkeypatch.setattr("os.environ", dict(__import__("os").environ))  # the workers' variables
    _serve(Settings(data_dir=tmp_path), tmp_path, workers)
    assert uvicorn_calls[-1]["proxy_headers"] is False
    assert uvicorn_calls[-1]["root_path"] == ""


@pytest.mark.parametrize("workers", [1, 3])
def test_proxy_settings_reach_uvicorn(
    tmp_path: Path, uvicorn_calls: list[dict[str, Any]], workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.environ", dict(__import__("os").environ))
    settings = Settings(
        data_dir=tmp_path, proxy_headers=True, forwarded_allow_ips="10.0.0.0/8", root_path="/cgd-bridge/"
    )
    _serve(settings, tmp_path, workers)
    call = uvicorn_calls[-1]
    assert (call["proxy_headers"], call["forwarded_allow_ips"], call["root_path"]) == (
        True,
        "10.0.0.0/8",
        "/cgd-bridge",
    )


def test_serve_options_override_the_environment(
    tmp_path: Path, uvicorn_calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CGD_BRIDGE_PROXY_HEADERS", "false")
    monkeypatch.setenv("CGD_BRIDGE_ROOT_PATH", "/env")
    from cgd_bridge.settings import get_settings

    get_settings.cache_clear()
    try:
        url = f"sqlite:///{tmp_path / 'b.sqlite'}"
        args = ["--data-dir", str(tmp_path), "serve", "--database-url", url, "--proxy-headers"]
        result = CliRunner().invoke(cli, [*args, "--forwarded-allow-ips", "192.0.2.1", "--root-path", "x"])
        assert result.exit_code == 0, result.output
        call = uvicorn_calls[-1]
        assert (call["proxy_headers"], call["forwarded_allow_ips"], call["root_path"]) == (
            True,
            "192.0.2.1",
            "/x",
        )
        assert "client address and scheme from 192.0.2.1 only" in result.output

        bad = CliRunner().invoke(cli, [*args, "--root-path", "/a b"])
        assert bad.exit_code == 2
        assert "Invalid value for --root-path" in bad.output
        assert "Traceback" not in bad.output
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("given", "kept"), [("", ""), ("/", ""), ("cgd", "/cgd"), ("/cgd/", "/cgd"), ("/a/b", "/a/b")]
)
def test_root_path_is_normalised(given: str, kept: str) -> None:
    assert Settings(root_path=given).root_path == kept


@pytest.mark.parametrize("bad", ["/a b", "/a?b", "/a//b", "/a#b"])
def test_a_root_path_that_is_not_a_path_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="plain path"):
        Settings(root_path=bad)


@pytest.mark.parametrize(
    ("path", "root", "route"),
    [
        ("/cgd/sdmx/rest/data", "/cgd", "/sdmx/rest/data"),
        ("/cgd", "/cgd", "/"),
        ("/cgdx/sdmx", "/cgd", "/cgdx/sdmx"),  # not under the prefix: as it is
        ("/sdmx/rest", "", "/sdmx/rest"),
    ],
)
def test_route_path_strips_the_root_path(path: str, root: str, route: str) -> None:
    assert route_path({"path": path, "root_path": root}) == route


# -- the image's files ---------------------------------------------------------------------------

SETTING = re.compile(r"\bCGD_BRIDGE_([A-Z_]+)\b")


def test_every_setting_the_image_files_and_deploy_guide_name_exists() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    # read from the environment before any settings library is imported (places.py, #16)
    fields |= {places.CACHE_ENV.removeprefix("CGD_BRIDGE_")}
    for name in ("Containerfile", "compose.yaml", "docs/deploy.md"):
        named = set(SETTING.findall((ROOT / name).read_text())) - {"IMAGE_TEST"}  # the test's switch
        assert named, name
        assert named <= fields, f"{name} names settings that do not exist: {sorted(named - fields)}"


def test_the_image_migrates_then_serves_as_a_user_with_a_data_volume() -> None:
    containerfile = (ROOT / "Containerfile").read_text()
    assert re.search(r"^ARG BASE=docker\.io/library/python:3\.11-slim$", containerfile, re.M)
    assert re.search(r"^USER cgd-bridge$", containerfile, re.M)
    assert re.search(r"^VOLUME /var/lib/cgd-bridge$", containerfile, re.M)
    assert "CGD_BRIDGE_DATA_DIR=/var/lib/cgd-bridge" in containerfile
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", containerfile, re.M)
    entrypoint = (ROOT / "deploy" / "entrypoint.sh").read_text()
    assert entrypoint.index("cgd-bridge db upgrade") < entrypoint.index('exec cgd-bridge "$@"')

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    bridge, db = compose["services"]["bridge"], compose["services"]["db"]
    assert bridge["build"]["dockerfile"] == "Containerfile"
    assert bridge["environment"]["CGD_BRIDGE_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert bridge["depends_on"]["db"]["condition"] == "service_healthy"
    assert any(v.endswith(":/var/lib/cgd-bridge") for v in bridge["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
