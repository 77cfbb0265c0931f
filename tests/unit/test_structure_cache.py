"""The compiled structure cache (#16): the same answers as sdmx1's objects, and never trusted
blindly.

A validate reads the target DSD's contract, codelists, hierarchy and content constraints from
plain values compiled from each structure file and kept in a cache keyed by the file's SHA-256
and the code's version, so that with a warm cache it neither parses a file nor imports sdmx1.
These tests hold the compiled values to what sdmx1's objects say, and the cache to its promises:
a damaged, foreign or stale entry is rebuilt, a changed file is compiled anew (bundled or in the
store), and a cache that cannot be written only costs time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cgd_bridge.sdmx.contract import Contract, codelist_ref
from cgd_bridge.structures import (
    Structures,
    StructureStore,
    code_version,
    iter_artefacts,
    kind_of,
    read_structures,
    text_of,
)
from tests.support.paths import ROOT
from tests.support.specimens import SPECIMENS, need

CODELISTS = ROOT / "codelists"
KE_FLOW = "CGD_BRIDGE:DF_CGD_KE(1.0)"
SDG_FLOW = "IAEG-SDGs:DF_SDG_GLH(1.5)"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(folder))
    return folder / "structures"


def _bundled_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "codelists"
    folder.mkdir()
    for path in CODELISTS.glob("*.xml"):
        shutil.copyfile(path, folder / path.name)
    return folder


# -- the compiled values are sdmx1's ---------------------------------------------------------


def _objects() -> list[tuple[Path, object]]:
    return [(p, obj) for p in sorted(CODELISTS.glob("*.xml")) for obj in iter_artefacts(read_structures(p))]


def test_every_bundled_codelist_compiles_to_sdmx1s_codes_names_and_parents(cache: Path) -> None:
    structures = Structures()
    checked = 0
    for _, obj in _objects():
        if kind_of(obj) != "codelist":
            continue
        ref = f"{obj.maintainer.id}:{obj.id}({obj.version})"
        items = list(obj.items.values())
        assert structures.codes(ref) == frozenset(str(c.id) for c in items)
        for lang in ("en", "fr", "xx"):
            assert structures.names(ref, lang) == {str(c.id): text_of(c.name, lang) for c in items}
        parents = {
            str(c.id): str(c.parent.id)
            for c in items
            if getattr(c, "parent", None) is not None and getattr(c.parent, "id", None) is not None
            and c.parent is not obj
        }  # fmt: skip
        assert structures.parents(ref) == parents
        checked += 1
    assert checked > 20


def test_every_bundled_dsd_compiles_to_the_contract_sdmx1_gives(cache: Path) -> None:
    structures = Structures()
    dsds = [obj for _, obj in _objects() if kind_of(obj) == "datastructure"]
    assert len(dsds) >= 2
    for dsd in dsds:
        compiled = structures.structure(str(dsd.id), dsd.maintainer.id, dsd.version)
        assert compiled.contract == Contract.of(dsd)
        every = [*dsd.dimensions.components, *dsd.measures.components, *dsd.attributes.components]
        assert [c.id for c in compiled.components] == [str(c.id) for c in every]
        assert [c.codelist for c in compiled.components] == [codelist_ref(c) for c in every]


def test_the_constraints_are_sdmx1s_included_regions(cache: Path) -> None:
    structures = Structures()
    flow = structures.dataflow("DF_SDG_GLH")
    expected = []
    for info in structures.artefacts("contentconstraint"):
        c = structures.get("contentconstraint", info.id, info.agency, info.version)
        if flow.id in {t.id for t in c.content} and not str(c.role.role).endswith("actual"):
            expected += [
                tuple((str(k.id), tuple(str(v.value) for v in m.values)) for k, m in r.member.items())
                for r in c.data_content_region
            ]
    got = [r.members for r in structures.constraints("DF_SDG_GLH")]
    assert got == expected
    assert got, "the bundled SDG dataflow has allowed regions"
    assert structures.constraints("DF_NOBODY") == []


def test_a_region_marked_excluded_allows_nothing(tmp_path: Path, cache: Path) -> None:
    """sdmx1 keeps ``include="false"`` as the text 'false', which is true in Python: an
    excluded region was read as an allowed one before the compiled values (#16)."""
    folder = _bundled_copy(tmp_path)
    path = folder / "constraints.xml"
    text = path.read_text(encoding="utf-8")
    first = text.index('include="true"')
    path.write_text(
        text[:first] + 'include="false"' + text[first + len('include="true"') :], encoding="utf-8"
    )
    before = Structures(folders=[CODELISTS]).constraints("DF_SDG_GLH")
    after = Structures(folders=[folder]).constraints("DF_SDG_GLH")
    assert len(after) == len(before) - 1


# -- the cache: warm, rebuilt, never trusted blindly ------------------------------------------


WARM = """
import json, sys
from cgd_bridge.structures import Structures
s = Structures()
c = s.contract({flow!r})
answer = {{
    "dims": list(c.dimension_ids),
    "codes": len(s.codes("IAEG-SDGs:CL_SEX(1.1)")),
    "parents": len(s.parents("CGD_BRIDGE:CL_AREA_KE(1.0)")),
    "regions": len(s.constraints("DF_SDG_GLH")),
    "sdmx": "sdmx" in sys.modules,
}}
print(json.dumps(answer))
"""


def _run(code: str, cache_root: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CGD_BRIDGE_CACHE_DIR": str(cache_root)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    answer: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def test_a_warm_cache_answers_without_sdmx1(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cold = _run(WARM.format(flow=KE_FLOW), root)
    assert cold["sdmx"] is True  # the first run parses and compiles
    assert len(list((root / "structures").glob("*.json"))) == len(list(CODELISTS.glob("*.xml")))
    warm = _run(WARM.format(flow=KE_FLOW), root)
    assert warm["sdmx"] is False
    assert {k: v for k, v in warm.items() if k != "sdmx"} == {k: v for k, v in cold.items() if k != "sdmx"}


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.json"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # cut off
        lambda b: b"",  # empty
        lambda b: b"not json at all\n{}",
        lambda b: b.replace(b'"CL_SEX"', b'"CL_SEXY"', 1),  # body changed under its digest
        lambda b: b.split(b"\n", 1)[0] + b"\n" + b'[{"kind": "codelist"}]',  # a body that lies
    ],
    ids=["cut", "empty", "garbage", "tampered", "malformed"],
)
def test_a_damaged_cache_entry_is_rebuilt(cache: Path, damage) -> None:
    expected = Structures().codes("IAEG-SDGs:CL_SEX(1.1)")
    for path in _entries(cache):
        path.write_bytes(damage(path.read_bytes()))
    again = Structures()
    assert again.codes("IAEG-SDGs:CL_SEX(1.1)") == expected
    assert again.contract(KE_FLOW).dimension_ids[:3] == ("FREQ", "REPORTING_TYPE", "SERIES")
    for path in _entries(cache):  # rewritten whole
        header = json.loads(path.read_bytes().split(b"\n", 1)[0])
        assert header["code"] == code_version()


