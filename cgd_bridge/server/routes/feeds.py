"""The Atom feed of a dataflow (#19): ``/feeds/{agency}/{id}/{version}.atom``.

One entry per publication and per withdrawal of a version of the dataflow, newest first (at
most :data:`LIMIT`), so MoU pipelines learn of new data without polling the data itself. A
reader sees only what it may know (:func:`cgd_bridge.store.access.saw_publication`): the
anonymous public only open versions whose embargo has passed, and then from the end of the
embargo; with an API key, the key's view (the producer, admins and MoU NSOs see publications
at once, embargoed or restricted). No entry carries data: titles, the dataset, the version,
links to the SDMX data query.

Valid Atom (RFC 4287): the feed and each entry have ``id``, ``title``, ``updated``; the feed
an ``author`` and a ``link rel="self"``. Answers carry an ``ETag`` and ``Last-Modified`` (the
newest entry), and a matching ``If-None-Match`` or ``If-Modified-Since`` gets a 304.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from lxml import etree
from sqlalchemy import select

from cgd_bridge import __version__, i18n
from cgd_bridge.errors import NotFound, StructureError
from cgd_bridge.i18n import N_
from cgd_bridge.server.deps import BridgeDep, NowDep, PrincipalDep, SessionDep
from cgd_bridge.server.http import conditional
from cgd_bridge.store import access
from cgd_bridge.store.models import AuditEntry, Submission, Version

router = APIRouter(tags=["feeds"])
ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
LIMIT = 200
EVENTS = ("version.published", "version.withdrawn")
Part = Annotated[str, Path(pattern=r"^[A-Za-z0-9_@$\-.]{1,100}$")]


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@router.get(
    "/feeds/{agency}/{flow_id}/{version}.atom",
    summary="Atom feed of a dataflow's publications and withdrawals",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}}, 304: {"description": "Not modified"}},
)
def dataflow_feed(
    request: Request,
    bridge: BridgeDep,
    session: SessionDep,
    principal: PrincipalDep,
    now: NowDep,
    agency: Part,
    flow_id: Part,
    version: Part,
) -> Response:
    ref = f"{agency}:{flow_id}({version})"
    try:
        info = bridge.structures.find("dataflow", flow_id, agency, version)
    except StructureError:
        info = None
    if info is None:
        raise NotFound(
            N_("there is no dataflow {ref}"),
            fix=N_("List the dataflows at /sdmx/rest/dataflow."),
            params={"ref": ref},
        )
    t = i18n.translator(i18n.choose(request.query_params.get("lang"), request.headers.get("accept-language")))
    rows = session.execute(
        select(AuditEntry, Version)
        .join(Version, AuditEntry.version_id == Version.id)
        .join(Submission, Version.submission_id == Submission.id)
        .where(
            Submission.agency == agency,
            Submission.dataflow == flow_id,
            Submission.dataflow_version == version,
            AuditEntry.action.in_(EVENTS),
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(LIMIT * 4)
    ).unique()
    self_url = str(request.url.remove_query_params(["apikey", "api_key"]))
    base = str(request.base_url).rstrip("/")
    entries: list[tuple[dt.datetime, etree._Element]] = []
    for entry, v in rows:
        may, early = access.saw_publication(principal, v, now, session=session)
        if not may:
            continue
        when = entry.at
        if entry.action == "version.published" and not early and v.embargo_until is not None:
            when = max(when, v.embargo_until)  # the public learns of it when the embargo ends
        entries.append((when, _entry(entry, v, when, self_url, base, t)))
        if len(entries) >= LIMIT:
            break
    entries.sort(key=lambda e: e[0], reverse=True)
    newest = entries[0][0] if entries else None
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "id", "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, self_url.split("?")[0])))
    _text(feed, "title", t.gettext("{name}: publications", name=info.name or ref) + f" ({ref})")
    _text(
        feed, "subtitle", t.gettext("New and withdrawn versions of citizen-generated data for {ref}", ref=ref)
    )
    _text(feed, "updated", _iso(newest or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "cgd-bridge")
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="self", type=MEDIA_TYPE, href=self_url)
    generator = _text(feed, "generator", "cgd-bridge")
    generator.set("version", __version__)
    for _when, element in entries:
        feed.append(element)
    body = etree.tostring(feed, xml_declaration=True, encoding="utf-8")
    headers = {"Vary": "Accept, Accept-Language, Authorization, X-API-Key"}
    if principal is not None:
        headers["Cache-Control"] = "private"
    return conditional(request, body, MEDIA_TYPE, last_modified=newest, headers=headers)


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM}}}{name}")
    el.text = value
    return el


def _entry(
    entry: AuditEntry, v: Version, when: dt.datetime, self_url: str, base: str, t: i18n.Translator
) -> etree._Element:
    sub = v.submission
    names = {"number": v.number, "dataset": sub.dataset, "producer": sub.producer.name}
    el = etree.Element(f"{{{ATOM}}}entry")
    _text(el, "id", "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self_url.split('?')[0]}#{entry.id}")))
    if entry.action == "version.published":
        title = t.gettext("Published: version {number} of {dataset} ({producer})", **names)
        summary = t.gettext(
            "{producer} published version {number} of {dataset}; pull it over SDMX REST.", **names
        )
    else:
        title = t.gettext("Withdrawn: version {number} of {dataset} ({producer})", **names)
        summary = t.gettext(
            "{producer} withdrew version {number} of {dataset}: it is no longer served.", **names
        )
    _text(el, "title", title)
    _text(el, "updated", _iso(when))
    _text(el, "published", _iso(when))
    author = etree.SubElement(el, f"{{{ATOM}}}author")
    _text(author, "name", sub.producer.name)
    data = f"{base}/sdmx/rest/data/{sub.agency},{sub.dataflow},{sub.dataflow_version}/all"
    etree.SubElement(el, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/versions/{v.id}")
    etree.SubElement(el, f"{{{ATOM}}}link", rel="related", href=data, title="SDMX REST")
    category = etree.SubElement(el, f"{{{ATOM}}}category")
    category.set("term", entry.action)
    _text(el, "summary", summary)
    return el
