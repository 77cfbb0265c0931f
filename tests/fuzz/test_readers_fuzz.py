"""Fuzzing every reader of outside input: a clear error or a result, never a crash (#14).

Each test takes a real, valid input of its reader (the bundled examples, or a file the bridge
wrote), damages it the ways files get damaged or forged (flipped and inserted bytes, cut ends,
repeated slices, odd tokens such as NUL, BOM, quotes, aliases, entities, huge numbers, deep
nesting; inside a workbook, the XML of one part), and runs the reader's public entry point. The
property: it returns, or raises the project's :class:`~cgd_bridge.errors.CgdBridgeError` (which
the CLI prints as a message naming the file and the fix, and the server answers as a 4xx).
Anything else (``KeyError``, ``ValueError`` from a library, ``RecursionError``, ...) is a crash.

Budgets: CI runs a few dozen examples per reader with a fixed seed (so a failure is
reproducible and CI does not flicker). A longer, random run is one command::

    CGD_BRIDGE_FUZZ_EXAMPLES=2000 CGD_BRIDGE_FUZZ_RANDOM=1 .venv/bin/pytest tests/fuzz -q

Hypothesis prints the smallest failing input it found.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cgd_bridge import pipeline
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.ingest import open_table, read_xlsform
from cgd_bridge.mapping import load_mapping
from cgd_bridge.metadata import load_metadata
from cgd_bridge.sdmx.read import import_mapping
from cgd_bridge.sdmx.read.data import read_official
from cgd_bridge.sdmx.read.published import read_published
from cgd_bridge.sdmx.write import export_structure_map
from cgd_bridge.structures import Structures, StructureStore
from tests.support.paths import ROOT

KENYA = ROOT / "examples" / "kenya-health-scorecard"
NEPAL = ROOT / "examples" / "nepal-youth-survey"
KENYA_MAPPING = ROOT / "mappings" / "kenya-health-scorecard.yaml"
NEPAL_MAPPING = ROOT / "mappings" / "nepal-youth-survey.yaml"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"

#: a failing example is shown shortened; hypothesis warns that a damaged file's repr is long
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

EXAMPLES = int(os.environ.get("CGD_BRIDGE_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("CGD_BRIDGE_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

#: for the readers that take a second per example here (a workbook through every check)
FUZZ_SLOW = settings(FUZZ, max_examples=max(5, EXAMPLES // 3))

#: tokens that break parsers: control bytes, BOMs, quoting, YAML and XML syntax, huge numbers
TOKENS = [
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b'"', b'""', b",", b";", b"\t", b"\r", b"\n\n", b"\\",
    b"&", b"&amp;", b"&#0;", b"<!ENTITY x 'y'>", b"<", b">", b"]]>", b"<![CDATA[", b"*a", b"&a [1]",
    b": ", b"- ", b"{", b"}", b"[", b"]", b"!!python/object", b"~", b"null", b"NaN", b"-1",
    b"1e309", b"99999999999999999999999", b"0x1F", b"=HYPERLINK(\"x\")", "जिल्ला".encode(),
    "\u202e".encode(), b"\xc3\x28", b"\xed\xa0\x80", b"[" * 200, b"{a: " * 100,
]  # fmt: skip


@st.composite
def damaged(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with one to four damages of the kinds real and forged files have."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "token", "cut", "repeat", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif kind == "cut":
            del data[at:]
        elif kind == "repeat" and len(data) < 1 << 20:
            end = min(len(data), at + draw(st.integers(1, 256)))
            data[at:at] = data[at:end] * draw(st.integers(2, 8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


@st.composite
def damaged_workbook(draw: st.DrawFn, seed: bytes) -> bytes:
    """A workbook (a ZIP of XML parts) with one part damaged, zipped again (a flipped byte in
    the ZIP itself only tests the CRC check)."""
    with zipfile.ZipFile(io.BytesIO(seed)) as zin:
        parts = {i.filename: zin.read(i) for i in zin.infolist()}
    xml = sorted(n for n in parts if n.endswith(".xml") or n.endswith(".rels"))
    name = draw(st.sampled_from(xml))
    parts[name] = draw(damaged(parts[name]))
    if draw(st.booleans()) and len(xml) > 1:  # sometimes a part goes missing
        parts.pop(draw(st.sampled_from([n for n in xml if n != name])), None)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for n, content in parts.items():
            zout.writestr(n, content)
    return out.getvalue()


def holds(fn: Callable[[], Any]) -> None:
    """The property: ``fn`` returns, or raises a CgdBridgeError with a message."""
    message = "returned"
    try:
        fn()
    except CgdBridgeError as exc:
        message = str(exc).strip()
    assert message, "a CgdBridgeError without a message"


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def structures() -> Structures:
    return Structures.load(None)


@functools.cache
def written(fmt: str) -> bytes:
    """The Kenya example as the bridge writes it in ``fmt`` (made once, when first drawn)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"kenya.{fmt}"
        pipeline.convert(KENYA / "data.csv", metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING, to=fmt,
                         output=path)  # fmt: skip
        return path.read_bytes()


