"""What earlier mappings say, as evidence for a new draft (``mapping init --learn-from``, #18).

A CSO maps the same columns and labels again and again: its second export of a survey has the
columns of the first (perhaps renamed) and the labels it used before (perhaps in the other
language of its form). :class:`Evidence` gathers, from mappings written or confirmed earlier:

- **labels**: per dimension, each label a mapping gave to a code (``Female`` -> ``F`` for SEX,
  ``NRB`` -> ``KE_047`` for REF_AREA), with the files that say so;
- **columns**: each column name a mapping read a dimension from (``Kaunti`` -> REF_AREA), with
  the dataflow that mapping targeted.

The sources are ``cgd-mapping/1.0`` files (a folder of earlier mappings, the bundled
``mappings/``, or mapping texts a server has stored, :meth:`Evidence.add_text`) and open-sdg
sdg-build maps: the column map (``Text,Value``: a column header -> an SDMX concept) and the
code map (``Text,Dimension,Value``: a label in that concept's column -> a code), the CSV files
:mod:`cgd_bridge.sdmx.read.opensdg` imports too.

:func:`cgd_bridge.mapping.draft.draft_mapping` proposes what the evidence says first (when the
code is in the target codelist) and writes where it came from in the comment
("as in mappings/kenya-2023.yaml"). Labels are compared case-, space- and punctuation-blind,
as the mapping engine compares them.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from cgd_bridge import safeyaml
from cgd_bridge.errors import MappingError
from cgd_bridge.i18n import N_, msg, num
from cgd_bridge.mapping.language import gettext, ngettext
from cgd_bridge.mapping.model import PROFILE, Mapping

#: files read from one folder at most (a folder of earlier work, not a disk)
MAX_FILES = 2_000
#: a file larger than this is no mapping
MAX_BYTES = 5 * 1024 * 1024
_MAPPING_SUFFIXES = (".yaml", ".yml", ".json")
#: how alike (rapidfuzz's ratio, 0-100) a label must be to an earlier one to take its code
SIMILAR = 88
#: and each of its words to the earlier label's
SIMILAR_WORD = 75


def key(text: str) -> str:
    """A label or column name as evidence compares it: case, spaces and punctuation left out.

    >>> key(" Nairobi-City "), key("mhojiwa/jinsia")
    ('nairobi city', 'mhojiwa jinsia')
    """
    return " ".join(re.sub(r"[^\w+]+", " ", text.casefold().replace("_", " ")).split())


@dataclass(frozen=True)
class Hit:
    """What the evidence says about one label or column: the code (or dimension), how sure
    (the share of the sources that agree) and the first source that says so."""

    choice: str
    share: float
    source: str
    sources: int
    #: for :meth:`Evidence.similar_label`: the earlier label it is like, and how alike (0-100)
    similar: str = ""
    score: int = 100

    def where(self) -> str:
        """Where it came from, for a comment: "as in mappings/kenya-2023.yaml (and 2 more)"."""
        if self.sources > 1:
            return ngettext(
                "as in {source} (and {n} more)",
                "as in {source} (and {n} more)",
                self.sources - 1,
                source=self.source,
            )
        return gettext(N_("as in {source}"), source=self.source)


@dataclass
class Evidence:
    """Labels and column names mapped before (see the module's docstring)."""

    #: dimension -> label key -> code -> sources
    labels: dict[str, dict[str, dict[str, list[str]]]] = field(default_factory=dict)
    #: column key -> dimension -> [(source, dataflow id)]
    columns: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    #: dimension -> fixed code -> [(source, dataflow id)]
    values: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    #: the files read, and the files passed over with why
    sources: list[str] = field(default_factory=list)
    skipped: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.labels or self.columns)

    # -- adding ----------------------------------------------------------------------------------

    def add_mapping(self, mapping: Mapping, source: str) -> None:
        """Every dimension's column and every label -> code of ``mapping`` (named ``source``)."""
        flow = _flow_id(mapping.dataflow or "")
        for dim, spec in mapping.dimensions.items():
            if spec.value:
                self.values.setdefault(dim, {}).setdefault(spec.value, []).append((source, flow))
            if spec.column in mapping.derive:
                continue  # a derived column's labels ("yes") are the derivation's, not the data's
            if spec.column:
                self.add_column(spec.column, dim, source, flow)
            for code, labels in spec.map.items():
                for label in labels:
                    self.add_label(dim, label, code, source)
        self.sources.append(source)

    def add_text(self, text: str, source: str) -> None:
        """A mapping file's text (as a server stores it), named ``source``.

        Raises:
            MappingError: the text is not a readable ``cgd-mapping/1.0`` mapping.
        """
        try:
            data = safeyaml.load(text)
        except yaml.YAMLError as exc:
            raise MappingError(
                N_("an earlier mapping cannot be read as YAML ({reason})"),
                fix=N_("Fix or remove the file: --learn-from reads every mapping in the folder."),
                file=source,
                params={"reason": exc.__class__.__name__},
            ) from exc
        self.add_mapping(_model(data, source), source)

    def add_column(self, column: str, dimension: str, source: str, dataflow: str = "") -> None:
        if key(column):
            self.columns.setdefault(key(column), {}).setdefault(dimension, []).append((source, dataflow))

    def add_label(self, dimension: str, label: str, code: str, source: str) -> None:
        if key(label):
            codes = self.labels.setdefault(dimension, {}).setdefault(key(label), {})
            where = codes.setdefault(code, [])
            if source not in where:
                where.append(source)

    # -- asking ----------------------------------------------------------------------------------

    def label(self, dimension: str, label: str, codes: Iterable[str]) -> Hit | None:
        """The code ``label`` was mapped to for ``dimension``, among ``codes`` (the target
        codelist's), the one most sources agree on; None if no source mapped it."""
        found = self.labels.get(dimension, {}).get(key(label), {})
        allowed = set(codes)
        votes = {code: where for code, where in found.items() if code in allowed}
        if not votes:
            return None
        code, where = max(votes.items(), key=lambda kv: len(kv[1]))
        total = sum(len(w) for w in votes.values())
        return Hit(code, len(where) / total, where[0], len(where))

    def similar_label(self, dimension: str, label: str, codes: Iterable[str]) -> Hit | None:
        """The code of an earlier label spelt almost as ``label`` ("Mwammuna" for "Mwamuna",
        "Nairobi Cty" for "Nairobi City"), among ``codes``: None unless one earlier label is
        clearly the closest. ``Hit.similar`` is that label, ``Hit.score`` how alike (0-100).

        Close is rapidfuzz's ratio (edit distance) of the whole label, at least
        :data:`SIMILAR`, and of each word, at least :data:`SIMILAR_WORD`, with the same number
        of words and the same digits: so "Female" is never "Male", "without disability" never
        "with disability", "15-24" never "16-24"."""
        wanted = key(label)
        if len(wanted) < 4:
            return None
        allowed = set(codes)
        known = {
            k: c for k, c in self.labels.get(dimension, {}).items() if any(code in allowed for code in c)
        }
        found: list[tuple[float, str]] = []
        for other, score, _i in process.extract(wanted, list(known), scorer=fuzz.ratio, limit=5,
                                                score_cutoff=SIMILAR - 5):  # fmt: skip
            if _alike(wanted, str(other)):
                found.append((float(score), str(other)))
        if not found or found[0][0] < SIMILAR:
            return None
        score, other = found[0]
        hit = self.label(dimension, other, allowed)
        if hit is None:
            return None
        for next_score, next_other in found[1:]:  # another earlier label as close, another code
            rival = self.label(dimension, next_other, allowed)
            if rival is not None and rival.choice != hit.choice and score - next_score < 3:
                return None
        return Hit(hit.choice, hit.share, hit.source, hit.sources, similar=other, score=round(score))

    def value(self, dimension: str, dataflow: str, codes: Iterable[str]) -> Hit | None:
        """The fixed code earlier mappings to the same dataflow (any version) gave ``dimension``
        (the one most of them gave), among ``codes``."""
        flow, allowed = _flow_id(dataflow), set(codes)
        votes = {
            code: [s for s, f in where if f == flow]
            for code, where in self.values.get(dimension, {}).items()
            if code in allowed
        }
        votes = {code: where for code, where in votes.items() if where}
        if not votes:
            return None
        code, where = max(votes.items(), key=lambda kv: len(kv[1]))
        return Hit(code, len(where) / sum(len(w) for w in votes.values()), where[0], len(where))

    def column(self, names: Iterable[str], dimension: str, dataflow: str) -> Hit | None:
        """Whether a column known by ``names`` was read for ``dimension`` before: the share is
        1 when a mapping to the same dataflow (any version) did, 0.5 when one to another did."""
        flow = _flow_id(dataflow)
        for name in names:
            seen = self.columns.get(key(name), {})
            if dimension not in seen:
                continue
            where = seen[dimension]
            same = [source for source, f in where if f == flow]
            total = sum(len(w) for w in seen.values())
            if same:
                return Hit(dimension, len(where) / total, same[0], len(where))
            return Hit(dimension, 0.5 * len(where) / total, where[0][0], len(where))
        return None


