"""A real OpenID Connect provider for the sign-in tests: the npm package ``oidc-provider``.

:func:`provider_dir` installs the pinned version with npm into a cache folder the tests own
(``~/.cache/cgd-bridge-test/oidc-provider``, or ``CGD_BRIDGE_TEST_OIDC_DIR``) once, and copies
``oidc_provider.mjs`` there (node resolves ``oidc-provider`` from the folder of the file it runs);
:func:`oidc_provider` starts node with one configuration (issuer, clients, accounts) on a free
port and stops it when the block ends. Without node or npm the tests are skipped, saying so.

:func:`log_in` drives the provider's own login and consent pages (devInteractions) over HTTP,
as a browser would, and returns the redirect back to the relying party (the bridge).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.process import free_port, running

VERSION = "9.13.3"  # oidc-provider, pinned
HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "oidc_provider.mjs"


def provider_dir() -> Path:
    """The folder with ``node_modules/oidc-provider`` at :data:`VERSION` and the provider script."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the OpenID Connect tests need them to run oidc-provider")
    default = Path.home() / ".cache" / "cgd-bridge-test" / "oidc-provider"
    folder = Path(os.environ.get("CGD_BRIDGE_TEST_OIDC_DIR", default))
    folder.mkdir(parents=True, exist_ok=True)
    installed = folder / "node_modules" / "oidc-provider" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != VERSION:
        (folder / "package.json").write_text(
            json.dumps({"name": "cgd-bridge-test-oidc", "private": True, "type": "module"})
        )
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-save", f"oidc-provider@{VERSION}"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(
                f"npm install oidc-provider@{VERSION} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )
    shutil.copyfile(SCRIPT, folder / SCRIPT.name)
    return folder


@dataclass
class Provider:
    """A running provider: its issuer URL and the client it knows."""

    issuer: str
    client_id: str
    client_secret: str
    log: Path


@contextlib.contextmanager
def oidc_provider(
    tmp: Path,
    *,
    redirect_uris: list[str],
    accounts: dict[str, dict[str, Any]],
    client_id: str = "cgd-bridge",
    client_secret: str = "a-client-secret-for-the-tests-only",
    extra_clients: list[dict[str, Any]] | None = None,
    port: int | None = None,
    conform: bool = False,
) -> Iterator[Provider]:
    """Start oidc-provider with one client and ``accounts`` (on ``port``, else a free one); stop
    it when the block ends."""
    folder = provider_dir()
    port = port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    clients = [{"client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris}]
    config = tmp / f"oidc-{port}.json"
    config.write_text(
        json.dumps(
            {
                "issuer": issuer,
                "port": port,
                "clients": clients + (extra_clients or []),
                "accounts": accounts,
                "conform": conform,
            }
        )
    )
    log = tmp / f"oidc-{port}.log"
    command = [shutil.which("node") or "node", SCRIPT.name, str(config)]
    ready = f"{issuer}/.well-known/openid-configuration"
    with running(command, ready=ready, log=log, name="oidc-provider", cwd=folder):
        yield Provider(issuer, client_id, client_secret, log)


def log_in(authorization_url: str, account: str, *, stop_at: str) -> str:
    """Log in at the provider as ``account`` and consent, as a browser would; return the URL the
    provider sends the browser back to (the first redirect whose URL starts with ``stop_at``)."""
    with httpx.Client(timeout=10) as browser:
        url = authorization_url
        for _ in range(12):
            if url.startswith(stop_at):
                return url
            r = browser.get(url)
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                continue
            action = _form_action(r.text)
            if 'name="prompt" value="login"' in r.text:
                r = browser.post(
                    urljoin(url, action), data={"prompt": "login", "login": account, "password": "x"}
                )
            elif 'name="prompt" value="consent"' in r.text:
                r = browser.post(urljoin(url, action), data={"prompt": "consent"})
            else:
                raise AssertionError(f"unexpected provider page at {url}: {r.status_code} {r.text[:500]}")
            assert r.is_redirect, r.text[:500]
            url = urljoin(url, r.headers["location"])
        raise AssertionError("the provider's login did not come back to the bridge")


def _form_action(page: str) -> str:
    start = page.index('action="') + len('action="')
    return page[start : page.index('"', start)].replace("&amp;", "&")
