"""The structure store and lookups, on real SDMX-ML 2.1 and 3.0 structure files (#3)."""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from cgd_bridge.errors import StructureError
from cgd_bridge.sdmx.refs import parse_ref
from cgd_bridge.structures import (
    Structures,
    StructureStore,
    describe,
    read_structures,
    version_key,
)
from tests.support.specimens import SPECIMENS, need

ROOT = Path(__file__).resolve().parents[2]
ECB_21 = "agencies/ECB_EXR1_structure.xml"
IMF_30 = "agencies/IMF_CL_FREQ_v30_structure.xml"
UNICEF = "agencies/UNICEF_GLOBAL_DATAFLOW-structure.xml"
SDG_DSD = "sdg/IAEG-SDGs_SDG_DSD_1.5_structure.xml"


@pytest.fixture(scope="module")
def specimens() -> Path:
    need(SPECIMENS)
    return SPECIMENS


@pytest.fixture
def store(tmp_path: Path) -> StructureStore:
    return StructureStore(tmp_path / "store")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [ECB_21, IMF_30, UNICEF, SDG_DSD, "formats/sdmxml30_structure_ECB_EXR_DSD.xml"]
)
def test_real_structure_files_read(specimens, name):
    message = read_structures(specimens / name)
    assert message.codelist or message.dataflow or message.structure


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b"REF_AREA,SEX\nKE,F\n", "the file is not XML"),
        (b"<a><b/></a>", "not an SDMX-ML 2.1 or 3.0 message"),
        (b"<a><b></a>", "not well-formed XML"),  # mismatched tags: lxml 6.2 says so first
        (b"<html><body/></html>", "not an SDMX-ML 2.1 or 3.0 message"),
        ("half", "not well-formed XML"),
    ],
)
def test_broken_files_raise_structure_error_naming_the_file(tmp_path, specimens, content, problem):
    if content == "half":  # a download cut off in the middle
        whole = (specimens / IMF_30).read_bytes()
        content = whole[: len(whole) // 2]
    path = tmp_path / "broken.xml"
    path.write_bytes(content)
    with pytest.raises(StructureError) as info:
        read_structures(path)
    assert problem in info.value.message
    assert info.value.file == str(path)
    assert info.value.fix


def test_a_data_message_is_refused(specimens):
    with pytest.raises(StructureError, match="is a data message, not a structure message"):
        read_structures(specimens / "formats/ECB_EXR_ng-flat.xml")


def test_sdmx_ml_31_is_refused_with_a_fix(specimens):
    with pytest.raises(StructureError, match=r"3\.1 is not supported"):
        read_structures(specimens / "formats/sdmxml31_data_ECB_EXR.xml")


def test_a_missing_file_is_a_structure_error(tmp_path):
    with pytest.raises(StructureError, match="does not exist"):
        read_structures(tmp_path / "nope.xml")


def test_sdmx1_debug_dump_does_not_reach_stdout(tmp_path, capsys):
    path = tmp_path / "partial.xml"
    path.write_text(
        '<?xml version="1.0"?><mes:Structure xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/'
        'v2_1/message"><mes:Header><mes:ID>X</mes:ID></mes:Header><mes:Structures><Nonsense/>'
        "</mes:Structures></mes:Structure>"
    )
    with pytest.raises(StructureError):
        read_structures(path)
    assert capsys.readouterr().out == ""


def test_parse_ref_and_version_order():
    assert parse_ref("IAEG-SDGs:CL_SEX(1.1)") == ("IAEG-SDGs", "CL_SEX", "1.1")
    assert parse_ref("CL_SEX") == (None, "CL_SEX", None)
    assert parse_ref("urn:sdmx:org.sdmx.infomodel.codelist.Codelist=IMF:CL_FREQ(1.0.3)") == (
        "IMF",
        "CL_FREQ",
        "1.0.3",
    )
    assert version_key("1.10") > version_key("1.9")
    with pytest.raises(StructureError):
        parse_ref("not a ref!")


# -- the store --------------------------------------------------------------------------------


def test_import_indexes_every_artefact_of_21_and_30_files(store, specimens):
    ecb = store.import_file(specimens / ECB_21)
    imf = store.import_file(specimens / IMF_30)
    unicef = store.import_file(specimens / UNICEF)
    # ECB_EXR1 holds the DSD only; its codelists are references (stubs), which are not indexed
    assert [i.key for i in ecb] == [("datastructure", "ECB", "ECB_EXR1", "1.0")]
    assert [i.ref for i in imf] == ["IMF:CL_FREQ(1.0.3)"]
    kinds = {i.kind for i in unicef}
    assert {"codelist", "conceptscheme", "contentconstraint", "dataflow", "agencyscheme", "datastructure",
            "provisionagreement"} <= kinds  # fmt: skip
    assert not any(i.replaced for i in ecb + imf)
    index = json.loads((store.folder / "index.json").read_text())
    assert index["format"] == "cgd-bridge-structures/1"
    row = index["artefacts"][0]
    assert set(row) == {"kind", "agency", "id", "version", "name", "source", "file", "sha256", "imported_at"}
    assert (store.folder / row["file"]).is_file()
    assert store.get("codelist", "CL_FREQ", agency="IMF").id == "CL_FREQ"
    assert store.artefacts("dataflow")[0].ref == "UNICEF:GLOBAL_DATAFLOW(1.0)"


def test_sdg_dsd_import_skips_reference_stubs(store, specimens):
    infos = store.import_file(specimens / SDG_DSD)
    assert all(i.agency for i in infos)
    assert ("codelist", "IAEG-SDGs", "CL_DISABILITY", "1.0") in {i.key for i in infos}
    dsd = store.get("datastructure", "SDG")
    assert [d.id for d in dsd.dimensions.components][:3] == ["FREQ", "REPORTING_TYPE", "SERIES"]


def test_reimport_replaces_and_says_so(store, specimens):
    store.import_file(specimens / IMF_30)
    again = store.import_file(specimens / IMF_30)
    assert [(i.ref, i.replaced) for i in again] == [("IMF:CL_FREQ(1.0.3)", True)]
    assert len(store.artefacts()) == 1
    assert len(list((store.folder / "files").glob("*.xml"))) == 1


def test_replacing_every_artefact_of_a_file_removes_the_file(store, specimens, tmp_path):
    store.import_file(specimens / IMF_30)
    copy = tmp_path / "renamed.xml"
    copy.write_bytes((specimens / IMF_30).read_bytes().replace(b"<com:Name", b"<!-- x --><com:Name", 1))
    store.import_file(copy)
    files = list((store.folder / "files").glob("*.xml"))
    assert [f.name.endswith("renamed.xml") for f in files] == [True]


@pytest.mark.parametrize("broken", ["not-xml", "data", "empty"])
def test_a_failing_import_leaves_the_store_unchanged(store, specimens, tmp_path, broken):
    store.import_file(specimens / IMF_30)
    before = snapshot(store.folder)
    path = {"data": specimens / "formats/ECB_EXR_ng-flat.xml"}.get(broken, tmp_path / f"{broken}.xml")
    if broken == "not-xml":
        path.write_text("a,b\n1,2\n")
    elif broken == "empty":
        path.write_bytes(b"")
    with pytest.raises(StructureError) as info:
        store.import_file(path)
    assert str(path.resolve()) in info.value.message or str(path) in info.value.message
    assert snapshot(store.folder) == before


def test_a_failing_index_write_leaves_the_store_unchanged(store, specimens, monkeypatch):
    store.import_file(specimens / IMF_30)
    before = snapshot(store.folder)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_write_index", fail)
    with pytest.raises(OSError, match="disk full"):
        store.import_file(specimens / ECB_21)
    assert snapshot(store.folder) == before


def test_import_from_a_local_http_server(store, specimens):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(specimens / "agencies"))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):  # pragma: no cover
            pass

    server = Quiet(("127.0.0.1", 0), handler)
    handler.func.log_message = lambda *a: None  # keep the test output clean
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        infos = store.import_file(f"{base}/IMF_CL_FREQ_v30_structure.xml")
        assert [i.ref for i in infos] == ["IMF:CL_FREQ(1.0.3)"]
        assert infos[0].source == f"{base}/IMF_CL_FREQ_v30_structure.xml"
        with pytest.raises(StructureError, match="HTTP 404"):
            store.import_file(f"{base}/nope.xml")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_import_from_a_file_url(store, specimens):
    infos = store.import_file((specimens / IMF_30).as_uri())
    assert infos[0].ref == "IMF:CL_FREQ(1.0.3)"


