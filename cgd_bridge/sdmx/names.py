"""Names for a :class:`Target`: the dataflow's, its components' concepts' and the codes'.

Formats that carry names (SDMX-JSON, SDMX-CSV with ``labels``) read them from
:attr:`Target.names`, :attr:`Target.concepts` and :attr:`Target.name`. :func:`named_target`
fills them from the structures (the bundled ``codelists/`` plus the store), for the codes the
table actually has only: one ``unique`` per coded column, then a dictionary lookup per
distinct code, so the cost does not grow with the number of observations.

``structures`` is a :class:`cgd_bridge.structures.Structures` (or anything with its
``dataflow``, ``dsd``, ``get`` and ``names`` methods); this module does not import it, so
``formats`` stays independent of the structure store.

Example:
    >>> from cgd_bridge.structures import Structures
    >>> t = Target("CGD_BRIDGE", "DF_CGD_KE", "1.0", ("SEX",))
    >>> t = named_target(t, pa.table({"SEX": ["F", "_T"]}), Structures.load(None))
    >>> t.name, t.concepts["SEX"], t.names["SEX"]
    ('Citizen-generated data, Kenya', 'Sex', {'F': 'Female', '_T': 'Both sexes or no breakdown by sex'})
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cgd_bridge.errors import StructureError
from cgd_bridge.sdmx.target import Target

log = logging.getLogger(__name__)


def _text(value: Any, lang: str) -> str:
    """The ``lang`` text of an sdmx1 InternationalString, else any text, else ``""``."""
    localizations = getattr(value, "localizations", None)
    if localizations is None:
        return "" if value is None else str(value)
    return str(localizations.get(lang) or next(iter(localizations.values()), ""))


def _ref(obj: Any) -> str:
    """``AGENCY:ID(VERSION)`` of a maintainable sdmx1 object, as far as it is known."""
    agency = getattr(getattr(obj, "maintainer", None), "id", None)
    version = getattr(obj, "version", None)
    return f"{agency + ':' if agency else ''}{obj.id}{f'({version})' if version else ''}"


def _codelist(component: Any) -> Any:
    """The codelist that enumerates a component (its local representation, else its concept's)."""
    rep = getattr(component, "local_representation", None)
    codelist = getattr(rep, "enumerated", None)
    concept = getattr(component, "concept_identity", None)
    if codelist is None and concept is not None:
        codelist = getattr(getattr(concept, "core_representation", None), "enumerated", None)
    return codelist


def _concept_name(component: Any, structures: Any, lang: str) -> str:
    """The name of a component's concept, looked up in its scheme when the DSD has only a stub."""
    concept = getattr(component, "concept_identity", None)
    if concept is None:
        return ""
    name = _text(getattr(concept, "name", None), lang)
    scheme = getattr(concept, "parent", None)
    if name or scheme is None or not hasattr(scheme, "maintainer"):
        return name
    try:
        full = structures.get("conceptscheme", str(scheme.id), scheme.maintainer.id, scheme.version)
    except StructureError:
        return ""
    item = full.items.get(str(concept.id))
    return _text(item.name, lang) if item is not None else ""


def _dsd(target: Target, structures: Any) -> tuple[Any, Any]:
    flow = structures.dataflow(target.id, target.agency, target.version)
    ref = flow.structure
    agency = ref.maintainer.id if getattr(ref, "maintainer", None) else None
    return flow, structures.dsd(str(ref.id), agency, getattr(ref, "version", None))


def named_target(target: Target, table: pa.Table, structures: Any, *, lang: str = "en") -> Target:
    """``target`` with the names of its dataflow, its components and the codes in ``table``.

    A dataflow, codelist or concept scheme that is not known leaves those names out (the
    formats then name things by their IDs); nothing here fails a conversion.

    Args:
        target: the dataflow and component order.
        table: the observations (columns named by component id).
        structures: where the dataflow, its DSD, codelists and concept schemes are looked up.
        lang: the language of the names (else any language the structure has).
    """
    try:
        flow, dsd = _dsd(target, structures)
    except StructureError as exc:
        log.info("no names for %s: %s", target.ref, exc.problem)
        return target
    components = [
        *dsd.dimensions.components,
        *dsd.measures.components,
        *dsd.attributes.components,
    ]
    concepts: dict[str, str] = {}
    names: dict[str, dict[str, str]] = {}
    for comp in components:
        cid = str(comp.id)
        if cid not in table.column_names:
            continue
        concept = _concept_name(comp, structures, lang)
        if concept:
            concepts[cid] = concept
        codelist = _codelist(comp)
        if codelist is None:
            continue
        present = pc.unique(pc.drop_null(table[cid])).cast(pa.string()).to_pylist()
        try:
            known = structures.names(_ref(codelist), lang)
        except StructureError:
            log.info("no names for %s: codelist %s not found", cid, _ref(codelist))
            continue
        names[cid] = {code: known[code] for code in present if known.get(code)}
    return dataclasses.replace(target, names=names, concepts=concepts, name=_text(flow.name, lang))
