"""Content negotiation: Accept with versions, q values, semver ranges; format=; defaults per API."""

from __future__ import annotations

import pytest

from cgd_bridge.server.sdmx.negotiate import error_format, negotiate
from cgd_bridge.server.sdmx.query import QueryError


@pytest.mark.parametrize(
    ("accept", "api", "name"),
    [
        ("*/*", 1, "sdmx-ml-2.1-generic"),
        (None, 1, "sdmx-ml-2.1-generic"),
        ("*/*", 2, "sdmx-ml-3.0-ss"),
        ("application/vnd.sdmx.structurespecificdata+xml;version=2.1", 1, "sdmx-ml-2.1-ss"),
        ("application/vnd.sdmx.data+csv;version=1.0.0", 1, "sdmx-csv-1.0"),
        ("application/vnd.sdmx.data+csv; version=2.0.0", 2, "sdmx-csv-2.0"),
        ("application/vnd.sdmx.data+csv;version=2.0.0+", 2, "sdmx-csv-2.0"),
        ("application/vnd.sdmx.data+xml;version=3.0.0", 2, "sdmx-ml-3.0-ss"),
        ("application/vnd.sdmx.data+json;version=2.0.0", 2, "sdmx-json-2.0"),
        ("text/csv", 1, "sdmx-csv-1.0"),
        ("text/csv", 2, "sdmx-csv-2.0"),
        ("application/vnd.sdmx.data+json;version=1.0.0, text/csv;q=0.5", 1, "sdmx-json-1.0"),
        ("application/vnd.sdmx.data+json;version=1.0.0", 2, "sdmx-json-1.0"),
        ("application/vnd.sdmx.data+json", 1, "sdmx-json-2.0"),
        ("application/vnd.sdmx.data+json;version=1.0.0+", 1, "sdmx-json-2.0"),
        ("application/vnd.sdmx.generictimeseriesdata+xml;version=2.1", 1, "sdmx-ml-2.1-generic-ts"),
        ("application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1", 2, "sdmx-ml-2.1-ss-ts"),
        ("application/vnd.sdmx.data+json;version=3.0.0, text/csv;q=0.5", 1, "sdmx-csv-1.0"),
        ("text/csv;q=0.2, application/vnd.sdmx.genericdata+xml;version=2.1", 1, "sdmx-ml-2.1-generic"),
    ],
)
def test_data_negotiation(accept: str | None, api: int, name: str) -> None:
    assert negotiate("data", accept, api=api).name == name


def test_labels_travel_in_the_media_type() -> None:
    c = negotiate("data", "application/vnd.sdmx.data+csv;version=1.0.0;labels=both", api=1)
    assert (c.name, c.labels) == ("sdmx-csv-1.0", "both")
    assert c.media_type.endswith("labels=both")
    c = negotiate("data", None, api=2, format_param="csvfilewithlabels")
    assert (c.name, c.labels) == ("sdmx-csv-2.0", "both")


def test_format_parameter_wins() -> None:
    assert (
        negotiate("data", "application/json", api=1, format_param="genericdata").name == "sdmx-ml-2.1-generic"
    )
    assert negotiate("data", None, api=1, format_param="sdmx-csv-2.0").name == "sdmx-csv-2.0"
    assert negotiate("structure", None, api=2, format_param="sdmx-json").name == "sdmx-json-2.0"


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("application/vnd.sdmx.data+json;version=3.0.0", None),
        ("image/png", None),
        ("application/vnd.sdmx.data+csv;version=3.0.0", None),
        ("*/*;q=0", None),
        (None, "xlsx"),
    ],
)
def test_unavailable_is_406_listing_the_offers(accept: str | None, fmt: str | None) -> None:
    with pytest.raises(QueryError) as err:
        negotiate("data", accept, api=1, format_param=fmt)
    assert err.value.status == 406
    assert "sdmx" in (err.value.fix or "")


def test_structure_defaults() -> None:
    assert negotiate("structure", "*/*", api=1).name == "sdmx-ml-2.1"
    assert negotiate("structure", "*/*", api=2).name == "sdmx-ml-2.1"
    assert (
        negotiate("structure", "application/vnd.sdmx.structure+json;version=2.0.0", api=2).name
        == "sdmx-json-2.0"
    )
    assert (
        negotiate("structure", "application/vnd.sdmx.structure+xml;version=3.0.0", api=2).name
        == "sdmx-ml-3.0"
    )


def test_error_format() -> None:
    assert error_format("application/vnd.sdmx.data+json;version=2.0.0") == "json"
    assert error_format("*/*") == "xml"
    assert error_format(None, "jsondata") == "json"


def test_csv_options_travel_in_the_media_type() -> None:
    c = negotiate("data", "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=obs", api=2)
    assert (c.name, c.time_format, c.keys) == ("sdmx-csv-2.0", "normalized", "obs")
    assert c.media_type == "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=normalized;keys=obs"
    # the query parameters win over the Accept header's, and format= takes them too
    c = negotiate("data", "application/vnd.sdmx.data+csv;version=2.0.0;keys=obs", api=2, keys="none")
    assert (c.keys, c.media_type) == ("none", "application/vnd.sdmx.data+csv;version=2.0.0")
    c = negotiate("data", None, api=1, format_param="csv", time_format="normalized")
    assert (c.name, c.time_format) == ("sdmx-csv-1.0", "normalized")
    # defaults are not named; another format carries the values for the writer to refuse
    assert negotiate("data", "text/csv;keys=none", api=1).media_type.endswith("version=1.0.0")
    assert negotiate("data", None, api=2, format_param="sdmx-json-2.0", keys="both").keys == "both"


def test_unknown_csv_option_in_the_accept_header_is_a_400() -> None:
    with pytest.raises(QueryError) as err:
        negotiate("data", "application/vnd.sdmx.data+csv;version=2.0.0;timeFormat=local", api=2)
    assert err.value.status == 400
    assert "timeformat=local" in err.value.message.lower()
