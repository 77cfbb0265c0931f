"""SDMX REST query parsing: flow refs, keys, c[...] filters, raw query strings, periods."""

from __future__ import annotations

import datetime as dt

import pytest

from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.server.sdmx.query import (
    FilterCondition,
    QueryError,
    parse_flow_ref,
    parse_params,
    parse_path_ref,
    parse_v1_key,
    parse_v2_keys,
    period_range,
    split_query,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DF_CGD_KE", FlowRef(None, "DF_CGD_KE", None)),
        ("CGD_BRIDGE,DF_CGD_KE", FlowRef("CGD_BRIDGE", "DF_CGD_KE", None)),
        ("CGD_BRIDGE,DF_CGD_KE,1.0", FlowRef("CGD_BRIDGE", "DF_CGD_KE", "1.0")),
        ("IAEG-SDGs,DF_SDG_GLH,latest", FlowRef("IAEG-SDGs", "DF_SDG_GLH", None)),
        ("all,DF_SDG_GLH,latest", FlowRef(None, "DF_SDG_GLH", None)),
        ("%2A,DF_SDG_GLH,%2A", FlowRef(None, "DF_SDG_GLH", None)),
    ],
)
def test_flow_ref_forms(text: str, expected: FlowRef) -> None:
    assert parse_flow_ref(text) == expected


@pytest.mark.parametrize("text", ["", "A,B,C,D", "A,,1.0", "DF CGD", "A,B,1.x"])
def test_bad_flow_refs_are_400(text: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_flow_ref(text)
    assert err.value.status == 400
    assert err.value.fix


def test_semver_wildcards_are_501() -> None:
    with pytest.raises(QueryError) as err:
        parse_path_ref("A", "B", "1.2+.0")
    assert err.value.status == 501


def test_v1_key_or_and_wildcards() -> None:
    assert parse_v1_key("KE+UG..F", 3) == [frozenset({"KE", "UG"}), None, frozenset({"F"})]
    assert parse_v1_key("all", 3) == [None, None, None]
    assert parse_v1_key("", 2) == [None, None]
    with pytest.raises(QueryError, match="has 2 part"):
        parse_v1_key("A.B", 3)
    with pytest.raises(QueryError, match="not a code"):
        parse_v1_key("A.<b>.C", 3)


def test_v2_keys_alternatives_and_trailing_wildcards() -> None:
    assert parse_v2_keys("A.*.F,M", 3) == [
        [frozenset({"A"}), None, frozenset({"F"})],
        [frozenset({"M"}), None, None],
    ]
    assert parse_v2_keys("*", 2) == [[None, None]]
    with pytest.raises(QueryError):
        parse_v2_keys("A.B.C.D", 3)


def test_raw_query_keeps_plus_signs() -> None:
    raw = "c[TIME_PERIOD]=ge:2020+le:2023&updatedAfter=2024-01-01T00:00:00+00:00&c%5BSEX%5D=F,M"
    assert split_query(raw)[0] == ("c[TIME_PERIOD]", "ge:2020+le:2023")
    p = parse_params(raw)
    assert p.updated_after == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    time, sex = p.filters
    assert time.alternatives == [[FilterCondition("ge", "2020"), FilterCondition("le", "2023")]]
    assert sex.component == "SEX"
    assert sex.alternatives == [[FilterCondition("eq", "F")], [FilterCondition("eq", "M")]]


def test_sdmx1_quirks_are_tolerated() -> None:
    p = parse_params("updateAfter=2024-05-01T00:00:00Z&includeHistory=True&detail=dataonly")
    assert p.updated_after == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    assert p.include_history is True
    assert p.detail == "dataonly"
    # a '+' turned into a space by a proxy still parses
    assert parse_params("updatedAfter=2024-01-01T00:00:00%2000:00").updated_after is not None


@pytest.mark.parametrize(
    "raw",
    [
        "firstNObservations=0",
        "lastNObservations=x",
        "detail=everything",
        "startPeriod=20-20",
        "updatedAfter=yesterday",
        "nonsense=1",
        "c[SEX]=F&c[SEX]=M",
        "includeHistory=maybe",
        "labels=all",
    ],
)
def test_bad_parameters_are_400_with_a_fix(raw: str) -> None:
    with pytest.raises(QueryError) as err:
        parse_params(raw)
    assert err.value.status == 400
    assert err.value.sdmx_code == 140


def test_structure_detail_values() -> None:
    assert parse_params("detail=referencepartial&references=all", structure=True).detail == "referencepartial"
    with pytest.raises(QueryError):
        parse_params("detail=referencepartial")


@pytest.mark.parametrize(
    ("period", "first", "last"),
    [
        ("2020", dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
        ("2020-02", dt.date(2020, 2, 1), dt.date(2020, 2, 29)),
        ("2020-Q4", dt.date(2020, 10, 1), dt.date(2020, 12, 31)),
        ("2020-S1", dt.date(2020, 1, 1), dt.date(2020, 6, 30)),
        ("2021-W01", dt.date(2021, 1, 4), dt.date(2021, 1, 10)),
        ("2020-12-31", dt.date(2020, 12, 31), dt.date(2020, 12, 31)),
        ("2020-M12", dt.date(2020, 12, 1), dt.date(2020, 12, 31)),
    ],
)
def test_period_ranges(period: str, first: dt.date, last: dt.date) -> None:
    assert period_range(period) == (first, last)


def test_not_a_period() -> None:
    assert period_range("soon") is None
    assert period_range("2020-Q9") is None
