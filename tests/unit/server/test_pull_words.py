""" "Who pulled my data" in words (#17): each query read back as a sentence, and the summary by
organisation and month that counts page views apart from downloads and the public apart."""

from __future__ import annotations

import datetime as dt

import pytest

from cgd_bridge.server.web.pulls import read_of, sentence, summarise
from cgd_bridge.store.audit import Pull

DIMS = ["SEX", "AGE", "REF_AREA"]
NAMES = {"REF_AREA": {"KE_042": "Kisumu", "KE_001": "Mombasa"}, "SEX": {"F": "Female"}}
FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"


def _(text: str, **kw: object) -> str:
    return text.format(**kw) if kw else text


def pull(
    query: str,
    *,
    org: str | None = "knbs",
    name: str | None = "KNBS",
    kind: str | None = "nso",
    at: str = "2026-11-03T10:00",
    observations: int = 5,
    action: str = "data.pulled",
    version: int = 1,
    file: str | None = None,
) -> Pull:
    return Pull(
        at=dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC),
        username="kamau" if org else None,
        organisation=org,
        action=action,
        dataflow=FLOW,
        dataset="ke-scorecard-2024",
        version=version,
        query=query,
        observations=observations,
        client="127.0.0.1",
        file=file,
        organisation_name=name if org else None,
        organisation_kind=kind if org else None,
    )


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (
            "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download?REF_AREA=KE_042&startPeriod=2024&endPeriod=2024"
            "&format=sdmx-csv-1.0",
            "KNBS downloaded Kisumu, 2024, as SDMX-CSV 1.0",
        ),
        (
            "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download?REF_AREA=KE_042&SEX=F&format=xlsx",
            "KNBS downloaded Kisumu, Female, as a spreadsheet (XLSX)",
        ),
        (
            "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/bundle",
            "KNBS downloaded all of ke-scorecard-2024, as one ZIP file (every format, the spreadsheet, "
            "the quality metadata)",
        ),
        (
            "/api/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download?format=sdmx-csv-labels&key=..KE_042%2BKE_001"
            "&startPeriod=2020",
            "KNBS downloaded Kisumu, Mombasa, from 2020, as SDMX-CSV with names beside codes",
        ),
        (
            "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/F..KE_042?endPeriod=2023&format=sdmx-json-2.0",
            "KNBS pulled Female, Kisumu, until 2023 over SDMX REST, as SDMX-JSON 2.0 data",
        ),
        (
            "/sdmx/v2/data/dataflow/CGD_BRIDGE/DF_CGD_KE/1.0/*?c[REF_AREA]=KE_042&c[TIME_PERIOD]=ge:2020%2Ble:2024",
            "KNBS pulled Kisumu, 2020 to 2024 over SDMX REST",
        ),
        (
            "/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all",
            "KNBS pulled all of ke-scorecard-2024 over SDMX REST",
        ),
        (
            "web /dataflows/CGD_BRIDGE/DF_CGD_KE/1.0?REF_AREA=KE_042",
            "KNBS viewed Kisumu on the dataflow page",
        ),
        (  # a chart's numbers from under the chart: a download, not a page view
            "web /dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/chart/1.csv?REF_AREA=KE_042",
            "KNBS downloaded Kisumu, as the numbers of a chart (CSV)",
        ),
        (
            "web /dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/chart/2.svg",
            "KNBS downloaded all of ke-scorecard-2024, as a chart (SVG)",
        ),
        (  # small multiples: the split is how it was drawn, not a code that was read
            "web /dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/chart/1.png?REF_AREA=KE_042&by=SEX",
            "KNBS downloaded Kisumu, as a chart (PNG)",
        ),
    ],
)
def test_each_door_reads_as_a_sentence(query: str, words: str) -> None:
    assert sentence(pull(query), DIMS, NAMES, _) == words


def test_the_public_files_and_metadata_in_words() -> None:
    query = "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download?REF_AREA=KE_999&format=sdmx-csv-2.0"
    public = pull(query, org=None)
    # a code the structures do not name is shown as it is
    assert sentence(public, DIMS, NAMES, _) == "Someone without an account downloaded KE_999, as SDMX-CSV 2.0"
    f = pull("/api/files/3", action="file.downloaded", file="scorecard.csv")
    assert sentence(f, DIMS, NAMES, _) == "KNBS downloaded the uploaded file scorecard.csv"
    md = pull("/sdmx/rest/metadata/x", action="metadata.pulled", observations=0)
    assert sentence(md, DIMS, NAMES, _) == "KNBS read the quality metadata of ke-scorecard-2024"


def test_a_key_without_the_dimensions_still_reads() -> None:
    """A dataflow no longer in the structures: the key's codes are still shown."""
    p = pull("/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/F..KE_042")
    assert sentence(p, [], {}, _) == "KNBS pulled F, KE_042 over SDMX REST"
    assert read_of(p).key == [["F"], [], ["KE_042"]]


def test_the_summary_counts_by_organisation_and_month_views_apart() -> None:
    download = "/dataflows/CGD_BRIDGE/DF_CGD_KE/1.0/download?format=xlsx"
    view = "web /dataflows/CGD_BRIDGE/DF_CGD_KE/1.0"
    rows = [
        # one request that read two versions: one download of 5 + 7 observations
        pull(download, at="2026-11-03T10:00", observations=5, version=1),
        pull(download, at="2026-11-03T10:00", observations=7, version=2),
        pull(download, at="2026-11-20T09:00", observations=3),
        pull(view, at="2026-11-21T09:00", observations=40),
        pull("/sdmx/rest/data/CGD_BRIDGE,DF_CGD_KE,1.0/all", at="2026-12-01T09:00", observations=2),
        pull("/x", at="2026-12-02T09:00", action="metadata.pulled", observations=0),
        pull(download, at="2026-11-05T10:00", org="sauti", name="Sauti", kind="cso", observations=1),
        # the public: page views are not downloads
        pull(view, at="2026-11-04T10:00", org=None, observations=40),
        pull(view, at="2026-11-04T11:00", org=None, observations=40),
        pull(download, at="2026-11-06T10:00", org=None, observations=9),
    ]
    got = [
        (r.month, r.who, r.kind, r.downloads, r.observations, r.views, r.metadata) for r in summarise(rows)
    ]
    assert got == [
        ("2026-12", "KNBS", "nso", 1, 2, 0, 1),
        ("2026-11", "KNBS", "nso", 2, 15, 1, 0),
        ("2026-11", "Sauti", "cso", 1, 1, 0, 0),
        ("2026-11", None, None, 1, 9, 2, 0),
    ]
