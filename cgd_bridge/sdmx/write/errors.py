"""SDMX error messages: SDMX-ML 2.1 ``mes:Error`` and SDMX-JSON ``errors[]``.

SDMX REST error codes (sdmx-rest v1.5 ``4_7_errors.md``): 100 no results (404), 110 unauthorised
(401), 130 response too large (413), 140 syntax error (400), 150 semantic error (403),
500 internal error, 501 not implemented, 503 unavailable.

>>> error_xml(100, "No results for DF_CGD_KE").decode()[:60]
'<?xml version="1.0" encoding="UTF-8"?>\\n<mes:Error xmlns:mes='
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

XML_MEDIA_TYPE = "application/xml"
JSON_MEDIA_TYPE = "application/json"
_NS = (
    'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
    'xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"'
)
STATUS_OF_CODE = {100: 404, 110: 401, 130: 413, 140: 400, 150: 403, 500: 500, 501: 501, 503: 503}


def error_xml(code: int, text: str, *more: str) -> bytes:
    """An SDMX-ML 2.1 error message (valid against SDMXMessage.xsd)."""
    texts = "".join(f'<com:Text xml:lang="en">{escape(t)}</com:Text>' for t in (text, *more) if t)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:Error {_NS}>'
        f'<mes:ErrorMessage code="{int(code)}">{texts}</mes:ErrorMessage></mes:Error>\n'
    ).encode()


def error_json(status: int, title: str, detail: str | None = None, code: int | None = None) -> bytes:
    """An SDMX-JSON 2.0 style error body: ``{"errors": [{"code", "title", "detail"}]}``."""
    entry: dict[str, object] = {"code": status, "title": title}
    if detail:
        entry["detail"] = detail
    if code is not None:
        entry["sdmxCode"] = code
    return json.dumps({"errors": [entry]}, ensure_ascii=False).encode()