def test_network_failure_is_a_structure_error(store):
    with pytest.raises(StructureError, match="cannot download"):
        store.import_file("http://127.0.0.1:9/structure.xml")
    with pytest.raises(StructureError, match="cannot download 'ftp://'"):
        store.import_file("ftp://example.org/structure.xml")
    assert not (store.folder / "index.json").exists()


def test_remove(store, specimens):
    store.import_file(specimens / IMF_30)
    assert store.remove("codelist", "CL_FREQ").ref == "IMF:CL_FREQ(1.0.3)"
    assert store.artefacts() == []
    assert list((store.folder / "files").glob("*.xml")) == []


# -- Structures: bundled + store, lookups ------------------------------------------------------


@pytest.fixture
def structures(store, specimens, tmp_path) -> Structures:
    store.import_file(specimens / SDG_DSD)
    store.import_file(specimens / ECB_21)
    store.import_file(specimens / IMF_30)
    return Structures(store, folders=[tmp_path / "no-bundled-folder"])


def test_codes_names_and_latest_version(structures):
    assert structures.codes("IAEG-SDGs:CL_SEX") >= {"F", "M", "_T"}
    names = structures.names("CL_DISABILITY")
    assert names["PD"] == "Persons with disability"
    assert names["PWD"] == "Persons without disability"
    assert structures.codelist("CL_SEX", agency="IAEG-SDGs").version == "1.1"
    assert structures.dsd("SDG").id == "SDG"


