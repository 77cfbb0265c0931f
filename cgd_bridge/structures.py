"""SDMX structures (codelists, concept schemes, DSDs, dataflows, constraints) via sdmx1.

Three things live here:

- :func:`read_structures` reads one SDMX-ML 2.1 or 3.0 structure file and turns every way it
  can fail into a :class:`~cgd_bridge.errors.StructureError` that names the file and the fix.
- :class:`StructureStore` is the local store that ``cgd-bridge structures import`` fills: a
  folder of the imported files plus ``index.json`` listing every maintainable artefact in them.
  Files and index are written through temporary files and ``os.replace``, so a failed import
  leaves the store as it was.
- :class:`Structures` puts the bundled ``codelists/`` folder and a store together and answers
  lookups: the sdmx1 object of an artefact, the set of codes of a codelist, their names, and a
  vectorised "is this a valid code" mask for Arrow arrays.

sdmx1 is imported only to parse a file (:func:`sdmx1`, which imports ``sdmx.reader.xml.v30``
first: reading an SDMX-ML 2.1 structure-specific message with its own namespace before that
module is imported breaks every later SDMX-ML 3.0 read in the process, docs/architecture.md).
Each parsed file is also compiled into plain values (codes, names, parents, the DSD's
:class:`~cgd_bridge.sdmx.contract.Contract` and components, dataflows, content constraints,
concept names) and kept in a cache keyed by the file's SHA-256 and the code's version
(:func:`compiled_file`, :func:`default_cache_dir`): the lookups the pipeline makes are answered
from it, so a validate or convert with a warm cache neither parses a structure file nor imports
sdmx1. The sdmx1 objects (``get``, ``dsd``, ``dataflow``...) are parsed when first asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from cgd_bridge.atomic import write_bytes_atomic
from cgd_bridge.errors import CgdBridgeError, StructureError
from cgd_bridge.i18n import N_, num
from cgd_bridge.sdmx.contract import Component, Contract
from cgd_bridge.sdmx.refs import parse_ref

if TYPE_CHECKING:
    import pyarrow as pa
    from sdmx.message import StructureMessage

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
INDEX_FORMAT = "cgd-bridge-structures/1"
URL_TIMEOUT = 30
MAX_DOWNLOAD = 512 * 1024 * 1024
BUNDLED = "bundled"

#: SDMX REST resource names for the sdmx1 classes (2.1 and 3.0 model), used as "kind".
KINDS: dict[str, str] = {
    "Codelist": "codelist",
    "GeoCodelist": "codelist",
    "GeographicCodelist": "codelist",
    "GeoGridCodelist": "codelist",
    "ValueList": "valuelist",
    "HierarchicalCodelist": "hierarchicalcodelist",
    "Hierarchy": "hierarchy",
    "ConceptScheme": "conceptscheme",
    "CategoryScheme": "categoryscheme",
    "Categorisation": "categorisation",
    "DataStructureDefinition": "datastructure",
    "DataflowDefinition": "dataflow",
    "Dataflow": "dataflow",
    "MetadataStructureDefinition": "metadatastructure",
    "MetadataflowDefinition": "metadataflow",
    "Metadataflow": "metadataflow",
    "ContentConstraint": "contentconstraint",
    "DataConstraint": "dataconstraint",
    "MetadataConstraint": "metadataconstraint",
    "AgencyScheme": "agencyscheme",
    "DataProviderScheme": "dataproviderscheme",
    "DataConsumerScheme": "dataconsumerscheme",
    "MetadataProviderScheme": "metadataproviderscheme",
    "OrganisationUnitScheme": "organisationunitscheme",
    "ProvisionAgreement": "provisionagreement",
    "StructureSet": "structureset",
    "CustomTypeScheme": "customtypescheme",
    "NamePersonalisationScheme": "namepersonalisationscheme",
    "RulesetScheme": "rulesetscheme",
    "TransformationScheme": "transformationscheme",
    "UserDefinedOperatorScheme": "userdefinedoperatorscheme",
    "VTLMappingScheme": "vtlmappingscheme",
}

_FIX_FORMAT = N_(
    "Give an SDMX-ML 2.1 or 3.0 structure message (for example a DSD or codelist downloaded "
    "from a registry's /structure/ or /codelist/ query)."
)
_FIX_VERSION = N_(
    "Give an SDMX-ML 2.1 or 3.0 structure message (for example a DSD or codelist downloaded "
    "from a registry's /structure/ or /codelist/ query). SDMX-ML 3.1 is not supported yet: ask "
    "for 3.0 or 2.1."
)
_FIX_CUT = N_(
    "The file may be cut off: download or export it again. Give an SDMX-ML 2.1 or 3.0 structure "
    "message (for example a DSD or codelist downloaded from a registry's /structure/ or /codelist/ "
    "query)."
)
_FIX_PATH = N_("Check the path and the file name.")
_FIX_READ = N_("Check that you may read the file, or copy it to a folder you can read.")


# -- reading -----------------------------------------------------------------------------------


def sdmx1() -> ModuleType:
    """sdmx1, imported on first use (it imports pandas and requests: about 0.3 s of CPU that a
    validate with a warm structure cache never pays), with ``sdmx.reader.xml.v30`` imported
    before any read: reading an SDMX-ML 2.1 structure-specific message with its own namespace
    before that module is imported breaks every later SDMX-ML 3.0 read in the process (sdmx1
    process-state bug). Every reader of SDMX with sdmx1 gets it from here."""
    import sdmx
    import sdmx.reader.xml.v30

    return sdmx


def read_structures(
    path: str | Path, *, name: str | None = None, data: bytes | None = None
) -> StructureMessage:
    """Read an SDMX-ML 2.1 or 3.0 structure message with sdmx1.

    Args:
        path: the file.
        name: how to name the file in errors (e.g. the URL it came from); default ``path``.
        data: the file's bytes when the caller has read them already (then read from these).

    Raises:
        StructureError: the file is missing, empty, not XML, not SDMX-ML 2.1/3.0, a data or
            metadata message rather than structures, or has parts sdmx1 cannot read.
    """
    path = Path(path)
    shown = name or str(path)
    _check_head(path, data, shown)
    sdmx = sdmx1()
    from lxml import etree
    from sdmx.message import DataMessage, StructureMessage

    dump = io.StringIO()  # sdmx1 prints a debug dump to stdout when a parse fails
    try:
        with contextlib.redirect_stdout(dump), path.open("rb") if data is None else io.BytesIO(data) as fh:
            message = sdmx.read_sdmx(fh, format="XML")
    except etree.XMLSyntaxError as exc:
        raise StructureError(
            N_("the file is not well-formed XML ({reason})"),
            fix=_FIX_FORMAT,
            file=shown,
            params={"reason": exc.msg},
        ) from exc
    except NotImplementedError as exc:
        raise StructureError(
            N_("the file has parts cgd-bridge cannot read ({part})"),
            fix=N_(
                "SDMX 3.0 StructureMaps and RepresentationMaps are not supported here: export the "
                "codelists, DSDs and dataflows without them, or as SDMX-ML 2.1."
            ),
            file=shown,
            params={"part": _describe_unsupported(exc)},
        ) from exc
    except AssertionError as exc:
        raise StructureError(
            N_("the file is not an SDMX-ML 2.1 or 3.0 message (its SDMX version cannot be told)"),
            fix=_FIX_VERSION,
            file=shown,
        ) from exc
    except Exception as exc:  # sdmx1 raises many types (KeyError, ValueError, XMLParseError...)
        if isinstance(exc.__cause__, etree.XMLSyntaxError):  # sdmx1 wraps lxml's error
            raise StructureError(
                N_("the file is not well-formed XML ({reason})"),
                fix=_FIX_CUT,
                file=shown,
                params={"reason": exc.__cause__.msg},
            ) from exc
        raise StructureError(
            N_("the SDMX structure file cannot be read ({reason})"),
            fix=N_(
                "Check that the file is a complete SDMX-ML 2.1 or 3.0 structure message: download "
                "or export it again."
            ),
            file=shown,
            params={"reason": f"{type(exc).__name__}: {exc}"},
        ) from exc
    finally:
        if dump.getvalue():
            log.debug("sdmx1 output while reading %s:\n%s", shown, dump.getvalue())
    if not isinstance(message, StructureMessage):
        raise StructureError(
            N_("the file is a data message, not a structure message")
            if isinstance(message, DataMessage)
            else N_("the file is an SDMX {kind}, not a structure message"),
            fix=N_("Import the structures (DSD, codelists, dataflow) the data refers to, not the data."),
            file=shown,
            params={"kind": type(message).__name__},
        )
    return message


def _read(path: Path, shown: str, limit: int = -1) -> bytes:
    """The file's bytes (the first ``limit`` of them), or a StructureError naming the file."""
    try:
        with path.open("rb") as fh:
            return fh.read(limit)
    except FileNotFoundError:
        raise StructureError(N_("the file does not exist"), fix=_FIX_PATH, file=shown) from None
    except OSError as exc:
        raise StructureError(
            N_("the file cannot be read ({reason})"),
            fix=_FIX_READ,
            file=shown,
            params={"reason": exc.strerror or type(exc).__name__},
        ) from exc