def _alike(a: str, b: str) -> bool:
    """Two label keys that may be spellings of one label: as many words, each alike, the same
    digits (see :meth:`Evidence.similar_label`)."""
    wa, wb = a.split(), b.split()
    if len(wa) != len(wb) or re.findall(r"\d+", a) != re.findall(r"\d+", b):
        return False
    return all(x == y or fuzz.ratio(x, y) >= SIMILAR_WORD for x, y in zip(wa, wb, strict=True))


def _flow_id(ref: str) -> str:
    """``AGENCY:ID(VERSION)`` -> ``AGENCY:ID``: a mapping to another version of the dataflow
    uses the same columns."""
    return ref.split("(")[0].strip()


def _model(data: object, source: str) -> Mapping:
    from pydantic import ValidationError

    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        from cgd_bridge.metadata.load import pydantic_reason

        raise MappingError(
            N_("an earlier mapping is not a valid cgd-mapping/1.0 file: {where}: {reason}"),
            fix=N_("Fix the file (cgd-bridge validate --mapping checks it) or move it out of the folder."),
            file=source,
            field=where,
            params={"where": where, "reason": pydantic_reason(first["type"], first["msg"], first.get("ctx"))},
        ) from None


def load_evidence(folders: Sequence[Path], *, bundled: bool = True) -> Evidence:
    """Evidence from every mapping and open-sdg map in ``folders`` (searched recursively; a file
    given instead of a folder is read alone), and from the bundled ``mappings/`` when ``bundled``.

    A YAML/JSON file whose ``profile`` is not ``cgd-mapping/1.0`` (a quality.yaml beside the
    mappings) and a CSV that is neither an sdg-build column map nor a code map are passed over
    and listed in :attr:`Evidence.skipped`.

    Raises:
        InputError: a folder does not exist.
        MappingError: a file that is a mapping (or an sdg-build map) cannot be read; it names the file.
    """
    from cgd_bridge.errors import InputError

    evidence = Evidence()
    places: list[tuple[Path, Path, bool]] = []  # folder, what names are relative to, bundled
    for folder in folders:
        if folder.is_file():  # one earlier mapping, named as given
            _add_file(evidence, folder, folder.name)
            continue
        if not folder.is_dir():
            raise InputError(
                N_("'{folder}' is not a folder of earlier mappings (nor a file)"),
                fix=N_("Give --learn-from the folder your earlier mapping files are in, or one of them."),
                file=str(folder),
                params={"folder": str(folder)},
            )
        places.append((folder, folder.parent, False))
    if bundled:
        from cgd_bridge.resources import bundled as bundled_folder

        folder = bundled_folder("mappings")
        places.append((folder, folder.parent, True))
    for folder, base, ours in places:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if ours:  # the bundled mappings, not their README
            files = [p for p in files if p.suffix in _MAPPING_SUFFIXES]
        if len(files) > MAX_FILES:
            raise MappingError(
                N_("'{folder}' holds {n} files; --learn-from reads at most {limit}"),
                fix=N_("Give the folder of the earlier mappings only."),
                file=str(folder),
                params={"folder": str(folder), "n": num(len(files)), "limit": num(MAX_FILES)},
            )
        for path in files:
            _add_file(evidence, path, _name(path, base))
    return evidence


