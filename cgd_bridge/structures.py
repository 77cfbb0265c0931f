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

Importing this module imports ``sdmx.reader.xml.v30`` first: reading an SDMX-ML 2.1
structure-specific message with its own namespace before that module is imported breaks every
later SDMX-ML 3.0 read in the process (docs/architecture.md, sdmx1 process-state bug).
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
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sdmx
import sdmx.reader.xml.v30  # before any read: see the module docstring (sdmx1 process-state bug)
from lxml import etree
from sdmx.message import DataMessage, StructureMessage

from cgd_bridge.atomic import write_bytes_atomic
from cgd_bridge.errors import StructureError
from cgd_bridge.sdmx.refs import parse_ref

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

_FIX_FORMAT = (
    "Give an SDMX-ML 2.1 or 3.0 structure message (for example a DSD or codelist downloaded "
    "from a registry's /structure/ or /codelist/ query)."
)


# -- reading -----------------------------------------------------------------------------------


def read_structures(path: str | Path, *, name: str | None = None) -> StructureMessage:
    """Read an SDMX-ML 2.1 or 3.0 structure message with sdmx1.

    Args:
        path: the file.
        name: how to name the file in errors (e.g. the URL it came from); default ``path``.

    Raises:
        StructureError: the file is missing, empty, not XML, not SDMX-ML 2.1/3.0, a data or
            metadata message rather than structures, or has parts sdmx1 cannot read.
    """
    path = Path(path)
    shown = name or str(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise StructureError("the file does not exist", fix="Check the path.", file=shown) from None
    except OSError as exc:
        raise StructureError(f"the file cannot be read ({exc.strerror})", file=shown) from exc
    if not head.strip():
        raise StructureError("the file is empty", fix=_FIX_FORMAT, file=shown)
    if not head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
        raise StructureError("the file is not XML", fix=_FIX_FORMAT, file=shown)

    dump = io.StringIO()  # sdmx1 prints a debug dump to stdout when a parse fails
    try:
        with contextlib.redirect_stdout(dump), path.open("rb") as fh:
            message = sdmx.read_sdmx(fh, format="XML")
    except etree.XMLSyntaxError as exc:
        raise StructureError(
            f"the file is not well-formed XML ({exc.msg})", fix=_FIX_FORMAT, file=shown
        ) from exc
    except NotImplementedError as exc:
        raise StructureError(
            f"sdmx1 cannot read part of this file ({_describe_unsupported(exc)})",
            fix="SDMX 3.0 StructureMaps and RepresentationMaps are not supported: export the "
            "codelists, DSDs and dataflows without them, or as SDMX-ML 2.1.",
            file=shown,
        ) from exc
    except AssertionError as exc:
        raise StructureError(
            "the file is not an SDMX-ML 2.1 or 3.0 message (sdmx1 cannot determine its version)",
            fix=_FIX_FORMAT + " SDMX-ML 3.1 is not supported yet: ask for 3.0 or 2.1.",
            file=shown,
        ) from exc
    except Exception as exc:  # sdmx1 raises many types (KeyError, ValueError, XMLParseError...)
        if isinstance(exc.__cause__, etree.XMLSyntaxError):  # sdmx1 wraps lxml's error
            raise StructureError(
                f"the file is not well-formed XML ({exc.__cause__.msg})",
                fix="The file may be cut off: download or export it again. " + _FIX_FORMAT,
                file=shown,
            ) from exc
        raise StructureError(
            f"sdmx1 cannot read this SDMX structure file ({type(exc).__name__}: {exc})",
            fix="Check that the file is a complete SDMX-ML 2.1 or 3.0 structure message.",
            file=shown,
        ) from exc
    finally:
        if dump.getvalue():
            log.debug("sdmx1 output while reading %s:\n%s", shown, dump.getvalue())
    if not isinstance(message, StructureMessage):
        what = "a data message" if isinstance(message, DataMessage) else f"a {type(message).__name__}"
        raise StructureError(
            f"the file is {what}, not a structure message",
            fix="Import the structures (DSD, codelists, dataflow) the data refers to, not the data.",
            file=shown,
        )
    return message


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
            f"'{id}' is ambiguous: there are {refs}",
            fix="Name the kind and agency, e.g. 'codelist " + f"{found[0].agency}:{id}'.",
        )
    return max(found, key=lambda i: version_key(i.version))


