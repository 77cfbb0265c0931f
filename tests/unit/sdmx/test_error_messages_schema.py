"""SDMX error messages are valid against the official schemas of their format (#15): SDMX-ML 2.1
and 3.0 ``Error``, SDMX-JSON 2.0 error messages (data and structure) and the v1 JSON errors as
SDMX-JSON 1.0."""

from __future__ import annotations

import pytest

from cgd_bridge.sdmx.write.errors import error_json, error_json20, error_xml
from tests.support.schemas import OfficialSchemas


def _no_dsd(*_: object) -> bytes:
    raise AssertionError("an error message needs no DSD-specific schema")


SCHEMAS = OfficialSchemas(_no_dsd)


@pytest.mark.parametrize("kind", ["data", "structure"])
def test_sdmx_json_20_errors_are_valid(kind):
    body = error_json20(100, "No results", "Ask for another key.", kind=kind)
    assert SCHEMAS.errors(f"application/vnd.sdmx.{kind}+json;version=2.0.0", body) == []


def test_sdmx_json_10_errors_of_the_v1_api_are_valid():
    assert SCHEMAS.errors("application/json", error_json(404, "No results", "detail", 100)) == []


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_sdmx_ml_errors_are_valid(version):
    assert SCHEMAS.errors("application/xml", error_xml(140, "bad key", "fix it", version=version)) == []


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_sdmx_ml_errors_quoting_control_characters_stay_valid_xml(version):
    """A query's text quoted in the message may hold characters XML 1.0 forbids (found by the
    schemathesis run: a key with a backspace, an escape); the message must still parse."""
    body = error_xml(140, "the key 'A\x08B\x1b' is not valid", "fix \x00 it", version=version)
    assert SCHEMAS.errors("application/xml", body) == []
    assert "A\ufffdB\ufffd" in body.decode()


@pytest.mark.parametrize("version", ["2.1", "3.0"])
def test_sdmx_ml_errors_in_two_languages_stay_valid(version):
    """#17: the English texts, then the same in the asked language, each with its xml:lang."""
    body = error_xml(140, "bad key", "fix it", version=version, local=("sw", ["ufunguo mbaya", "urekebishe"]))
    assert SCHEMAS.errors("application/xml", body) == []
    text = body.decode()
    assert text.index('xml:lang="en">bad key') < text.index('xml:lang="sw">ufunguo mbaya')
    assert (
        'xml:lang="sw"' not in error_xml(140, "bad key", version=version, local=("en", ["bad key"])).decode()
    )