def test_an_entry_written_for_other_bytes_or_other_code_is_not_read(cache: Path) -> None:
    Structures().codes("IAEG-SDGs:CL_SEX(1.1)")
    entries = _entries(cache)
    sizes = {p: p.stat().st_size for p in entries}
    biggest = max(entries, key=lambda p: sizes[p])
    smallest = min(entries, key=lambda p: sizes[p])
    shutil.copyfile(smallest, biggest)  # another file's values under this file's name
    assert len(Structures().codes("IAEG-SDGs:CL_SEX(1.1)")) > 0
    assert biggest.stat().st_size == sizes[biggest]  # rebuilt from the file itself
    head, body = biggest.read_bytes().split(b"\n", 1)
    header = json.loads(head)
    header["code"] = "older-code"
    biggest.write_bytes(json.dumps(header).encode() + b"\n" + body)
    Structures().codes("IAEG-SDGs:CL_SEX(1.1)")
    assert json.loads(biggest.read_bytes().split(b"\n", 1)[0])["code"] == code_version()


def test_a_changed_bundled_file_is_compiled_anew(tmp_path: Path, cache: Path) -> None:
    folder = _bundled_copy(tmp_path)
    assert "F" in Structures(folders=[folder]).codes("IAEG-SDGs:CL_SEX(1.1)")
    path = folder / "IAEG-SDGs_SDG.xml"
    text = path.read_text(encoding="utf-8")
    assert text.count('<str:Codelist id="CL_SEX"') == 1
    start = text.index('<str:Codelist id="CL_SEX"')
    code = text.index('<str:Code id="F"', start)
    end = text.index("</str:Code>", code) + len("</str:Code>")
    path.write_text(text[:code] + text[end:], encoding="utf-8")
    codes = Structures(folders=[folder]).codes("IAEG-SDGs:CL_SEX(1.1)")
    assert "F" not in codes
    assert "M" in codes


