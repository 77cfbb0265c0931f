"""Availability answers: an "Actual" content (2.1) / data (3.0) constraint listing what exists.

``/sdmx/rest/availableconstraint/...`` answers an SDMX-ML 2.1 structure message with one
``ContentConstraint type="Actual"``; ``/sdmx/v2/availability/...`` an SDMX-ML 3.0 message with
one ``DataConstraint role="Actual"``, or SDMX-JSON 2.0 when asked. Each has a cube region with
the codes present per dimension and the time range, plus the observation count as an annotation
(the .Stat Suite and IMF habit: ``obs_count``, ``time_period_start``, ``time_period_end``).
"""

from __future__ import annotations

import datetime as dt
import json
from xml.sax.saxutils import escape, quoteattr

_NS21 = (
    'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
    'xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure" '
    'xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"'
)
_NS30 = (
    'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v3_0/message" '
    'xmlns:str="http://www.sdmx.org/resources/sdmxml/schemas/v3_0/structure" '
    'xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v3_0/common"'
)


def _header(prefix: str = "mes") -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<{prefix}:Header><{prefix}:ID>CGD_BRIDGE_AVAILABILITY</{prefix}:ID><{prefix}:Test>false</{prefix}:Test>"
        f'<{prefix}:Prepared>{now}</{prefix}:Prepared><{prefix}:Sender id="CGD_BRIDGE"/></{prefix}:Header>'
    )


def _annotations(count: int, span: tuple[str | None, str | None]) -> str:
    items = [("obs_count", str(count)), ("time_period_start", span[0]), ("time_period_end", span[1])]
    inner = "".join(
        f'<com:Annotation id="{k}"><com:AnnotationTitle>{escape(v)}</com:AnnotationTitle>'
        "<com:AnnotationType>sdmx_metrics</com:AnnotationType></com:Annotation>"
        for k, v in items
        if v
    )
    return f"<com:Annotations>{inner}</com:Annotations>"


def _values(cube: dict[str, list[str]], ns: str) -> str:
    return "".join(
        f"<{ns}:KeyValue id={quoteattr(dim)}>"
        + "".join(f"<{ns}:Value>{escape(c)}</{ns}:Value>" for c in codes)
        + f"</{ns}:KeyValue>"
        for dim, codes in cube.items()
        if codes and dim != "TIME_PERIOD"
    )


def _time_range(span: tuple[str | None, str | None], ns: str) -> str:
    if not span[0] or not span[1]:
        return ""
    return (
        f'<{ns}:KeyValue id="TIME_PERIOD"><{ns}:TimeRange>'
        f'<{ns}:StartPeriod isInclusive="true">{escape(span[0])}</{ns}:StartPeriod>'
        f'<{ns}:EndPeriod isInclusive="true">{escape(span[1])}</{ns}:EndPeriod>'
        f"</{ns}:TimeRange></{ns}:KeyValue>"
    )


def constraint_xml21(
    agency: str,
    flow: str,
    version: str,
    cube: dict[str, list[str]],
    count: int,
    span: tuple[str | None, str | None],
) -> bytes:
    """An SDMX-ML 2.1 structure message with the actual content constraint of a dataflow."""
    ident = f"CA_{flow}"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:Structure {_NS21}>{_header()}<mes:Structures>'
        f'<str:Constraints><str:ContentConstraint id="{ident}" agencyID={quoteattr(agency)} version="1.0" '
        f'type="Actual">{_annotations(count, span)}'
        f'<com:Name xml:lang="en">Availability of {escape(flow)}</com:Name>'
        f"<str:ConstraintAttachment><str:Dataflow><Ref id={quoteattr(flow)} version={quoteattr(version)} "
        f'agencyID={quoteattr(agency)} package="datastructure" class="Dataflow"/></str:Dataflow>'
        f'</str:ConstraintAttachment><str:CubeRegion include="true">{_values(cube, "com")}'
        f"{_time_range(span, 'com')}</str:CubeRegion>"
        f"</str:ContentConstraint></str:Constraints></mes:Structures></mes:Structure>\n"
    ).encode()


def constraint_xml30(
    agency: str,
    flow: str,
    version: str,
    cube: dict[str, list[str]],
    count: int,
    span: tuple[str | None, str | None],
) -> bytes:
    """An SDMX-ML 3.0 structure message with the actual data constraint of a dataflow."""
    urn = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={agency}:{flow}({version})"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:Structure {_NS30}>{_header()}<mes:Structures>'
        f'<str:DataConstraints><str:DataConstraint id="CA_{escape(flow)}" agencyID={quoteattr(agency)} '
        f'version="1.0" role="Actual">{_annotations(count, span)}'
        f'<com:Name xml:lang="en">Availability of {escape(flow)}</com:Name>'
        f"<str:ConstraintAttachment><str:Dataflow>{escape(urn)}</str:Dataflow></str:ConstraintAttachment>"
        f'<str:CubeRegion include="true">{_values(cube, "str")}{_time_range(span, "str")}</str:CubeRegion>'
        f"</str:DataConstraint></str:DataConstraints></mes:Structures></mes:Structure>\n"
    ).encode()


def constraint_json(
    agency: str,
    flow: str,
    version: str,
    cube: dict[str, list[str]],
    count: int,
    span: tuple[str | None, str | None],
) -> bytes:
    """The same as SDMX-JSON 2.0 (``data.dataConstraints``; each value an object with ``value``, as
    the SDMX-JSON 2.0 structure schema has it and pysdmx reads it)."""
    key_values: list[dict[str, object]] = [
        {"id": d, "values": [{"value": c} for c in codes]} for d, codes in cube.items() if codes
    ]
    if span[0] and span[1]:
        key_values.append(
            {
                "id": "TIME_PERIOD",
                "timeRange": {
                    "startPeriod": {"period": span[0], "isInclusive": True},
                    "endPeriod": {"period": span[1], "isInclusive": True},
                },
            }
        )
    body = {
        "meta": {
            "id": "CGD_BRIDGE_AVAILABILITY",
            "prepared": dt.datetime.now(dt.UTC).isoformat(),
            "sender": {"id": "CGD_BRIDGE"},
            "test": False,
        },
        "data": {
            "dataConstraints": [
                {
                    "id": f"CA_{flow}",
                    "agencyID": agency,
                    "version": "1.0",
                    "name": f"Availability of {flow}",
                    "role": "Actual",
                    "annotations": [{"id": "obs_count", "title": str(count), "type": "sdmx_metrics"}],
                    "constraintAttachment": {
                        "dataflows": [
                            f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={agency}:{flow}({version})"
                        ]
                    },
                    "cubeRegions": [{"include": True, "keyValues": key_values}],
                }
            ]
        },
    }
    return json.dumps(body, ensure_ascii=False).encode()
