"""Property-based tests of the HTTP interfaces with schemathesis, against a real server.

- The official SDMX REST OpenAPI files (../shared/specimens/rest/, v1.5.0 for /sdmx/rest and
  v2.1.0 for /sdmx/v2) generate requests with arbitrary path segments and parameters: the server
  must never fail (5xx other than the 501 "not implemented" the spec allows), must answer with a
  status code the spec documents for the operation, and with a content type the spec lists.
- Our own OpenAPI (/openapi.json) drives the JSON API the same way, with a reviewer's key: no
  server errors, and responses that match our declared schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.support.server import LiveServer
from tests.support.specimens import SPECIMENS, need

REST = SPECIMENS / "rest"
EXAMPLES = 12


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


@pytest.fixture(scope="module")
def sqlite_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.support.server import live_server

    data_dir = tmp_path_factory.mktemp("openapi")
    with live_server(
        f"sqlite:///{data_dir / 'bridge.sqlite'}", data_dir, env={"CGD_BRIDGE_RATE_LIMIT_PER_MINUTE": "0"}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def sdmx_v2_schema(sqlite_live: LiveServer) -> Any:
    schema = schemathesis.openapi.from_path(_spec("sdmx-rest_openapi_v2.1.0.yaml"))
    schema.config.update(base_url=f"{sqlite_live.url}/sdmx/v2")
    # the spec's registration paths declare path parameters they never define (a spec defect)
    return schema.exclude(path_regex="^/registration")


@pytest.fixture(scope="module")
def sdmx_v1_schema(sqlite_live: LiveServer) -> Any:
    schema = schemathesis.openapi.from_path(_spec("sdmx-rest_openapi_v1.5.0.yaml"))
    schema.config.update(base_url=f"{sqlite_live.url}/sdmx/rest")
    return schema


@pytest.fixture(scope="module")
def api_schema(sqlite_live: LiveServer) -> Any:
    schema = schemathesis.openapi.from_url(f"{sqlite_live.url}/openapi.json")
    schema.config.update(base_url=sqlite_live.url)
    return schema.include(path_regex="^/api/")


CHECKS = [no_server_failure, status_code_conformance, content_type_conformance]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _fuzz(schema: Any, checks: list[Any], minimum: int, headers: dict[str, str] | None = None) -> None:
    """Every operation of ``schema`` with generated cases; all failures reported together."""
    failures = []
    operations = 0
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):  # an operation the spec itself defines wrongly (v1.5.0's 510 response)
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @FUZZ
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=checks, timeout=60)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert operations >= minimum, f"only {operations} operations could be loaded from the spec"
    assert not failures, "\n\n".join(failures)


def test_sdmx_rest_v2_conformance(sdmx_v2_schema: Any) -> None:
    _fuzz(sdmx_v2_schema, CHECKS, minimum=8)


def test_sdmx_rest_v1_conformance(sdmx_v1_schema: Any) -> None:
    _fuzz(sdmx_v1_schema, CHECKS, minimum=30)


def test_json_api(api_schema: Any, sqlite_live: LiveServer) -> None:
    _fuzz(api_schema, [no_server_failure], minimum=10, headers=sqlite_live.headers("kamau"))