def test_a_stored_file_is_compiled_at_import_and_again_when_changed(tmp_path: Path, cache: Path) -> None:
    need(SPECIMENS)
    store = StructureStore(tmp_path / "store")
    store.import_file(SPECIMENS / "agencies/IMF_CL_FREQ_v30_structure.xml")
    assert len(_entries(cache)) == 1  # compiled when imported: the first validate is warm
    structures = Structures(store, folders=[])
    codes = structures.codes("IMF:CL_FREQ(1.0.3)")
    assert "A" in codes
    stored = next((tmp_path / "store" / "files").glob("*.xml"))
    text = stored.read_text(encoding="utf-8")
    start = text.index('id="A"')
    begin = text.rindex("<", 0, start)
    tag = text[begin + 1 : text.index(" ", begin)]  # structure:Code
    end = text.index(f"</{tag}>", start) + len(f"</{tag}>")
    stored.write_text(text[:begin] + text[end:], encoding="utf-8")  # edited by hand
    fresh = Structures(StructureStore(tmp_path / "store"), folders=[])
    assert "A" not in fresh.codes("IMF:CL_FREQ(1.0.3)")
    assert fresh.codes("IMF:CL_FREQ(1.0.3)") == codes - {"A"}


def test_no_cache_folder_still_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", "")
    s = Structures()
    assert s.cache_dir is None
    assert s.contract(KE_FLOW).dsd == "CGD_BRIDGE:CGD_KE(1.0)"


def test_a_cache_that_cannot_be_written_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would go", encoding="utf-8")
    monkeypatch.setenv("CGD_BRIDGE_CACHE_DIR", str(blocker))
    s = Structures()
    assert s.contract(SDG_FLOW).dsd == "IAEG-SDGs:SDG(1.5)"
    assert s.problems == []


def test_entries_of_other_code_are_kept_a_month(cache: Path) -> None:
    """Two installed versions (or checkouts) may share one cache: each keeps its own entries,
    and only those written by other code over a month ago are removed."""
    Structures().codes("IAEG-SDGs:CL_SEX(1.1)")
    mine = max(_entries(cache), key=lambda p: p.stat().st_size)
    sha = mine.name.split("-", 1)[0]
    fresh = cache / f"{sha}-othercode.json"
    old = cache / f"{sha}-oldcode.json"
    for other in (fresh, old):
        shutil.copyfile(mine, other)
    month_ago = mine.stat().st_mtime - 31 * 24 * 3600
    os.utime(old, (month_ago, month_ago))
    mine.write_bytes(b"damaged")  # the next reader rebuilds and writes its own entry
    Structures().codes("IAEG-SDGs:CL_SEX(1.1)")
    assert fresh.exists()
    assert not old.exists()


def test_an_entry_compiled_by_another_sdmx1_is_not_read(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a file compiles to is sdmx1's reading of it (a region's ``include``, a DSD's
    components), so an entry written under another installed sdmx1 (an upgrade, a cache folder
    shared by two environments) is compiled again, not believed."""
    from cgd_bridge import structures, verdicts

    path = CODELISTS / "IAEG-SDGs_SDG.xml"
    assert structures.compiled_file(path, name=path.name, cache_dir=cache).message is not None
    assert structures.compiled_file(path, name=path.name, cache_dir=cache).message is None  # warm
    fingerprint = verdicts.package_fingerprint("sdmx")
    assert fingerprint is not None
    monkeypatch.setitem(verdicts._FINGERPRINTS, "sdmx", fingerprint + "|sdmx1-2.99.dist-info:1:1")
    monkeypatch.setattr(structures, "_CODE_VERSION", None)
    assert structures.compiled_file(path, name=path.name, cache_dir=cache).message is not None