# -- CSO inputs --------------------------------------------------------------------------------


@FUZZ
@given(data=damaged((KENYA / "data.csv").read_bytes()))
def test_csv_data_through_validate(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "data.csv", data)
    holds(lambda: pipeline.validate(path, metadata=KENYA / "quality.yaml", mapping=KENYA_MAPPING))


@FUZZ_SLOW
@given(data=damaged_workbook((NEPAL / "data.xlsx").read_bytes()))
def test_xlsx_kobo_export_through_validate(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "data.xlsx", data)
    holds(lambda: pipeline.validate(path, metadata=NEPAL / "quality.yaml", mapping=NEPAL_MAPPING,
                                    form=NEPAL / "form.xlsx"))  # fmt: skip


@FUZZ_SLOW
@given(data=damaged_workbook((NEPAL / "form.xlsx").read_bytes()))
def test_xlsform(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "form.xlsx", data)
    holds(lambda: read_xlsform(path))
    holds(lambda: open_table(NEPAL / "data.xlsx", form=path))


@FUZZ
@given(data=damaged((KENYA / "quality.yaml").read_bytes()))
def test_quality_metadata(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "quality.yaml", data)
    holds(lambda: load_metadata(path))


@FUZZ
@given(data=damaged(KENYA_MAPPING.read_bytes()))
def test_mapping(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "mapping.yaml", data)
    holds(lambda: load_mapping(path))


# -- SDMX inputs ---------------------------------------------------------------------------------


@FUZZ
@given(content=st.deferred(lambda: damaged(written("sdmx-csv-2.0"))))
def test_official_series_sdmx_csv(structures: Structures, content: bytes) -> None:
    holds(lambda: read_official(content, "official.csv", dataflow=KE_FLOW, structures=structures))


@FUZZ
@given(content=st.deferred(lambda: damaged(written("sdmx-ml-2.1-ss"))))
def test_official_series_sdmx_ml(structures: Structures, content: bytes) -> None:
    holds(lambda: read_official(content, "official.xml", dataflow=KE_FLOW, structures=structures))


#: every data format the bridge writes, as ``cgd-bridge audit`` reads it back
AUDITED = [
    "sdmx-csv-1.0",
    "sdmx-csv-2.0",
    "sdmx-ml-2.1-ss",
    "sdmx-ml-2.1-generic",
    "sdmx-ml-3.0-ss",
    "sdmx-json-2.0",
]


@pytest.mark.parametrize("fmt", AUDITED)
@FUZZ
@given(data=st.data())
def test_published_data_for_the_audit(structures: Structures, fmt: str, data: st.DataObject) -> None:
    content = data.draw(damaged(written(fmt)))
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "pulled.data", content)
        holds(lambda: read_published(path, structures=structures))


@FUZZ
@given(data=damaged((ROOT / "codelists" / "CGD-BRIDGE_KE.xml").read_bytes()))
def test_structure_import(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "structures.xml", data)
    holds(lambda: StructureStore(tmp_path / "store").import_file(path))


@pytest.fixture(scope="module")
def kenya_map(structures: Structures) -> bytes:
    mapping = load_mapping(KENYA_MAPPING)[0]
    return export_structure_map(mapping, structures=structures, name="kenya.yaml").text.encode()


@FUZZ
@given(data=st.data())
def test_structure_map_import(
    tmp_path: Path, structures: Structures, kenya_map: bytes, data: st.DataObject
) -> None:
    path = write(tmp_path, "map.xml", data.draw(damaged(kenya_map)))
    holds(lambda: import_mapping([path], dataflow=KE_FLOW, structures=structures))
