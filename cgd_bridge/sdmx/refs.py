"""References to SDMX artefacts: the one :class:`FlowRef` and the one parser of their text forms.

SDMX writes a maintainable artefact's reference as ``AGENCY:ID(VERSION)`` (agency and version
optional), SDMX REST v1 and SDMX-CSV as ``AGENCY,ID,VERSION`` (``AGENCY,ID``), and a URN ends
in ``=AGENCY:ID(VERSION)``. :func:`split_ref` reads every one of them; :func:`parse_ref` (the
structure store, mappings, the CLI) and :meth:`FlowRef.parse` (MoUs, the store's queries) are it
with their callers' errors and defaults. The REST path segments (``all``, ``latest``, ``~``,
``+``) are parsed by :mod:`cgd_bridge.server.sdmx.query`, which makes FlowRefs too.

>>> split_ref("IAEG-SDGs:DF_SDG_GLH(1.5)")
('IAEG-SDGs', 'DF_SDG_GLH', '1.5')
>>> split_ref("CGD_BRIDGE,DF_CGD_KE,1.0")
('CGD_BRIDGE', 'DF_CGD_KE', '1.0')
>>> FlowRef.parse("CGD_BRIDGE:DF_CGD_KE")
FlowRef(agency='CGD_BRIDGE', id='DF_CGD_KE', version=None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cgd_bridge.errors import StructureError, UsageError
from cgd_bridge.i18n import N_

_REF = re.compile(
    r"^(?:(?P<agency>[A-Za-z0-9_@$.\-]+)(?P<sep>[:,]))?(?P<id>[A-Za-z0-9_@$\-]+)"
    r"(?:\((?P<version>[^()]+)\)|,(?P<comma_version>[^,()]+))?$"
)
#: version texts that mean "the latest version"
LATEST = ("*", "latest")


def split_ref(
    text: str, *, commas: bool = True, agency_required: bool = False
) -> tuple[str | None, str, str | None] | None:
    """``(agency, id, version)`` from any text form of a reference, or None when it is none.

    Args:
        text: ``ID``, ``AGENCY:ID``, ``AGENCY:ID(VERSION)``, ``AGENCY,ID``, ``AGENCY,ID,VERSION``
            or a full SDMX URN (``urn:sdmx:...=AGENCY:ID(VERSION)``); agency and version are
            None when the text leaves them out.
        commas: also read the comma forms (``AGENCY,ID`` and ``AGENCY,ID,VERSION``).
        agency_required: a bare ``ID`` is no reference.
    """
    text = text.strip()
    if text.startswith("urn:") and "=" in text:
        text = text.split("=", 1)[1]
    m = _REF.match(text)
    if m is None or (m["agency"] is None and agency_required):
        return None
    if not commas and (m["sep"] == "," or m["comma_version"] is not None):
        return None
    if m["comma_version"] is not None and m["agency"] is None:
        return None  # "ID,VERSION" is no form of SDMX
    return m["agency"], m["id"], m["version"] or m["comma_version"]


def parse_ref(text: str) -> tuple[str | None, str, str | None]:
    """Split ``AGENCY:ID(VERSION)`` (agency and version optional) or a full SDMX URN.

    >>> parse_ref("IAEG-SDGs:CL_SEX(1.1)")
    ('IAEG-SDGs', 'CL_SEX', '1.1')

    Raises:
        StructureError: anything else (the comma forms too: this is SDMX-ML's form).
    """
    parts = split_ref(text, commas=False)
    if parts is None:
        raise StructureError(
            N_("'{text}' is not an artefact reference"),
            fix=N_("Write ID, AGENCY:ID or AGENCY:ID(VERSION), e.g. IAEG-SDGs:CL_SEX(1.1)."),
            params={"text": text.strip()},
        )
    return parts


@dataclass(frozen=True)
class FlowRef:
    """A reference to a maintainable artefact (a dataflow, mostly); None in a part means "any"
    agency, id or version (the latest version, in an SDMX REST query).

    Attributes:
        agency, id, version: e.g. ``IAEG-SDGs``, ``DF_SDG_GLH``, ``1.5``.
    """

    agency: str | None = None
    id: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> FlowRef:
        """From ``*``, ``AGENCY:ID``, ``AGENCY:ID(VERSION)``, ``AGENCY,ID`` or ``AGENCY,ID,VERSION``.

        Raises:
            UsageError: anything else.
        """
        text = text.strip()
        if text in ("*", "all"):
            return cls()
        parts = split_ref(text, agency_required=True) if not text.startswith("urn:") else None
        if parts is None:
            raise UsageError(
                N_("'{text}' is not a dataflow reference"),
                fix=N_(
                    "Write AGENCY:ID(VERSION), e.g. IAEG-SDGs:DF_SDG_GLH(1.5), AGENCY:ID for any "
                    "version, or * for all."
                ),
                params={"text": text},
            )
        agency, ident, version = parts
        return cls(agency, ident, None if version in (None, *LATEST) else version)

    def matches(self, agency: str, ident: str, version: str) -> bool:
        """True when this reference includes the dataflow ``agency:ident(version)``."""
        return (
            (self.agency is None or self.agency == agency)
            and (self.id is None or self.id == ident)
            and (self.version is None or self.version == version)
        )

    @property
    def query_text(self) -> str:
        """As an SDMX REST query reads it, wildcards spelt out: ``*:DF_CGD_KE(latest)``."""
        return f"{self.agency or '*'}:{self.id or '*'}({self.version or 'latest'})"

    def __str__(self) -> str:
        if self.agency is None and self.id is None:
            return "*"
        text = f"{self.agency}:{self.id}"
        return f"{text}({self.version})" if self.version else text