def _check_head(path: Path, data: bytes | None, shown: str) -> None:
    """Refuse a missing, unreadable, empty or non-XML file before sdmx1 sees it."""
    head = _read(path, shown, 4096) if data is None else data[:4096]
    if not head.strip():
        raise StructureError(N_("the file is empty"), fix=_FIX_FORMAT, file=shown)
    if not head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
        raise StructureError(N_("the file is not XML"), fix=_FIX_FORMAT, file=shown)


def _describe_unsupported(exc: NotImplementedError) -> str:
    text = " ".join(str(a) for a in exc.args)
    tag = re.search(r"\}(\w+)", text)
    return f"<{tag.group(1)}>" if tag else (text or "NotImplementedError")


def iter_artefacts(message: StructureMessage) -> Iterator[Any]:
    """Every maintainable artefact in ``message`` (codelists, DSDs, dataflows, constraints...).

    Stubs are left out: sdmx1 adds an empty object for each artefact a file only refers to
    (``isExternalReference="true"``, or a parent reference without agency), and those hold
    nothing to look up.
    """
    for field in dataclasses.fields(message):
        collection = getattr(message, field.name, None)
        if isinstance(collection, dict):
            for obj in collection.values():
                if obj.is_external_reference is not True and getattr(obj, "maintainer", None) is not None:
                    yield obj


def kind_of(obj: Any) -> str:
    """The SDMX REST resource name of an sdmx1 object: ``codelist``, ``datastructure``..."""
    name = type(obj).__name__
    return KINDS.get(name, name.lower())


