"""Official series in the store (#5): loading, who sees them, deleting, making public, audit;
nothing half-stored on a bad file. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
from functools import partial

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cgd_bridge.errors import Forbidden, NotFound, UsageError
from cgd_bridge.sdmx.read.data import OfficialDataError, read_official
from cgd_bridge.store import official
from cgd_bridge.store.models import AuditEntry, OfficialSeries
from cgd_bridge.structures import Structures
from tests.support.official import DATAFLOW, LABEL, broken_csv, converted_csv, official_csv, official_value
from tests.unit.store.conftest import Cast


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load()


def _load(session: Session, cast: Cast, structures: Structures, **kw: object) -> OfficialSeries:
    args: dict[str, object] = {
        "principal": cast.nso, "nso": "knbs", "dataflow": DATAFLOW, "label": LABEL,
        "filename": "kdhs.csv", "content": official_csv(),
        "read": partial(read_official, structures=structures),
    }  # fmt: skip
    args.update(kw)
    return official.load_official_file(session, **args)  # type: ignore[arg-type]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OfficialSeries)) or 0


def test_an_nso_reviewer_loads_an_official_series(
    session: Session, cast: Cast, structures: Structures
) -> None:
    s = _load(session, cast, structures)
    assert (s.agency, s.dataflow, s.dataflow_version) == ("CGD_BRIDGE", "DF_CGD_KE", "1.0")
    assert s.nso.slug == "knbs"
    assert s.loaded_by is not None
    assert s.loaded_by.username == "wanjiru"
    assert s.format == "sdmx-csv-1.0"
    assert s.observations == 60
    assert s.sha256 == hashlib.sha256(official_csv()).hexdigest()
    assert official.read_content(session, s) == official_csv()
    assert s.media_type == "text/csv"
    table = official.load_table(session, s)
    assert table.num_rows == 60
    assert set(table["DISABILITY_STATUS"].to_pylist()) == {"_T"}
    assert set(table["REPORTING_TYPE"].to_pylist()) == {"G"}
    assert pa.types.is_float64(table["OBS_VALUE"].type)
    assert (s.time_min, s.time_max) == ("2024", "2024")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "official.loaded")).one()
    assert entry.details is not None
    assert entry.details["official_series"] == s.id
    assert entry.dataflow == DATAFLOW
    assert entry.observations == 60


def test_values_are_kept_by_key(session: Session, cast: Cast, structures: Structures) -> None:
    s = _load(session, cast, structures)
    table = official.load_table(session, s)
    stored = {
        (r["REF_AREA"], r["SEX"], r["AGE"]): r["OBS_VALUE"]
        for r in table.select(["REF_AREA", "SEX", "AGE", "OBS_VALUE"]).to_pylist()
    }
    cgd = {
        (r["REF_AREA"], r["SEX"], r["AGE"]): float(r["OBS_VALUE"])
        for r in csv.DictReader(io.StringIO(converted_csv().decode()))
        if r["DISABILITY_STATUS"] == "_T" and r["OBS_VALUE"]
    }
    assert stored == {k: official_value(v) for k, v in cgd.items()}


def test_a_cso_and_another_nso_cannot_load(session: Session, cast: Cast, structures: Structures) -> None:
    with pytest.raises(Forbidden, match="reviewers of the NSO 'knbs'"):
        _load(session, cast, structures, principal=cast.cso)
    with pytest.raises(Forbidden):
        _load(session, cast, structures, principal=cast.nso_without)
    with pytest.raises(UsageError, match="'sauti' is a cso, not an NSO"):
        _load(session, cast, structures, principal=cast.admin, nso="sauti")
    assert _count(session) == 0


def test_admins_and_the_local_cli_may_load(session: Session, cast: Cast, structures: Structures) -> None:
    assert _load(session, cast, structures, principal=cast.admin).loaded_by is not None
    assert _load(session, cast, structures, principal=None, local=True).loaded_by is None
    assert _count(session) == 2
    with pytest.raises(Forbidden):  # the anonymous public is not the local CLI
        _load(session, cast, structures, principal=None)
    private = official.list_official(session, principal=None, local=True)
    assert len(private) == 2
    assert official.list_official(session, principal=None) == []
    official.delete_official(session, principal=None, series_id=private[0].id, local=True)
    with pytest.raises(NotFound):
        official.delete_official(session, principal=None, series_id=private[1].id)
    assert _count(session) == 1


def test_a_bad_file_names_row_and_column_and_stores_nothing(
    session: Session, cast: Cast, structures: Structures
) -> None:
    with pytest.raises(OfficialDataError) as caught:
        _load(session, cast, structures, content=broken_csv(), filename="kdhs.csv")
    text = caught.value.message
    assert "kdhs.csv" in text
    assert "row 2, column 'SEX': 'Femme' is not a code of IAEG-SDGs:CL_SEX(1.1)" in text
    assert "row 4, column 'OBS_VALUE': 'n/a' is not a number" in text
    assert "nothing was stored" in text
    assert _count(session) == 0
    assert (
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("official%"))
        )
        == 0
    )


def test_a_file_of_another_dataflow_or_without_a_dimension_is_refused(
    session: Session, cast: Cast, structures: Structures
) -> None:
    other = official_csv().replace(b'"CGD_BRIDGE:DF_CGD_KE(1.0)"', b'"IAEG-SDGs:DF_SDG_GLH(1.5)"')
    with pytest.raises(OfficialDataError, match="is not the dataflow CGD_BRIDGE:DF_CGD_KE"):
        _load(session, cast, structures, content=other)
    no_sex = official_csv().replace(b'"SEX"', b'"GENDER"', 1)
    with pytest.raises(OfficialDataError, match=r"column 'SEX': the dimension or measure SEX .* is missing"):
        _load(session, cast, structures, content=no_sex)
    assert _count(session) == 0


def test_a_private_series_is_seen_by_its_nso_and_admins_only(
    session: Session, cast: Cast, structures: Structures
) -> None:
    s = _load(session, cast, structures)
    flow = ("CGD_BRIDGE", "DF_CGD_KE", "1.0")
    for who in (cast.nso, cast.admin):
        assert [o.id for o in official.list_official(session, principal=who, dataflow=flow)] == [s.id]
    for who in (cast.cso, cast.nso_without, None):
        assert official.list_official(session, principal=who, dataflow=flow) == []
        with pytest.raises(NotFound):
            official.get_official(session, principal=who, series_id=s.id)
    official.set_public(session, principal=cast.nso, series_id=s.id, public=True)
    for who in (cast.cso, cast.nso_without, None):
        assert [o.id for o in official.list_official(session, principal=who, dataflow=flow)] == [s.id]
    with pytest.raises(Forbidden):
        official.set_public(session, principal=cast.nso_without, series_id=s.id, public=False)
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-1] == "official.made_public"


def test_deleting_is_for_the_nso_and_admins_and_audited(
    session: Session, cast: Cast, structures: Structures
) -> None:
    s = _load(session, cast, structures, public=True)
    with pytest.raises(Forbidden):
        official.delete_official(session, principal=cast.cso, series_id=s.id)
    with pytest.raises(Forbidden):
        official.delete_official(session, principal=cast.nso_without, series_id=s.id)
    assert _count(session) == 1
    official.delete_official(session, principal=cast.nso, series_id=s.id)
    assert _count(session) == 0
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "official.deleted")).one()
    assert entry.details is not None
    assert entry.details["label"] == LABEL
    assert entry.user_id == cast.nso.user_id


def test_sdmx_ml_files_load_too(session: Session, cast: Cast, structures: Structures, tmp_path) -> None:
    """The official CSV written back as SDMX-ML 2.1 (generic and structure-specific) loads the same."""
    from cgd_bridge.sdmx.target import Target
    from cgd_bridge.sdmx.write import write

    table = official.load_table(session, _load(session, cast, structures))
    info = official.list_official(session, principal=cast.nso)[0]
    for name in ("sdmx-ml-2.1-generic", "sdmx-ml-2.1-ss"):
        buf = tmp_path / f"{name}.xml"
        target = Target("CGD_BRIDGE", "DF_CGD_KE", "1.0", tuple(info.dimensions))
        with buf.open("wb") as fh:
            write(name, table, target, fh)
        s = _load(session, cast, structures, content=buf.read_bytes(), filename=buf.name)
        assert s.format == "sdmx-ml-2.1"
        assert s.media_type == "application/xml"
        loaded = official.load_table(session, s)
        assert loaded.num_rows == 60
        key = [*info.dimensions, "TIME_PERIOD"]
        assert sorted(loaded.select([*key, "OBS_VALUE"]).to_pylist(), key=str) == sorted(
            table.select([*key, "OBS_VALUE"]).to_pylist(), key=str
        )


def test_an_official_csv_whose_header_is_not_utf8_is_refused_with_its_line(structures: Structures) -> None:
    """Found by the readers' fuzz test: a column name holding a byte that is not UTF-8 stopped the
    reader inside pyarrow (UnicodeDecodeError) instead of naming the file and the line."""
    from cgd_bridge.errors import InputError

    header = b"STRUCTURE,STRUCTURE_ID,ACTION,\x80SEX,TIME_PERIOD,OBS_VALUE\n"
    with pytest.raises(InputError) as caught:
        read_official(
            header + b"dataflow,X,I,F,2024,1\n", "official.csv", dataflow=DATAFLOW, structures=structures
        )
    assert caught.value.row == 1
    assert "not UTF-8" in caught.value.message
    with pytest.raises(InputError) as later:
        read_official(b"DATAFLOW,SEX,TIME_PERIOD\nX,F,2024\nX,\xff,2025\n", "official.csv", dataflow=DATAFLOW,
                      structures=structures)  # fmt: skip
    assert later.value.row == 3