def _name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def _add_file(evidence: Evidence, path: Path, source: str) -> None:
    suffix = path.suffix.casefold()
    if suffix == ".xml":  # an SDMX structure map needs its target dataflow: imported first
        evidence.skipped.append((source, msg(
            N_("an SDMX file; if it is a structure map, import it with '{command}' and learn from "
               "the YAML it writes"),
            command=f"cgd-bridge mapping import {path.name} --dataflow REF -o {path.stem}.yaml",
        )))  # fmt: skip
        return
    if suffix not in (*_MAPPING_SUFFIXES, ".csv"):
        evidence.skipped.append((source, msg(N_("not a mapping (YAML, JSON) or an sdg-build map (CSV)"))))
        return
    if path.stat().st_size > MAX_BYTES:
        evidence.skipped.append(
            (source, msg(N_("larger than {size} MB"), size=num(MAX_BYTES // (1024 * 1024))))
        )
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(
            N_("an earlier mapping is not UTF-8 text"),
            fix=N_("Save it as UTF-8, or move it out of the folder."),
            file=source,
        ) from exc
    if suffix == ".csv":
        _add_opensdg(evidence, text, source)
        return
    try:
        data = safeyaml.load(text)
    except yaml.YAMLError as exc:
        raise MappingError(
            N_("an earlier mapping cannot be read as YAML ({reason})"),
            fix=N_("Fix or remove the file: --learn-from reads every mapping in the folder."),
            file=source,
            params={"reason": exc.__class__.__name__},
        ) from exc
    if not isinstance(data, dict) or data.get("profile") != PROFILE:
        evidence.skipped.append(
            (source, msg(N_("not a {profile} mapping (no 'profile: {profile}')"), profile=PROFILE))
        )
        return
    evidence.add_mapping(_model(data, source), source)


def _add_opensdg(evidence: Evidence, text: str, source: str) -> None:
    """An sdg-build column map (``Text,Value``) or code map (``Text,Dimension,Value``)."""
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise MappingError(
            N_("the CSV cannot be read ({reason})"),
            fix=N_("Save it as CSV, comma-separated."),
            file=source,
            params={"reason": str(exc)},
        ) from exc
    header = [h.strip() for h in rows[0]] if rows else []
    names = set(header)
    if {"Text", "Dimension", "Value"} <= names:
        at = {h: header.index(h) for h in ("Text", "Dimension", "Value")}
        for row in rows[1:]:
            cells = [row[at[h]].strip() if at[h] < len(row) else "" for h in ("Text", "Dimension", "Value")]
            if all(cells):
                evidence.add_label(cells[1], cells[0], cells[2], source)
    elif {"Text", "Value"} == names:
        at = {h: header.index(h) for h in ("Text", "Value")}
        for row in rows[1:]:
            text_, concept = (row[at[h]].strip() if at[h] < len(row) else "" for h in ("Text", "Value"))
            if text_ and concept:
                evidence.add_column(text_, concept, source)
    else:
        evidence.skipped.append((source, msg(N_("a CSV that is not an sdg-build column map or code map"))))
        return
    evidence.sources.append(source)


def counts(evidence: Evidence) -> Counter[str]:
    """How many labels and column names the evidence holds (for the terminal)."""
    n: Counter[str] = Counter()
    n["labels"] = sum(len(v) for v in evidence.labels.values())
    n["columns"] = len(evidence.columns)
    return n