def kind_of_urn(text: str) -> str | None:
    """The kind named by a full URN (``urn:sdmx:...codelist.Codelist=...`` -> ``codelist``)."""
    if text.startswith("urn:") and "=" in text:
        return KINDS.get(text.split("=", 1)[0].rsplit(".", 1)[-1])
    return None


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions numerically: ``1.10`` after ``1.9``; ``1.0.0-draft`` before ``1.0.0``."""
    parts: list[tuple[int, int | str]] = []
    for part in re.split(r"[.\-+]", version or ""):
        parts.append((1, int(part)) if part.isdigit() else (0, part))
    return tuple(parts)


def text_of(value: Any, lang: str = "en") -> str:
    """The ``lang`` text of an sdmx1 InternationalString, else any text, else ``""``."""
    if value is None:
        return ""
    localizations = getattr(value, "localizations", None)
    if localizations is None:
        return str(value)
    return localizations.get(lang) or next(iter(localizations.values()), "")


# -- the index entries ------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtefactInfo:
    """One maintainable artefact known to the store or the bundled folder.

    Attributes:
        kind: SDMX REST resource name, e.g. ``codelist``, ``datastructure``, ``dataflow``.
        agency: the maintenance agency, e.g. ``IAEG-SDGs``.
        id: e.g. ``CL_SEX``.
        version: e.g. ``1.5``.
        name: the English (or first) name, e.g. ``Sex``.
        source: where it came from: the path or URL given to import, or ``bundled``.
        file: the file holding it (relative to the store, or the bundled file's name).
        sha256: of that file.
        imported_at: ISO 8601 UTC time of the import (empty for bundled files).
        replaced: True when this import replaced the same artefact version already stored.
    """

    kind: str
    agency: str
    id: str
    version: str
    name: str
    source: str
    file: str
    sha256: str
    imported_at: str = ""
    replaced: bool = False

    @property
    def ref(self) -> str:
        """``AGENCY:ID(VERSION)``."""
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.agency, self.id, self.version)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def matches(self, kind: str | None, id: str, agency: str | None, version: str | None) -> bool:
        return (
            (kind is None or self.kind == kind)
            and self.id == id
            and (agency is None or self.agency == agency)
            and (version is None or self.version == version)
        )


def _infos(
    message: StructureMessage, *, source: str, file: str, sha256: str, imported_at: str
) -> list[ArtefactInfo]:
    infos = {}
    for obj in iter_artefacts(message):
        maintainer = getattr(obj, "maintainer", None)
        info = ArtefactInfo(
            kind=kind_of(obj),
            agency=str(getattr(maintainer, "id", "") or ""),
            id=str(obj.id),
            version=str(getattr(obj, "version", "") or ""),
            name=text_of(getattr(obj, "name", None)),
            source=source,
            file=file,
            sha256=sha256,
            imported_at=imported_at,
        )
        infos[info.key] = info
    return list(infos.values())


def _pick(infos: Iterable[ArtefactInfo], kind: str | None, id: str, agency: str | None,
          version: str | None) -> ArtefactInfo | None:  # fmt: skip
    """The matching artefact; the latest version when none is given; error when ambiguous."""
    found = [i for i in infos if i.matches(kind, id, agency, version)]
    if not found:
        return None
    kinds = sorted({i.kind for i in found})
    agencies = sorted({i.agency for i in found})
    if len(kinds) > 1 or len(agencies) > 1:
        refs = ", ".join(sorted({f"{i.kind} {i.agency}:{i.id}" for i in found}))
        raise StructureError(
            N_("'{id}' is ambiguous: there are {refs}"),
            fix=N_("Name the kind and agency, e.g. 'codelist {agency}:{id}'."),
            params={"id": id, "refs": refs, "agency": found[0].agency},
        )
    return max(found, key=lambda i: version_key(i.version))


# -- the store ---------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data, durable=True)


def _is_url(source: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", source) is not None


def fetch(url: str, *, timeout: float = URL_TIMEOUT) -> bytes:
    """Download ``url`` (http, https or file) or raise a StructureError that says why."""
    import urllib.error
    import urllib.request  # with http.client and ssl: only to download

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise StructureError(
            N_("cannot download '{scheme}://' addresses"),
            fix=N_("Use an http(s):// URL or a local file."),
            file=url,
            params={"scheme": scheme},
        )
    request = urllib.request.Request(url, headers={"Accept": "application/xml, text/xml, */*;q=0.5"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            data = response.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as exc:
        raise StructureError(
            N_("the server answered HTTP {code} {reason}"),
            fix=N_("Check the URL in a browser; registries answer 404 when the artefact does not exist."),
            file=url,
            params={"code": exc.code, "reason": exc.reason},
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StructureError(
            N_("cannot download the file ({reason})"),
            fix=N_("Check the URL and the network connection, or download the file and import it from disk."),
            file=url,
            params={"reason": str(reason)},
        ) from exc
    if len(data) > MAX_DOWNLOAD:
        raise StructureError(
            N_("the download is larger than {size} MiB"),
            fix=N_("Download the file and split it, or ask the registry for fewer artefacts."),
            file=url,
            params={"size": num(MAX_DOWNLOAD // 2**20)},
        )
    return data


class StructureStore:
    """A folder of imported SDMX structure files plus ``index.json`` listing their artefacts.

    Layout: ``{folder}/files/{sha256[:16]}-{name}.xml`` and ``{folder}/index.json``. The index
    holds, per artefact: kind, agency, id, version, name, source, file, sha256, imported_at.
    """

    def __init__(self, folder: str | Path, *, cache_dir: Path | str | None = "default") -> None:
        self.folder = Path(folder)
        #: where compiled files are kept; "default" until a Structures gives its own
        self.cache_dir: Path | str | None = cache_dir
        self._cache: dict[str, StructureMessage] = {}
        self._compiled: dict[str, CompiledFile] = {}

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_NAME

    # reading

    def _load_index(self) -> list[ArtefactInfo]:
        if not self.index_path.is_file():
            return []
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
            return [ArtefactInfo(**{**a, "replaced": False}) for a in raw["artefacts"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StructureError(
                N_("the structure store's index is broken ({reason})"),
                fix=N_(
                    "Delete the folder {folder} and import the structure files again "
                    "(cgd-bridge structures import FILE|URL)."
                ),
                file=str(self.index_path),
                params={"reason": str(exc), "folder": str(self.folder)},
            ) from exc

    def artefacts(self, kind: str | None = None) -> list[ArtefactInfo]:
        """The stored artefacts (of one ``kind`` if given), sorted by kind, agency, id, version."""
        infos = [i for i in self._load_index() if kind is None or i.kind == kind]
        return sorted(infos, key=lambda i: (i.kind, i.agency, i.id, version_key(i.version)))

    def find(self, kind: str | None, id: str, agency: str | None = None,
             version: str | None = None) -> ArtefactInfo | None:  # fmt: skip
        """The index entry of an artefact (latest version when none is given), or None."""
        return _pick(self._load_index(), kind, id, agency, version)

    def message(self, info: ArtefactInfo) -> StructureMessage:
        """The parsed file holding ``info`` (cached per file)."""
        if info.sha256 not in self._cache:
            compiled = self._compiled.get(info.sha256)
            if compiled is not None and compiled.message is not None:
                self._cache[info.sha256] = compiled.message
            else:
                self._cache[info.sha256] = read_structures(self.folder / info.file, name=info.source)
        return self._cache[info.sha256]

    def compiled(self, info: ArtefactInfo) -> CompiledFile:
        """The compiled values of the file holding ``info`` (cached per file; the file's bytes
        are hashed again, so a file changed by hand is compiled anew, never read stale)."""
        if info.sha256 not in self._compiled:
            cache = default_cache_dir() if self.cache_dir == "default" else self.cache_dir
            self._compiled[info.sha256] = compiled_file(
                self.folder / info.file, name=info.source, cache_dir=Path(cache) if cache else None
            )
        return self._compiled[info.sha256]

    def get(self, kind: str | None, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 object of an artefact (latest version when none is given).

        Raises:
            StructureError: not in the store, or ``id`` is ambiguous.
        """
        info = self.find(kind, id, agency, version)
        if info is None:
            raise _not_found(kind, id, agency, version)
        return find_in_message(self.message(info), info)

    # writing

    def import_file(self, source: str | Path) -> list[ArtefactInfo]:
        """Import one SDMX-ML structure file or URL; return what it added or replaced.

        The file is read before anything is stored; then the copy and the index are each
        written through a temporary file and ``os.replace``. Re-importing an artefact version
        that is already stored replaces it (``replaced=True`` in the result).
        """
        text = str(source)
        if _is_url(text):
            data = fetch(text)
        else:
            path = Path(text).expanduser()
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise StructureError(N_("the file does not exist"), fix=_FIX_PATH, file=text) from None
            except IsADirectoryError:
                raise StructureError(
                    N_("this is a folder, not a file"), fix=N_("Name the XML file inside it."), file=text
                ) from None
            except OSError as exc:
                raise StructureError(
                    N_("the file cannot be read ({reason})"),
                    fix=_FIX_READ,
                    file=text,
                    params={"reason": exc.strerror or type(exc).__name__},
                ) from exc
            text = str(path.resolve())
        return self._import_bytes(data, source=text)

    def _import_bytes(self, data: bytes, *, source: str) -> list[ArtefactInfo]:
        files = self.folder / "files"
        try:
            files.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StructureError(
                N_("cannot create the structure store ({reason})"),
                fix=N_("Set CGD_BRIDGE_DATA_DIR (or --data-dir) to a folder you can write to."),
                file=str(self.folder),
                params={"reason": exc.strerror or type(exc).__name__},
            ) from exc
        sha = hashlib.sha256(data).hexdigest()
        stem = (
            re.sub(r"[^A-Za-z0-9_.\-]+", "_", Path(urllib.parse.urlsplit(source).path).stem)[:60]
            or "structure"
        )
        rel = f"files/{sha[:16]}-{stem}.xml"
        final = self.folder / rel
        fd, tmp = tempfile.mkstemp(dir=files, prefix=".import.", suffix=".xml.tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            message = read_structures(tmp, name=source)
            compiled = CompiledFile(sha, compile_message(message), message)
            now = datetime.now(UTC).isoformat(timespec="seconds")
            new = _infos(message, source=source, file=rel, sha256=sha, imported_at=now)
            if not new:
                raise StructureError(
                    N_("the structure message holds no artefacts"),
                    fix=N_("Ask the registry for the structures themselves (e.g. with references=children)."),
                    file=source,
                )
            old = self._load_index()
            old_keys = {i.key for i in old}
            new_keys = {i.key for i in new}
            kept = [i for i in old if i.key not in new_keys]
            result = [dataclasses.replace(i, replaced=i.key in old_keys) for i in new]
            existed = final.exists()
            os.replace(tmp, final)
            try:
                self._write_index([*kept, *new])
            except BaseException:
                if not existed:
                    with contextlib.suppress(OSError):
                        final.unlink()
                raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._remove_unused_files({i.file for i in kept} | {rel})
        self._cache.pop(sha, None)
        self._compiled[sha] = compiled
        cache = default_cache_dir() if self.cache_dir == "default" else self.cache_dir
        if cache:  # the next validate that reads it finds it compiled
            _write_cache(_cache_path(Path(cache), sha), sha, list(compiled.entries.values()))
        return sorted(result, key=lambda i: (i.kind, i.agency, i.id))

    def remove(
        self, kind: str | None, id: str, agency: str | None = None, version: str | None = None
    ) -> ArtefactInfo:
        """Remove one artefact version (the latest when none is given) from the index."""
        info = self.find(kind, id, agency, version)
        if info is None:
            raise _not_found(kind, id, agency, version)
        kept = [i for i in self._load_index() if i.key != info.key]
        self._write_index(kept)
        self._remove_unused_files({i.file for i in kept})
        return info

    def _write_index(self, infos: list[ArtefactInfo]) -> None:
        rows = [{k: v for k, v in i.to_dict().items() if k != "replaced"} for i in infos]
        rows.sort(key=lambda r: (r["kind"], r["agency"], r["id"], version_key(r["version"])))
        text = json.dumps({"format": INDEX_FORMAT, "artefacts": rows}, indent=1, ensure_ascii=False)
        _write_atomic(self.index_path, (text + "\n").encode("utf-8"))

    def _remove_unused_files(self, used: set[str]) -> None:
        for path in (self.folder / "files").glob("*.xml"):
            if f"files/{path.name}" not in used:
                with contextlib.suppress(OSError):
                    path.unlink()


def find_in_message(message: StructureMessage, info: ArtefactInfo) -> Any:
    """The sdmx1 object described by ``info`` in ``message``."""
    for obj in iter_artefacts(message):
        if (
            kind_of(obj) == info.kind
            and str(obj.id) == info.id
            and str(getattr(getattr(obj, "maintainer", None), "id", "") or "") == info.agency
            and str(getattr(obj, "version", "") or "") == info.version
        ):
            return obj
    raise _gone(info)


def _gone(info: ArtefactInfo) -> StructureError:
    return StructureError(
        N_("{kind} {ref} is listed, but its file no longer holds it"),
        fix=N_("Import the structure file again (cgd-bridge structures import FILE|URL)."),
        file=info.file,
        params={"kind": info.kind, "ref": info.ref},
    )


def _not_found(kind: str | None, id: str, agency: str | None, version: str | None) -> StructureError:
    ref = f"{agency + ':' if agency else ''}{id}{f'({version})' if version else ''}"
    return StructureError(
        N_("there is no {kind} {ref}") if kind else N_("there is no artefact {ref}"),
        fix=N_(
            "Run 'cgd-bridge structures list' to see what is there, and "
            "'cgd-bridge structures import FILE|URL' to add it."
        ),
        params={"kind": kind or "", "ref": ref},
    )


# -- the compiled cache: the plain values the pipeline reads, without sdmx1 --------------------

#: the layout of a compiled file; a change to the compiler that changes what it writes changes
#: the code version (:func:`code_version`) anyway, this names the container
COMPILED_FORMAT = "cgd-bridge-compiled-structures/1"


def default_cache_dir() -> Path | None:
    """Where compiled structure files are kept (:func:`cgd_bridge.places.default_cache_dir`:
    ``$CGD_BRIDGE_CACHE_DIR/structures``, else ``~/.cache/cgd-bridge/structures``)."""
    from cgd_bridge.places import default_cache_dir as _cache

    return _cache("structures")


_CODE_VERSION: str | None = None


def code_version() -> str:
    """A digest of the code that compiles (this module and the contract's, and the installed
    sdmx1 whose reading of a file they compile, found without importing it): a compiled file
    written by other code is never read, whatever the package version says."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        from cgd_bridge.sdmx import contract
        from cgd_bridge.verdicts import package_fingerprint

        digest = hashlib.sha256(COMPILED_FORMAT.encode())
        for module_file in (__file__, contract.__file__):
            digest.update(Path(module_file).read_bytes())
        digest.update((package_fingerprint("sdmx") or "sdmx1 not found").encode("utf-8", "surrogatepass"))
        _CODE_VERSION = digest.hexdigest()[:24]
    return _CODE_VERSION


def _texts(value: Any) -> dict[str, str]:
    """An sdmx1 InternationalString as ``{lang: text}`` (a plain value as ``{"": text}``)."""
    if value is None:
        return {}
    localizations = getattr(value, "localizations", None)
    if localizations is None:
        return {"": str(value)}
    return {str(k): str(v) for k, v in localizations.items()}


def text_in(texts: dict[str, str], lang: str = "en") -> str:
    """The ``lang`` text of compiled texts, else the first, else ``""`` (as :func:`text_of`)."""
    return texts.get(lang) or next(iter(texts.values()), "")


def _maintained_ref(obj: Any) -> list[str | None] | None:
    """``[agency, id, version]`` of a reference to a maintainable sdmx1 object."""
    if obj is None or getattr(obj, "id", None) is None:
        return None
    maintainer = getattr(obj, "maintainer", None)
    version = getattr(obj, "version", None)
    return [
        str(maintainer.id) if maintainer is not None else None,
        str(obj.id),
        str(version) if version else None,
    ]


def _compile_component(comp: Any, role: str) -> dict[str, Any]:
    from cgd_bridge.sdmx.contract import attachment, codelist_ref

    concept = getattr(comp, "concept_identity", None)
    scheme = getattr(concept, "parent", None) if concept is not None else None
    out: dict[str, Any] = {
        "id": str(comp.id),
        "role": role,
        "codelist": codelist_ref(comp),
        "concept": _texts(getattr(concept, "name", None)) if concept is not None else None,
        "scheme": _maintained_ref(scheme) if scheme is not None and hasattr(scheme, "maintainer") else None,
        "concept_id": str(concept.id) if concept is not None else None,
    }
    if role == "attribute":
        out["mandatory"] = getattr(getattr(comp, "usage_status", None), "name", "") == "mandatory"
        out["level"] = attachment(comp)
    return out


def _compile_artefact(obj: Any) -> dict[str, Any]:
    """The plain values of one sdmx1 artefact that the pipeline reads (by kind)."""
    kind = kind_of(obj)
    if kind in ("codelist", "valuelist"):
        codes: list[str] = []
        names: dict[str, dict[str, str]] = {}
        parents: dict[str, str] = {}
        for code in obj.items.values():
            cid = str(code.id)
            codes.append(cid)
            names[cid] = _texts(code.name)
            parent = getattr(code, "parent", None)
            if parent is not None and getattr(parent, "id", None) is not None and parent is not obj:
                parents[cid] = str(parent.id)
        return {"codes": codes, "names": names, "parents": parents}
    if kind == "conceptscheme":
        return {"names": {str(c.id): _texts(c.name) for c in obj.items.values()}}
    if kind == "dataflow":
        return {"structure": _maintained_ref(getattr(obj, "structure", None)), "name": _texts(obj.name)}
    if kind == "datastructure":
        components = []
        for d in obj.dimensions.components:
            time = str(d.id) == "TIME_PERIOD" or type(d).__name__ == "TimeDimension"
            components.append(_compile_component(d, "time" if time else "dimension"))
        components += [_compile_component(m, "measure") for m in obj.measures.components]
        components += [_compile_component(a, "attribute") for a in obj.attributes.components]
        time_id = next(
            (str(d.id) for d in obj.dimensions.components if type(d).__name__ == "TimeDimension"), None
        )
        return {"components": components, "time": time_id}
    if kind == "contentconstraint":
        role = getattr(getattr(obj, "role", None), "role", None)
        regions = []
        for region in getattr(obj, "data_content_region", None) or []:
            included = region.included
            if isinstance(included, str):  # sdmx1 keeps the XML attribute's text
                included = included.strip().lower() not in ("false", "0")
            regions.append(
                {
                    "included": bool(included),
                    "members": [
                        [str(comp.id), [str(v.value) for v in member.values]]
                        for comp, member in region.member.items()
                    ],
                }
            )
        return {
            "actual": str(role).lower().endswith("actual"),
            "targets": [str(t.id) for t in (getattr(obj, "content", None) or []) if getattr(t, "id", None)],
            "regions": regions,
        }
    return {}


def compile_message(message: StructureMessage) -> list[dict[str, Any]]:
    """Every artefact of a parsed file as plain values: kind, agency, id, version, name, data."""
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for obj in iter_artefacts(message):
        maintainer = getattr(obj, "maintainer", None)
        key = (
            kind_of(obj),
            str(getattr(maintainer, "id", "") or ""),
            str(obj.id),
            str(getattr(obj, "version", "") or ""),
        )
        out[key] = {
            "kind": key[0],
            "agency": key[1],
            "id": key[2],
            "version": key[3],
            "name": text_of(getattr(obj, "name", None)),
            "data": _compile_artefact(obj),
        }
    return list(out.values())


_ENTRY_KEYS = {"kind": str, "agency": str, "id": str, "version": str, "name": str, "data": dict}


def _is_strs(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _entry_ok(kind: str, data: dict[str, Any]) -> bool:
    """Whether the data of a compiled artefact has the shape :func:`_compile_artefact` gives."""
    if kind in ("codelist", "valuelist"):
        return (
            _is_strs(data.get("codes"))
            and isinstance(data.get("names"), dict)
            and isinstance(data.get("parents"), dict)
        )
    if kind == "datastructure":
        comps = data.get("components")
        return isinstance(comps, list) and all(
            isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("role"), str)
            for c in comps
        )
    if kind == "dataflow":
        ref = data.get("structure")
        return ref is None or (isinstance(ref, list) and len(ref) == 3 and isinstance(ref[1], str))
    if kind == "contentconstraint":
        return isinstance(data.get("regions"), list) and _is_strs(data.get("targets"))
    if kind == "conceptscheme":
        return isinstance(data.get("names"), dict)
    return True


def _check_entries(entries: Any) -> list[dict[str, Any]]:
    """The compiled entries when they have the shape :func:`compile_message` writes, else
    ValueError: a cache file is read, never trusted."""
    if not isinstance(entries, list):
        raise ValueError("the artefacts are not a list")
    for entry in entries:
        if not isinstance(entry, dict) or any(
            not isinstance(entry.get(k), t) for k, t in _ENTRY_KEYS.items()
        ):
            raise ValueError("an artefact entry is malformed")
        if not _entry_ok(entry["kind"], entry["data"]):
            raise ValueError(f"the {entry['kind']} {entry['id']} is malformed")
    return entries


class CompiledFile:
    """The plain values of one structure file, by artefact key, and where they came from.

    Attributes:
        sha256: of the file's bytes.
        entries: (kind, agency, id, version) -> ``{"kind", "agency", "id", "version", "name",
            "data"}`` (``data`` by kind: a codelist's ``codes``, ``names``, ``parents``; a
            DSD's ``components``; a dataflow's ``structure`` and ``name``; a content
            constraint's ``actual``, ``targets``, ``regions``; a concept scheme's ``names``).
        message: the sdmx1 message when this process parsed the file, else None.
    """

    def __init__(
        self, sha256: str, entries: list[dict[str, Any]], message: StructureMessage | None = None
    ) -> None:
        self.sha256 = sha256
        self.entries = {(e["kind"], e["agency"], e["id"], e["version"]): e for e in entries}
        self.message = message

    def infos(self, *, source: str, file: str, imported_at: str = "") -> list[ArtefactInfo]:
        return [
            ArtefactInfo(
                e["kind"],
                e["agency"],
                e["id"],
                e["version"],
                e["name"],
                source,
                file,
                self.sha256,
                imported_at,
            )
            for e in self.entries.values()
        ]

    def data(self, info: ArtefactInfo) -> dict[str, Any]:
        entry = self.entries.get(info.key)
        if entry is None:
            raise _gone(info)
        data: dict[str, Any] = entry["data"]
        return data


def _cache_path(cache_dir: Path, sha256: str) -> Path:
    return cache_dir / f"{sha256}-{code_version()}.json"


def _read_cache(path: Path, sha256: str) -> list[dict[str, Any]] | None:
    """The entries of a cache file when it is whole, for this file and this code; else None."""
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    try:
        head, _, body = blob.partition(b"\n")
        header = json.loads(head)
        if (
            header.get("format") != COMPILED_FORMAT
            or header.get("code") != code_version()
            or header.get("sha256") != sha256
            or header.get("body") != hashlib.sha256(body).hexdigest()
        ):
            raise ValueError("written for another file or other code, or damaged")
        return _check_entries(json.loads(body))
    except (ValueError, TypeError, AttributeError) as exc:
        log.info("rebuilding the compiled structures %s: %s", path, exc)
        return None


def _write_cache(path: Path, sha256: str, entries: list[dict[str, Any]]) -> None:
    """Write a cache file atomically; a cache that cannot be written is only slower."""
    body = json.dumps(entries, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = {
        "format": COMPILED_FORMAT,
        "code": code_version(),
        "sha256": sha256,
        "body": hashlib.sha256(body).hexdigest(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, json.dumps(header).encode("utf-8") + b"\n" + body)
        _prune(path)
    except (OSError, CgdBridgeError) as exc:
        log.info("cannot keep the compiled structures in %s: %s", path, exc)


#: how long an entry of other code is kept: two installed versions (or two checkouts) may share
#: one cache, and removing each other's entries at once would have each recompile every time
STALE_SECONDS = 30 * 24 * 3600


def _prune(kept: Path) -> None:
    """Remove the entries of the same file written by other code over a month ago."""
    import time

    sha = kept.name.split("-", 1)[0]
    for old in kept.parent.glob(f"{sha}-*.json"):
        with contextlib.suppress(OSError):
            if old != kept and time.time() - old.stat().st_mtime > STALE_SECONDS:
                old.unlink()


def compiled_file(path: Path, *, name: str, cache_dir: Path | None) -> CompiledFile:
    """The compiled values of the structure file ``path``: from the cache when a whole one is
    there for these bytes and this code, else parsed with sdmx1 (and the cache written).

    Raises:
        StructureError: the file cannot be read or parsed (see :func:`read_structures`).
    """
    data = _read(path, name)
    sha = hashlib.sha256(data).hexdigest()
    where = _cache_path(cache_dir, sha) if cache_dir is not None else None
    if where is not None:
        entries = _read_cache(where, sha)
        if entries is not None:
            return CompiledFile(sha, entries)
    message = read_structures(path, name=name, data=data)
    entries = compile_message(message)
    if where is not None:
        _write_cache(where, sha, entries)
    return CompiledFile(sha, entries, message)


# -- bundled files + store: the lookups the checks use ----------------------------------------


class Structures:
    """The bundled ``codelists/`` folder plus a :class:`StructureStore`, with fast lookups.

    A stored artefact wins over a bundled one with the same kind, agency, id and version. A
    broken bundled file is skipped and recorded in :attr:`problems` (the folder is data that
    may be edited by hand).

    The lookups the pipeline makes (:meth:`codes`, :meth:`names`, :meth:`parents`,
    :meth:`flow`, :meth:`structure`, :meth:`contract`, :meth:`constraints`) read the compiled
    values (:func:`compiled_file`); :meth:`get` and the methods named after kinds return sdmx1
    objects, parsing a file when one is first asked for.

    Args:
        store: the local store, if any.
        folders: folders of bundled structure files (``*.xml``); default: ``codelists/``.
        cache_dir: where compiled files are kept (default :func:`default_cache_dir`; None: no
            cache, every file is parsed once per process).
    """

    def __init__(
        self,
        store: StructureStore | None = None,
        folders: Iterable[Path] | None = None,
        *,
        cache_dir: Path | str | None = "default",
    ) -> None:
        self.store = store
        if folders is None:
            from cgd_bridge.resources import bundled

            folders = [bundled("codelists")]
        self.folders = [Path(f) for f in folders]
        self.cache_dir = (
            default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
        )
        if store is not None and store.cache_dir == "default":
            store.cache_dir = self.cache_dir
        self.problems: list[StructureError] = []
        self._bundled: dict[str, tuple[CompiledFile, list[ArtefactInfo]]] | None = None
        self._bundled_lock = threading.Lock()
        self._parse_lock = threading.Lock()
        self._codes: dict[tuple[str, str, str], frozenset[str]] = {}
        self._arrays: dict[tuple[str, str, str], pa.Array] = {}

    @classmethod
    def load(cls, store_dir: str | Path | None = None, *, bundled: bool = True) -> Structures:
        """The bundled codelists and, if ``store_dir`` is given, the store in that folder."""
        store = StructureStore(store_dir) if store_dir is not None else None
        return cls(store, folders=None if bundled else [])

    def _bundled_files(self) -> dict[str, tuple[CompiledFile, list[ArtefactInfo]]]:
        """The bundled files, compiled once: the first caller reads them under a lock and
        publishes the complete table; concurrent first callers wait for it (a half-filled table
        made a server's first requests answer "no dataflow")."""
        bundled = self._bundled
        if bundled is not None:
            return bundled
        with self._bundled_lock:
            if self._bundled is not None:
                return self._bundled
            table: dict[str, tuple[CompiledFile, list[ArtefactInfo]]] = {}
            for folder in self.folders:
                for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
                    shown = f"{folder.name}/{path.name}"
                    try:
                        compiled = compiled_file(path, name=shown, cache_dir=self.cache_dir)
                    except StructureError as exc:
                        self.problems.append(exc)
                        continue
                    infos = compiled.infos(source=BUNDLED, file=shown)
                    seen = {i.key for _, known in table.values() for i in known}
                    table[str(path)] = (compiled, [i for i in infos if i.key not in seen])
            self._bundled = table
            return table

    def artefacts(self, kind: str | None = None) -> list[ArtefactInfo]:
        """Stored and bundled artefacts (stored first when both have the same version)."""
        stored = self.store.artefacts(kind) if self.store else []
        seen = {i.key for i in stored}
        bundled = [
            i
            for _, infos in self._bundled_files().values()
            for i in infos
            if (kind is None or i.kind == kind) and i.key not in seen
        ]
        return sorted([*stored, *bundled], key=lambda i: (i.kind, i.agency, i.id, version_key(i.version)))

    def find(self, kind: str | None, id: str, agency: str | None = None,
             version: str | None = None) -> ArtefactInfo:  # fmt: skip
        """The index entry of an artefact, or a StructureError saying how to add it."""
        info = _pick(self.artefacts(kind), kind, id, agency, version)
        if info is None:
            raise _not_found(kind, id, agency, version)
        return info

    def get(self, kind: str | None, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 object (latest version when none is given); ``id`` may be ``AG:ID(VER)``."""
        ref_agency, ref_id, ref_version = parse_ref(id)
        info = self.find(kind, ref_id, agency or ref_agency, version or ref_version)
        return find_in_message(self._message(info), info)

    def _compiled(self, info: ArtefactInfo) -> CompiledFile:
        if info.source != BUNDLED and self.store is not None:
            return self.store.compiled(info)
        for compiled, infos in self._bundled_files().values():
            if info in infos:
                return compiled
        raise _not_found(info.kind, info.id, info.agency, info.version)

    def _message(self, info: ArtefactInfo) -> StructureMessage:
        if info.source != BUNDLED and self.store is not None:
            return self.store.message(info)
        for path, (compiled, infos) in self._bundled_files().items():
            if info in infos:
                with self._parse_lock:  # parsed once, also by concurrent first readers
                    if compiled.message is None:
                        compiled.message = read_structures(path, name=info.file)
                return compiled.message
        raise _not_found(info.kind, info.id, info.agency, info.version)

    def _data(self, kind: str, id: str, agency: str | None = None, version: str | None = None
              ) -> tuple[ArtefactInfo, dict[str, Any]]:  # fmt: skip
        ref_agency, ref_id, ref_version = parse_ref(id)
        info = self.find(kind, ref_id, agency or ref_agency, version or ref_version)
        return info, self._compiled(info).data(info)

    def codelist(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 Codelist (``id`` may be ``AGENCY:ID(VERSION)``)."""
        return self.get("codelist", id, agency, version)

    def dsd(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 DataStructureDefinition."""
        return self.get("datastructure", id, agency, version)

    def dataflow(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 Dataflow(Definition)."""
        return self.get("dataflow", id, agency, version)

    # -- plain values, from the compiled files (no sdmx1) ---------------------------------------

    def flow(self, id: str, agency: str | None = None, version: str | None = None) -> Flow:
        """A dataflow as plain values: its reference, names and DSD reference."""
        info, data = self._data("dataflow", id, agency, version)
        ref = data.get("structure")
        if ref is None:
            raise StructureError(
                N_("the dataflow {dataflow} names no data structure (DSD)"),
                fix=N_("Import the structure file again, with a dataflow that refers to its DSD."),
                file=info.file,
                params={"dataflow": info.ref},
            )
        return Flow(info.ref, info.id, dict(data.get("name") or {}), (ref[0], ref[1], ref[2]))

    def structure(self, id: str, agency: str | None = None, version: str | None = None) -> Dsd:
        """A DSD as plain values: its :class:`Contract` and every component."""
        info, data = self._data("datastructure", id, agency, version)
        comps = tuple(
            DsdComponent(
                id=c["id"],
                role=c["role"],
                codelist=c.get("codelist"),
                concept=dict(c.get("concept") or {}),
                concept_id=c.get("concept_id"),
                scheme=tuple(c["scheme"]) if c.get("scheme") else None,
            )
            for c in data["components"]
        )
        raw = {c["id"]: c for c in data["components"]}
        dims = tuple(Component(c.id, c.codelist, level="series") for c in comps if c.role == "dimension")
        attrs = tuple(
            Component(
                c.id,
                c.codelist,
                mandatory=bool(raw[c.id].get("mandatory")),
                level=str(raw[c.id].get("level") or "dataset"),
            )
            for c in comps
            if c.role == "attribute"
        )
        measure = next((c.id for c in comps if c.role == "measure"), "OBS_VALUE")
        contract = Contract(info.ref, dims, attrs, data.get("time") or "TIME_PERIOD", measure)
        return Dsd(info.ref, contract, comps)

    def flow_structure(self, dataflow: str) -> tuple[Flow, Dsd]:
        """The dataflow ``AGENCY:ID(VERSION)`` and its DSD, as plain values."""
        agency, ident, version = parse_ref(dataflow)
        flow = self.flow(ident, agency, version)
        return flow, self.structure(flow.structure[1], flow.structure[0], flow.structure[2])

    def contract(self, dataflow: str) -> Contract:
        """The :class:`Contract` of the DSD of ``dataflow`` (``AGENCY:ID(VERSION)``)."""
        return self.flow_structure(dataflow)[1].contract

    def constraints(self, flow_id: str) -> list[Region]:
        """The included cube regions of every allowed content constraint on the dataflow
        ``flow_id`` (a constraint names its dataflow by id)."""
        regions: list[Region] = []
        for info in self.artefacts("contentconstraint"):
            data = self._compiled(info).data(info)
            if data.get("actual") or flow_id not in data.get("targets", []):
                continue
            regions.extend(
                Region(tuple((str(c), tuple(str(v) for v in values)) for c, values in r["members"]))
                for r in data["regions"]
                if r.get("included")
            )
        return regions

    def concept_names(self, scheme: tuple[str | None, str, str | None]) -> dict[str, dict[str, str]]:
        """Concept id -> its names, of a concept scheme ``(agency, id, version)``."""
        _, data = self._data("conceptscheme", scheme[1], scheme[0], scheme[2])
        return dict(data.get("names") or {})

    def _codelist_key(self, codelist_id: str) -> tuple[tuple[str, str, str], ArtefactInfo]:
        agency, id_, version = parse_ref(codelist_id)
        info = self.find("codelist", id_, agency, version)
        return (info.agency, info.id, info.version), info

    def _codelist_data(self, codelist_id: str) -> tuple[tuple[str, str, str], dict[str, Any]]:
        key, info = self._codelist_key(codelist_id)
        return key, self._compiled(info).data(info)

    def codes(self, codelist_id: str) -> frozenset[str]:
        """The code IDs of a codelist (``CL_SEX`` or ``IAEG-SDGs:CL_SEX(1.1)``), cached."""
        key, info = self._codelist_key(codelist_id)
        if key not in self._codes:
            self._codes[key] = frozenset(self._compiled(info).data(info)["codes"])
        return self._codes[key]

    def parents(self, codelist_id: str) -> dict[str, str]:
        """Code ID -> its parent's code ID, for the codes of a codelist that have a parent
        (e.g. ``KE_001`` -> ``404`` in CL_AREA_KE): the hierarchy disclosure control adds up."""
        _, data = self._codelist_data(codelist_id)
        return {str(k): str(v) for k, v in data["parents"].items()}

    def names(self, codelist_id: str, lang: str = "en") -> dict[str, str]:
        """Code ID -> name in ``lang`` (else any language) of a codelist."""
        _, data = self._codelist_data(codelist_id)
        names = data["names"]
        return {code: text_in(names.get(code) or {}, lang) for code in data["codes"]}

    def valid_codes_mask(self, codelist_id: str, values: pa.Array | pa.ChunkedArray) -> Any:
        """True where ``values`` is a code of the codelist (vectorised; nulls give False).

        Non-string arrays are cast to string first, so ``pa.array([1, 2])`` checks "1", "2".
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        key, _ = self._codelist_key(codelist_id)
        if key not in self._arrays:
            from cgd_bridge import arrow

            self._arrays[key] = arrow.array(sorted(self.codes(codelist_id)), type=pa.string())
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        return pc.is_in(values, value_set=self._arrays[key])


@dataclass(frozen=True)
class Flow:
    """A dataflow as plain values.

    Attributes:
        ref: ``AGENCY:ID(VERSION)``, e.g. ``CGD_BRIDGE:DF_CGD_KE(1.0)``.
        id: e.g. ``DF_CGD_KE``.
        name: ``{lang: text}``.
        structure: its DSD as ``(agency, id, version)`` (agency and version may be None).
    """

    ref: str
    id: str
    name: dict[str, str]
    structure: tuple[str | None, str, str | None]


@dataclass(frozen=True)
class DsdComponent:
    """One component of a DSD as plain values.

    Attributes:
        id: e.g. ``SEX``.
        role: ``dimension``, ``time``, ``measure`` or ``attribute``.
        codelist: ``AGENCY:ID(VERSION)`` of the codelist that enumerates it, or None.
        concept: its concept's names as the DSD's file has them, ``{lang: text}`` (empty when
            the concept is only referred to).
        concept_id: the concept's id.
        scheme: the concept scheme ``(agency, id, version)`` to look the names up in.
    """

    id: str
    role: str
    codelist: str | None
    concept: dict[str, str]
    concept_id: str | None
    scheme: tuple[str | None, ...] | None


@dataclass(frozen=True)
class Dsd:
    """A DSD as plain values: its contract and its components (dimensions, time, measures,
    attributes, in that order)."""

    ref: str
    contract: Contract
    components: tuple[DsdComponent, ...]


@dataclass(frozen=True)
class Region:
    """An included cube region of a content constraint: the codes it allows per component."""

    members: tuple[tuple[str, tuple[str, ...]], ...]


# -- describing an artefact (for `structures show` and, later, the server) ----------------------


def ref_of(obj: Any) -> str:
    """``AGENCY:ID(VERSION)`` of an sdmx1 maintainable object (or just its ID)."""
    if obj is None:
        return ""
    agency = getattr(getattr(obj, "maintainer", None), "id", None)
    version = getattr(obj, "version", None)
    return f"{agency + ':' if agency else ''}{obj.id}{f'({version})' if version else ''}"


def _component(comp: Any, lang: str) -> dict[str, Any]:
    rep = getattr(comp, "local_representation", None)
    concept = getattr(comp, "concept_identity", None)
    if rep is None or (rep.enumerated is None and not rep.non_enumerated):
        rep = getattr(concept, "core_representation", None) or rep
    enumerated = getattr(rep, "enumerated", None)
    facets = [
        f.value_type.name for f in getattr(rep, "non_enumerated", None) or [] if f.value_type is not None
    ]
    usage = getattr(comp, "usage_status", None)
    return {
        "id": str(comp.id),
        "role": type(comp).__name__,
        "concept": str(getattr(concept, "id", "") or ""),
        "codelist": ref_of(enumerated) if enumerated is not None else None,
        "type": facets[0] if facets else None,
        "usage": getattr(usage, "name", None),
        "name": text_of(getattr(concept, "name", None), lang) if concept is not None else "",
    }


def describe(obj: Any, lang: str = "en") -> dict[str, Any]:
    """A JSON-ready description of an sdmx1 artefact.

    Codelists and other item schemes list their items (id, name, parent); DSDs their
    dimensions, attributes and measures with codelists; dataflows their DSD.
    """
    out: dict[str, Any] = {"kind": kind_of(obj), "ref": ref_of(obj), "name": text_of(obj.name, lang)}
    structure = getattr(obj, "structure", None)
    if hasattr(obj, "dimensions") and hasattr(obj, "measures"):
        out["dimensions"] = [_component(c, lang) for c in obj.dimensions.components]
        out["attributes"] = [_component(c, lang) for c in obj.attributes.components]
        out["measures"] = [_component(c, lang) for c in obj.measures.components]
    elif structure is not None and kind_of(obj) in ("dataflow", "metadataflow", "provisionagreement"):
        out["structure"] = ref_of(structure)
    items = getattr(obj, "items", None)
    if isinstance(items, dict):
        out["items"] = [
            {
                "id": str(item.id),
                "name": text_of(item.name, lang),
                "parent": str(item.parent.id)
                if isinstance(getattr(item, "parent", None), type(item))
                else None,
            }
            for item in items.values()
        ]
    return out
