"""Names for a :class:`Target`: the dataflow's, its components' concepts' and the codes'.

Formats that carry names (SDMX-JSON, SDMX-CSV with ``labels``) read them from
:attr:`Target.names`, :attr:`Target.concepts` and :attr:`Target.name`. :func:`named_target`
fills them from the structures (the bundled ``codelists/`` plus the store), for the codes the
table actually has only: one ``unique`` per coded column, then a dictionary lookup per
distinct code, so the cost does not grow with the number of observations.

``structures`` is a :class:`cgd_bridge.structures.Structures` (or anything with its ``flow``,
``structure``, ``concept_names`` and ``names`` methods, which answer from the compiled
structures without sdmx1); this module does not import it, so ``formats`` stays independent of
the structure store.

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


def _text(texts: dict[str, str], lang: str) -> str:
    """The ``lang`` text of ``{lang: text}``, else any text, else ``""``."""
    return str(texts.get(lang) or next(iter(texts.values()), ""))


def _codelist(component: Any) -> Any:
    """The codelist that enumerates an sdmx1 component (its local representation, else its
    concept's); for the readers that hold sdmx1 objects (``sdmx/read/data.py``)."""
    rep = getattr(component, "local_representation", None)
    codelist = getattr(rep, "enumerated", None)
    concept = getattr(component, "concept_identity", None)
    if codelist is None and concept is not None:
        codelist = getattr(getattr(concept, "core_representation", None), "enumerated", None)
    return codelist


def _concept_name(component: Any, structures: Any, lang: str) -> str:
    """The name of a component's concept, looked up in its scheme when the DSD has only a stub."""
    if component.concept_id is None:
        return ""
    name = _text(component.concept, lang)
    if name or component.scheme is None:
        return name
    try:
        names = structures.concept_names(component.scheme)
    except StructureError:
        return ""
    item = names.get(component.concept_id)
    return _text(item, lang) if item is not None else ""


def named_target(target: Target, table: pa.Table, structures: Any, *, lang: str = "en") -> Target:
    """``target`` with the names of its dataflow, its components and the codes in ``table``.

    A dataflow, codelist or concept scheme that is not known leaves those names out (the
    formats then name things by their IDs); nothing here fails a conversion.

    Args:
        target: the dataflow and component order.
        table: the observations (columns named by component id).
        structures: where the dataflow, its DSD, codelists and concept schemes are looked up
            (their compiled values: no sdmx1 object is built).
        lang: the language of the names (else any language the structure has).
    """
    try:
        flow = structures.flow(target.id, target.agency, target.version)
        dsd = structures.structure(flow.structure[1], flow.structure[0], flow.structure[2])
    except StructureError as exc:
        log.info("no names for %s: %s", target.ref, exc.problem)
        return target
    concepts: dict[str, str] = {}
    names: dict[str, dict[str, str]] = {}
    for comp in dsd.components:  # dimensions, measures, attributes
        cid = comp.id
        if cid not in table.column_names:
            continue
        concept = _concept_name(comp, structures, lang)
        if concept:
            concepts[cid] = concept
        if comp.codelist is None:
            continue
        present = pc.unique(pc.drop_null(table[cid])).cast(pa.string()).to_pylist()
        try:
            known = structures.names(comp.codelist, lang)
        except StructureError:
            log.info("no names for %s: codelist %s not found", cid, comp.codelist)
            continue
        names[cid] = {code: known[code] for code in present if known.get(code)}
    return dataclasses.replace(target, names=names, concepts=concepts, name=_text(flow.name, lang))
