"""SDMX error messages: SDMX-ML 2.1 and 3.0 ``mes:Error``, SDMX-JSON ``errors[]``.

SDMX REST error codes (sdmx-rest v1.5 ``4_7_errors.md``): 100 no results (404), 110 unauthorised
(401), 130 response too large (413), 140 syntax error (400), 150 semantic error (403),
500 internal error, 501 not implemented, 503 unavailable, 510 response size exceeds the
service limit; 1000 and up are a service's own codes. The spec has no code for 405 and 406:
this server answers them with its own 1405 (method not allowed) and 1406 (representation not
available), so no client mistakes them for a syntax error (140) or a server failure (500).

REST v2 (``doc/status.md``) speaks in HTTP statuses; its error messages are the SDMX-ML 3.0
``Error`` message and the SDMX-JSON 2.0 ``errors`` member (with ``meta``), carrying the same
codes.

>>> error_xml(100, "No results for DF_CGD_KE").decode()[:60]
'<?xml version="1.0" encoding="UTF-8"?>\\n<mes:Error xmlns:mes='
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

XML_MEDIA_TYPE = "application/xml"
JSON_MEDIA_TYPE = "application/json"
_NS = (
    'xmlns:mes="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message" '
    'xmlns:com="http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"'
)
STATUS_OF_CODE = {
    100: 404,
    110: 401,
    130: 413,
    140: 400,
    150: 403,
    500: 500,
    501: 501,
    503: 503,
    510: 413,
    1405: 405,
    1406: 406,
}
#: SDMX-JSON 2.0 error messages name the JSON schema of the message kind (data or structure).
JSON_SCHEMAS = {
    "data": "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/data-message/tools/schemas/"
    "2.0.0/sdmx-json-data-schema.json",
    "structure": "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/structure-message/tools/"
    "schemas/2.0.0/sdmx-json-structure-schema.json",
}


def error_xml(
    code: int, text: str, *more: str, version: str = "2.1", local: tuple[str, Sequence[str]] | None = None
) -> bytes:
    """An SDMX-ML error message, 2.1 (valid against SDMXMessage.xsd) or 3.0 (``version``); with
    ``local`` (a language and the same texts in it), those follow the English ones, each
    ``Text`` marked with its ``xml:lang``.

    >>> b"v3_0/message" in error_xml(100, "No results", version="3.0")
    True
    """
    lang, translated = local if local is not None and local[0] != "en" else ("en", ())
    texts = "".join(
        f'<com:Text xml:lang="{escape(language)}">{escape(_xml_chars(t))}</com:Text>'
        for language, group in (("en", (text, *more)), (lang, translated))
        for t in group
        if t
    )
    ns = _NS if version == "2.1" else _NS.replace("/v2_1/", "/v3_0/")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<mes:Error {ns}>'
        f'<mes:ErrorMessage code="{int(code)}">{texts}</mes:ErrorMessage></mes:Error>\n'
    ).encode()


#: Characters XML 1.0 does not allow, even escaped (control characters but tab, LF and CR;
#: surrogates; U+FFFE, U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_chars(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids replaced by U+FFFD (an error message quotes
    the query, which may hold any of them)."""
    return _NOT_XML.sub("\ufffd", text)


def error_json(status: int, title: str, detail: str | None = None, code: int | None = None) -> bytes:
    """An SDMX-JSON 2.0 style error body: ``{"errors": [{"code", "title", "detail"}]}``."""
    entry: dict[str, object] = {"code": status, "title": title}
    if detail:
        entry["detail"] = detail
    if code is not None:
        entry["sdmxCode"] = code
    return json.dumps({"errors": [entry]}, ensure_ascii=False).encode()


def error_json20(code: int, title: str, detail: str | None = None, *, kind: str = "data") -> bytes:
    """An SDMX-JSON 2.0 error message: ``meta`` and ``errors`` with the SDMX error ``code``.

    >>> json.loads(error_json20(100, "No results"))["errors"]
    [{'code': 100, 'title': 'No results'}]
    """
    entry: dict[str, object] = {"code": code, "title": title}
    if detail:
        entry["detail"] = detail
    meta = {
        "schema": JSON_SCHEMAS.get(kind, JSON_SCHEMAS["data"]),
        "id": f"ERROR_{int(code)}",  # the schema requires id, prepared and sender in every meta
        "test": False,
        "prepared": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "contentLanguages": ["en"],
        "sender": {"id": "CGD_BRIDGE"},
    }
    return json.dumps({"meta": meta, "errors": [entry]}, ensure_ascii=False).encode()
