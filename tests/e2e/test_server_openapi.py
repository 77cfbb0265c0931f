"""Property-based tests of the HTTP interfaces with schemathesis, against a real server.

- The official SDMX REST OpenAPI files (../shared/specimens/rest/, v1.5.0 for /sdmx/rest and
  v2.1.0 for /sdmx/v2) generate requests with arbitrary path segments and parameters: the server
  must never fail (5xx other than the 501 "not implemented" the spec allows), must answer with a
  status code the spec documents for the operation, and with a content type the spec lists.
- Our own OpenAPI (/openapi.json) drives the JSON API the same way, with a reviewer's key: no
  server errors, and responses that match our declared schemas.

Each runs against a server on SQLite and one on PostgreSQL (#14: what is a 200 on one database
must not be a 500 on the other, e.g. an id past the 32-bit integers), at a small budget
(:data:`EXAMPLES` cases per operation on SQLite, :data:`EXAMPLES_PG` on PostgreSQL, which runs
second and shares most of the code path); ``CGD_BRIDGE_FUZZ_EXAMPLES=N`` runs N on both, the
longer run: ``CGD_BRIDGE_FUZZ_EXAMPLES=200 pytest tests/e2e/test_server_openapi.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.support.postgres import fresh_schema
from tests.support.server import LiveServer
from tests.support.specimens import SPECIMENS, need

REST = SPECIMENS / "rest"
_LONGER = os.environ.get("CGD_BRIDGE_FUZZ_EXAMPLES")
EXAMPLES = int(_LONGER) if _LONGER else 12
EXAMPLES_PG = int(_LONGER) if _LONGER else 4


@schemathesis.check
def no_server_failure(ctx: Any, response: Any, case: Any) -> bool | None:
    """5xx is a failure, except 501 (an SDMX REST feature this server does not offer)."""
    if response.status_code >= 500 and response.status_code != 501:
        raise AssertionError(f"{response.status_code} on {case.path}: {response.text[:300]}")
    return None


def _spec(name: str) -> Path:
    path = REST / name
    need(path)
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The demo served on SQLite, then on PostgreSQL."""
    from tests.support.server import live_server

    data_dir = tmp_path_factory.mktemp(f"openapi-{request.param}")
    env = {"CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": "0"}
    if request.param == "sqlite":
        with live_server(f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir, env=env) as server:
            yield server
        return
    with fresh_schema("cgdb_openapi") as url, live_server(url, data_dir, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def sdmx_v2_schema(served: LiveServer) -> Any:
    schema = schemathesis.openapi.from_path(_spec("sdmx-rest_openapi_v2.1.0.yaml"))
    schema.config.update(base_url=f"{served.url}/sdmx/v2")
    # the spec's registration paths declare path parameters they never define (a spec defect)
    return schema.exclude(path_regex="^/registration")


@pytest.fixture(scope="module")
def sdmx_v1_schema(served: LiveServer) -> Any:
    schema = schemathesis.openapi.from_path(_spec("sdmx-rest_openapi_v1.5.0.yaml"))
    schema.config.update(base_url=f"{served.url}/sdmx/rest")
    return schema


@pytest.fixture(scope="module")
def api_schema(served: LiveServer) -> Any:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    schema.config.update(base_url=served.url)
    return schema.include(path_regex="^/api/")


CHECKS = [no_server_failure, status_code_conformance, content_type_conformance]


def _fuzz(
    schema: Any, server: LiveServer, checks: list[Any], minimum: int, headers: dict[str, str] | None = None
) -> None:
    """Every operation of ``schema`` with generated cases; all failures reported together."""
    budget = EXAMPLES if server.database_url.startswith("sqlite") else EXAMPLES_PG
    fuzz = settings(
        max_examples=budget, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):  # an operation the spec itself defines wrongly (v1.5.0's 510 response)
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @fuzz
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks, timeout=60)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert operations >= minimum, f"only {operations} operations could be loaded from the spec"
    assert not failures, "\n\n".join(failures)


def test_sdmx_rest_v2_conformance(sdmx_v2_schema: Any, served: LiveServer) -> None:
    _fuzz(sdmx_v2_schema, served, CHECKS, minimum=8)


def test_sdmx_rest_v1_conformance(sdmx_v1_schema: Any, served: LiveServer) -> None:
    _fuzz(sdmx_v1_schema, served, CHECKS, minimum=30)


def test_json_api(api_schema: Any, served: LiveServer) -> None:
    _fuzz(api_schema, served, [no_server_failure], minimum=10, headers=served.headers("kamau"))