# -- the store ---------------------------------------------------------------------------------


def _write_atomic(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data, durable=True)


def _is_url(source: str) -> bool:
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://", source) is not None


def fetch(url: str, *, timeout: float = URL_TIMEOUT) -> bytes:
    """Download ``url`` (http, https or file) or raise a StructureError that says why."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise StructureError(
            f"cannot download '{scheme}://' addresses", fix="Use an http(s):// URL or a local file.", file=url
        )
    request = urllib.request.Request(url, headers={"Accept": "application/xml, text/xml, */*;q=0.5"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
            data = response.read(MAX_DOWNLOAD + 1)
    except urllib.error.HTTPError as exc:
        raise StructureError(
            f"the server answered HTTP {exc.code} {exc.reason}",
            fix="Check the URL in a browser; registries answer 404 when the artefact does not exist.",
            file=url,
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise StructureError(
            f"cannot download the file ({reason})",
            fix="Check the URL and the network connection, or download the file and import it from disk.",
            file=url,
        ) from exc
    if len(data) > MAX_DOWNLOAD:
        raise StructureError(
            f"the download is larger than {MAX_DOWNLOAD // 2**20} MiB",
            fix="Download the file and split it, or ask the registry for fewer artefacts.",
            file=url,
        )
    return data


class StructureStore:
    """A folder of imported SDMX structure files plus ``index.json`` listing their artefacts.

    Layout: ``{folder}/files/{sha256[:16]}-{name}.xml`` and ``{folder}/index.json``. The index
    holds, per artefact: kind, agency, id, version, name, source, file, sha256, imported_at.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, StructureMessage] = {}

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
                f"the structure store index is broken ({exc})",
                fix="Delete the folder and import the structures again.",
                file=str(self.index_path),
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
            self._cache[info.sha256] = read_structures(self.folder / info.file, name=info.source)
        return self._cache[info.sha256]

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
                raise StructureError("the file does not exist", fix="Check the path.", file=text) from None
            except IsADirectoryError:
                raise StructureError(
                    "this is a folder, not a file", fix="Name the XML file.", file=text
                ) from None
            except OSError as exc:
                raise StructureError(f"the file cannot be read ({exc.strerror})", file=text) from exc
            text = str(path.resolve())
        return self._import_bytes(data, source=text)

    def _import_bytes(self, data: bytes, *, source: str) -> list[ArtefactInfo]:
        files = self.folder / "files"
        try:
            files.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StructureError(
                f"cannot create the structure store ({exc.strerror})",
                fix="Set CGD_BRIDGE_DATA_DIR (or --data-dir) to a folder you can write to.",
                file=str(self.folder),
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
            now = datetime.now(UTC).isoformat(timespec="seconds")
            new = _infos(message, source=source, file=rel, sha256=sha, imported_at=now)
            if not new:
                raise StructureError(
                    "the structure message holds no artefacts",
                    fix="Ask the registry for the structures themselves (e.g. with references=children).",
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
    raise StructureError(
        f"{info.kind} {info.ref} is listed but no longer in its file",
        fix="Import the structure file again.",
        file=info.file,
    )


def _not_found(kind: str | None, id: str, agency: str | None, version: str | None) -> StructureError:
    ref = f"{agency + ':' if agency else ''}{id}{f'({version})' if version else ''}"
    return StructureError(
        f"there is no {kind or 'artefact'} {ref}",
        fix="Run 'cgd-bridge structures list' to see what is there, and "
        "'cgd-bridge structures import FILE|URL' to add it.",
    )


# -- bundled files + store: the lookups the checks use ----------------------------------------


class Structures:
    """The bundled ``codelists/`` folder plus a :class:`StructureStore`, with fast lookups.

    A stored artefact wins over a bundled one with the same kind, agency, id and version. A
    broken bundled file is skipped and recorded in :attr:`problems` (the folder is data that
    may be edited by hand).

    Args:
        store: the local store, if any.
        folders: folders of bundled structure files (``*.xml``); default: ``codelists/``.
    """

    def __init__(self, store: StructureStore | None = None, folders: Iterable[Path] | None = None) -> None:
        self.store = store
        if folders is None:
            from cgd_bridge.resources import bundled

            folders = [bundled("codelists")]
        self.folders = [Path(f) for f in folders]
        self.problems: list[StructureError] = []
        self._bundled: dict[str, tuple[StructureMessage, list[ArtefactInfo]]] | None = None
        self._bundled_lock = threading.Lock()
        self._codes: dict[tuple[str, str, str], frozenset[str]] = {}
        self._arrays: dict[tuple[str, str, str], pa.Array] = {}

    @classmethod
    def load(cls, store_dir: str | Path | None = None, *, bundled: bool = True) -> Structures:
        """The bundled codelists and, if ``store_dir`` is given, the store in that folder."""
        store = StructureStore(store_dir) if store_dir is not None else None
        return cls(store, folders=None if bundled else [])

    def _bundled_files(self) -> dict[str, tuple[StructureMessage, list[ArtefactInfo]]]:
        """The bundled files, read once: the first caller reads them under a lock and publishes
        the complete table; concurrent first callers wait for it (a half-filled table made a
        server's first requests answer "no dataflow")."""
        bundled = self._bundled
        if bundled is not None:
            return bundled
        with self._bundled_lock:
            if self._bundled is not None:
                return self._bundled
            table: dict[str, tuple[StructureMessage, list[ArtefactInfo]]] = {}
            for folder in self.folders:
                for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
                    try:
                        message = read_structures(path, name=f"{folder.name}/{path.name}")
                    except StructureError as exc:
                        self.problems.append(exc)
                        continue
                    sha = hashlib.sha256(path.read_bytes()).hexdigest()
                    infos = _infos(message, source=BUNDLED, file=f"{folder.name}/{path.name}", sha256=sha,
                                   imported_at="")  # fmt: skip
                    seen = {i.key for _, known in table.values() for i in known}
                    table[str(path)] = (message, [i for i in infos if i.key not in seen])
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

    def _message(self, info: ArtefactInfo) -> StructureMessage:
        if info.source != BUNDLED and self.store is not None:
            return self.store.message(info)
        for message, infos in self._bundled_files().values():
            if info in infos:
                return message
        raise _not_found(info.kind, info.id, info.agency, info.version)

    def codelist(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 Codelist (``id`` may be ``AGENCY:ID(VERSION)``)."""
        return self.get("codelist", id, agency, version)

    def dsd(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 DataStructureDefinition."""
        return self.get("datastructure", id, agency, version)

    def dataflow(self, id: str, agency: str | None = None, version: str | None = None) -> Any:
        """The sdmx1 Dataflow(Definition)."""
        return self.get("dataflow", id, agency, version)

    def _codelist_key(self, codelist_id: str) -> tuple[tuple[str, str, str], Any]:
        agency, id_, version = parse_ref(codelist_id)
        info = self.find("codelist", id_, agency, version)
        return (info.agency, info.id, info.version), info

    def codes(self, codelist_id: str) -> frozenset[str]:
        """The code IDs of a codelist (``CL_SEX`` or ``IAEG-SDGs:CL_SEX(1.1)``), cached."""
        key, info = self._codelist_key(codelist_id)
        if key not in self._codes:
            codelist = find_in_message(self._message(info), info)
            self._codes[key] = frozenset(str(code.id) for code in codelist.items.values())
        return self._codes[key]

    def names(self, codelist_id: str, lang: str = "en") -> dict[str, str]:
        """Code ID -> name in ``lang`` (else any language) of a codelist."""
        _, info = self._codelist_key(codelist_id)
        codelist = find_in_message(self._message(info), info)
        return {str(code.id): text_of(code.name, lang) for code in codelist.items.values()}

    def valid_codes_mask(self, codelist_id: str, values: pa.Array | pa.ChunkedArray) -> Any:
        """True where ``values`` is a code of the codelist (vectorised; nulls give False).

        Non-string arrays are cast to string first, so ``pa.array([1, 2])`` checks "1", "2".
        """
        key, _ = self._codelist_key(codelist_id)
        if key not in self._arrays:
            self._arrays[key] = pa.array(sorted(self.codes(codelist_id)), type=pa.string())
        if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
            values = pc.cast(values, pa.string())
        return pc.is_in(values, value_set=self._arrays[key])


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
