"""The SDMX wing's and the structure store's errors read in the user's language (#17).

Each case makes the real error the way a careless or unlucky user meets it (a structure file cut
off, a data message given as structures, a name that is no reference, a format cgd-bridge does not
write, a published file that is an error message) and renders it as the CLI and the server do
(:meth:`CgdBridgeError.message_in`). In Swahili, Nepali and Bangla no word of the catalogue's
English may be left, except in what the error quotes as data (the file name, the value given, a
library's own reason), and every parameter still appears as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import ENGLISH, translator
from tests.support.untranslated import EnglishFinder

ROOT = Path(__file__).resolve().parents[3]
KENYA_STRUCTURES = ROOT / "codelists" / "CGD-BRIDGE_KE.xml"


def _write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _structure_not_xml(tmp: Path) -> None:
    from cgd_bridge.structures import read_structures

    read_structures(_write(tmp, "maeneo.csv", "REF_AREA,SEX\nKE,F\n"))


def _structure_cut_off(tmp: Path) -> None:
    from cgd_bridge.structures import read_structures

    whole = KENYA_STRUCTURES.read_bytes()
    read_structures(_write(tmp, "CL_AREA_KE.xml", whole[: len(whole) // 3]))


def _structure_empty(tmp: Path) -> None:
    from cgd_bridge.structures import read_structures

    read_structures(_write(tmp, "tupu.xml", b"  \n"))


def _store_index_broken(tmp: Path) -> None:
    from cgd_bridge.structures import StructureStore

    store = tmp / "hifadhi"
    store.mkdir()
    _write(store, "index.json", '{"artefacts": [{"kind": "codelist"')
    StructureStore(store).artefacts()


def _store_artefact_missing(tmp: Path) -> None:
    from cgd_bridge.structures import StructureStore

    StructureStore(tmp / "hifadhi").get("codelist", "CL_WILAYA_TZ", "NBS_TZ")


def _store_folder_given(tmp: Path) -> None:
    from cgd_bridge.structures import StructureStore

    (tmp / "miundo").mkdir()
    StructureStore(tmp / "hifadhi").import_file(str(tmp / "miundo"))


def _download_scheme(tmp: Path) -> None:
    from cgd_bridge.structures import fetch

    fetch("ftp://registry.example.org/structure/codelist/NBS_TZ/CL_WILAYA_TZ")


def _unknown_format(tmp: Path) -> None:
    from cgd_bridge.sdmx.formats import get_format

    get_format("sdmx-xlsx")


def _not_a_reference(tmp: Path) -> None:
    from cgd_bridge.sdmx.refs import parse_ref

    parse_ref("Takwimu za afya (2024)")


def _bad_agency(tmp: Path) -> None:
    from cgd_bridge.sdmx.maps import check_agency

    check_agency("2-Shirika la Takwimu")


def _csv_option(tmp: Path) -> None:
    from cgd_bridge.sdmx.write import check_csv_options

    check_csv_options("sdmx-ml-2.1-generic", keys="series")


def _detail(tmp: Path) -> None:
    from cgd_bridge.sdmx.target import Target
    from cgd_bridge.sdmx.write._text import check_detail, layout

    check_detail("kamili", layout(Target("NBS_TZ", "DF_AFYA", "1.0", ("REF_AREA", "SEX"))))


def _opensdg_two_code_maps(tmp: Path) -> None:
    from cgd_bridge.sdmx.read import import_mapping

    one = _write(tmp, "ramani_a.csv", "Text,Dimension,Value\nKe,SEX,F\n")
    two = _write(tmp, "ramani_b.csv", "Text,Dimension,Value\nMe,SEX,M\n")
    import_mapping([one, two], dataflow="CGD_BRIDGE:DF_CGD_KE(1.0)")


def _published_error_message(tmp: Path) -> None:
    from cgd_bridge.sdmx.read.published import read_published

    read_published(
        _write(
            tmp,
            "iliyopakuliwa.xml",
            '<?xml version="1.0"?><mes:Error '
            'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"/>',
        )
    )


def _published_cut_json(tmp: Path) -> None:
    from cgd_bridge.sdmx.read.published import read_published

    read_published(_write(tmp, "takwimu.json", '{"meta": {"id": "X"}, "data": {"structures": [{'))


def _published_not_a_number(tmp: Path) -> None:
    from cgd_bridge.sdmx.read.published import read_published

    read_published(
        _write(tmp, "takwimu.csv", "DATAFLOW,REF_AREA,OBS_VALUE\nNBS_TZ:DF_AFYA(1.0),TZ,hamsini\n")
    )


CASES: dict[str, Callable[[Path], None]] = {
    f.__name__.lstrip("_"): f
    for f in (
        _structure_not_xml, _structure_cut_off, _structure_empty, _store_index_broken,
        _store_artefact_missing, _store_folder_given, _download_scheme, _unknown_format,
        _not_a_reference, _bad_agency, _csv_option, _detail, _opensdg_two_code_maps,
        _published_error_message, _published_cut_json, _published_not_a_number,
    )
}  # fmt: skip


def _raised(case: str, tmp: Path) -> CgdBridgeError:
    with pytest.raises(CgdBridgeError) as info:
        CASES[case](tmp)
    return info.value


def _data(exc: CgdBridgeError) -> set[str]:
    """What the error quotes as it is: the file, the values it was given, a library's reason."""
    texts = {exc.file or "", exc.field or ""}
    for value in exc.params.values():
        if isinstance(value, str):
            texts.add(value)
        elif isinstance(value, dict) and "params" in value:
            texts.update(v for v in value["params"].values() if isinstance(v, str))
    return {t for t in texts if t}


@pytest.fixture(scope="module")
def finders() -> dict[str, EnglishFinder]:
    return {lang: EnglishFinder(lang) for lang in ("sw", "ne", "bn")}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("lang", ["sw", "ne", "bn"])
def test_the_error_reads_in_the_language(case: str, lang: str, tmp_path: Path, finders) -> None:
    exc = _raised(case, tmp_path)
    english = exc.message_in(ENGLISH)
    shown = exc.message_in(translator(lang))
    assert shown != english
    finder = EnglishFinder(lang, data=_data(exc)) if _data(exc) else finders[lang]
    assert finder.english_in(shown) == [], f"{case} in {lang}: {shown}"
    for value in _data(exc):  # the data stays as it was given (a sentence's first letter capital)
        assert value in shown or value[:1].upper() + value[1:] in shown, f"{case} in {lang}: {value}"


def test_the_english_is_unchanged_by_translation(tmp_path: Path) -> None:
    """The English line is what it was: problem, then fix, the file first."""
    exc = _raised("structure_not_xml", tmp_path)
    assert exc.message == (
        f"{tmp_path / 'maeneo.csv'}: the file is not XML. Give an SDMX-ML 2.1 or 3.0 structure message "
        "(for example a DSD or codelist downloaded from a registry's /structure/ or /codelist/ query)."
    )
    sw = translator("sw")
    assert exc.message_in(sw).startswith(f"{tmp_path / 'maeneo.csv'}: {sw('the file is not XML')}.")