def test_ambiguous_ids_ask_for_the_agency(structures):
    with pytest.raises(StructureError, match=r"ambiguous.*IMF:CL_FREQ.*SDMX:CL_FREQ"):
        structures.codes("CL_FREQ")
    assert "A" in structures.codes("IMF:CL_FREQ")


def test_unknown_codelist_says_how_to_add_it(structures):
    with pytest.raises(StructureError, match="structures import"):
        structures.codes("CL_NOPE")


def test_valid_codes_mask_is_vectorised(structures):
    values = pa.array(["F", "Femme", None, "_T", "M"])
    mask = structures.valid_codes_mask("IAEG-SDGs:CL_SEX", values)
    assert mask.to_pylist() == [True, False, False, True, True]
    chunked = pa.chunked_array([["F"], ["X"]])
    assert structures.valid_codes_mask("IAEG-SDGs:CL_SEX", chunked).to_pylist() == [True, False]
    assert structures.valid_codes_mask("IAEG-SDGs:CL_AREA", pa.array([404, 99999])).to_pylist() == [
        True,
        False,
    ]


def test_bundled_folder_is_tolerated_empty_or_with_broken_files(store, specimens, tmp_path):
    bundled = tmp_path / "codelists"
    bundled.mkdir()
    assert Structures(store, folders=[bundled]).artefacts() == []
    (bundled / "half-written.xml").write_text("<mes:Structure")
    (bundled / "imf.xml").write_bytes((specimens / IMF_30).read_bytes())
    structures = Structures(store, folders=[bundled])
    assert [(i.ref, i.source) for i in structures.artefacts()] == [("IMF:CL_FREQ(1.0.3)", "bundled")]
    assert len(structures.problems) == 1
    assert "half-written.xml" in structures.problems[0].message
    store.import_file(specimens / IMF_30)
    sources = [Path(i.source).resolve() for i in Structures(store, folders=[bundled]).artefacts()]
    assert sources == [(specimens / IMF_30).resolve()]


def test_the_real_bundled_folder_loads():
    structures = Structures()
    for info in structures.artefacts():
        assert info.source == "bundled"
    assert structures.problems == []


def test_describe_a_dsd_and_a_dataflow(structures, specimens, store):
    data = describe(structures.dsd("SDG"))
    sex = next(d for d in data["dimensions"] if d["id"] == "SEX")
    assert sex["codelist"] == "IAEG-SDGs:CL_SEX(1.1)"
    assert data["measures"][0]["id"] == "OBS_VALUE"
    store.import_file(specimens / UNICEF)
    assert describe(structures.dataflow("GLOBAL_DATAFLOW"))["structure"] == "UNICEF:DSD_AGGREGATE(1.0)"


def test_sdmx1_process_state_bug_is_worked_around(specimens):
    """Regression (#3): a 2.1 SS data message with its own namespace, then a 3.0 structure file.

    sdmx1 breaks every later SDMX-ML 3.0 read in a process that read such a message before
    ``sdmx.reader.xml.v30`` was imported; cgd_bridge.structures.sdmx1(), the one way the bridge
    gets sdmx1 (imported on first use since #16), imports it first.
    """
    code = f"""
import sys
import cgd_bridge.structures as s
assert "sdmx" not in sys.modules  # a validate with a warm cache never needs it
sdmx = s.sdmx1()
assert "sdmx.reader.xml.v30" in sys.modules
sdmx.read_sdmx({str(specimens / "formats/ECB_EXR_ng-flat-ss.xml")!r})
print(s.read_structures({str(specimens / IMF_30)!r}).codelist["CL_FREQ"].version)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("1.0.3")


def test_structures_module_imports_no_click_or_settings():
    code = (
        "import sys, cgd_bridge.structures; "
        "bad = ('click', 'fastapi', 'sqlalchemy', 'cgd_bridge.settings'); "
        "print(','.join(m for m in bad if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_bundled_structures_load_once_for_concurrent_first_readers(monkeypatch):
    """#14: right after start, concurrent requests each asked for a dataflow while the bundled
    files were still being read; those that came second saw a half-filled table and answered
    404 "no dataflow". Every first reader must see every bundled artefact."""
    import time

    from cgd_bridge import structures as module

    real = module.read_structures
    reads: list[str] = []

    def slow_read(path, **kwargs):  # widen the window a real, loaded server has
        reads.append(str(path))
        time.sleep(0.05)
        return real(path, **kwargs)

    monkeypatch.setattr(module, "read_structures", slow_read)
    fresh = Structures.load(None)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            fresh.dataflow("DF_SDG_GLH")
            fresh.dataflow("DF_CGD_KE")
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(reads) == len(set(reads)), "a bundled file was read more than once"
