"""A demo database: organisations, people, keys, MoUs, and the bundled examples published.

``cgd-bridge demo`` calls :func:`seed` on a fresh SQLite file and then serves it; the
end-to-end tests use the same function, so the demo is exactly what is tested.

The story: *Sauti ya Walemavu* (a Kenyan CSO of persons with disabilities) submits its health
scorecard to the Kenya National Bureau of Statistics (KNBS), under an MoU; a KNBS reviewer
accepts and publishes it. *Youth Voices Nepal* does the same with the Central Bureau of
Statistics of Nepal (CBS). Both datasets are CC-BY, so the public can pull them too. Sauti's
MoU lets KNBS download the files it uploaded (its scorecard is aggregate data); Youth Voices'
does not (its survey is microdata, which no NSO gets as uploaded whatever the MoU says).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cgd_bridge.clock import system_clock
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.i18n import msg, nmsg
from cgd_bridge.resources import bundled
from cgd_bridge.server.intake import harmonise_and_store
from cgd_bridge.server.uploads import Inputs
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.structures import Structures


def _bundled(path: str) -> Path:
    """``examples/kenya-health-scorecard/data.csv`` in the bundled ``examples`` folder."""
    folder, _, rest = path.partition("/")
    return bundled(folder) / rest


@dataclass(frozen=True)
class Example:
    """A bundled example and who submits it to whom (paths start with their bundled folder)."""

    name: str
    data: str
    metadata: str
    mapping: str
    form: str | None
    cso: str
    nso: str
    raw_files: bool = False  # the MoU's term: the NSO may download the uploaded files


EXAMPLES = (
    Example(
        "kenya-health-scorecard",
        "examples/kenya-health-scorecard/data.csv",
        "examples/kenya-health-scorecard/quality.yaml",
        "mappings/kenya-health-scorecard.yaml",
        None,
        "sauti",
        "knbs",
        raw_files=True,
    ),
    Example(
        "nepal-youth-survey",
        "examples/nepal-youth-survey/data.xlsx",
        "examples/nepal-youth-survey/quality.yaml",
        "mappings/nepal-youth-survey.yaml",
        "examples/nepal-youth-survey/form.xlsx",
        "yuwa",
        "cbs-nepal",
    ),
)
ORGANISATIONS = (
    ("sauti", "Sauti ya Walemavu Health Watch", "cso"),
    ("yuwa", "Youth Voices Nepal", "cso"),
    ("knbs", "Kenya National Bureau of Statistics", "nso"),
    ("cbs-nepal", "Central Bureau of Statistics, Nepal", "nso"),
    ("bridge-admin", "cgd-bridge administrators", "admin"),
)
USERS = (
    ("amina", "sauti", "submitter", "Amina Otieno"),
    ("sita", "yuwa", "submitter", "Sita Gurung"),
    ("kamau", "knbs", "reviewer", "Peter Kamau"),
    ("bikash", "cbs-nepal", "reviewer", "Bikash Shrestha"),
    ("admin", "bridge-admin", "admin", "Administrator"),
)
DEMO_PASSWORD = "demo-password-1"  # noqa: S105 - printed by `cgd-bridge demo`; only for the demo database


@dataclass
class Seeded:
    """What :func:`seed` made: the plain API keys (shown once) and the published versions."""

    keys: dict[str, str] = field(default_factory=dict)
    published: dict[str, int] = field(default_factory=dict)
    #: why an example was not published: a composed message (:func:`cgd_bridge.i18n.msg`)
    skipped: dict[str, dict[str, Any]] = field(default_factory=dict)


def seed(
    session: Session,
    structures: Structures,
    *,
    examples: tuple[Example, ...] = EXAMPLES,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Seeded:
    """Create the demo organisations, users, keys and MoUs, and publish the examples.

    An example that cannot be converted is recorded in ``skipped`` with the reason (the
    demo still starts with the others). ``progress`` is told each step as a composed message
    (:func:`cgd_bridge.i18n.msg`), for the caller to show in its language.
    """
    say = progress or (lambda _msg: None)
    out = Seeded()
    for slug, name, kind in ORGANISATIONS:
        orgs.create_organisation(session, slug=slug, name=name, kind=kind)
    for username, org, role, display in USERS:
        orgs.create_user(
            session,
            username=username,
            organisation=org,
            role=role,
            display_name=display,
            password=DEMO_PASSWORD,
        )
        out.keys[username] = orgs.create_key(session, username=username, label="demo").key
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)
    principals = {u: _principal(session, u) for u, *_ in USERS}
    for ex in examples:
        submitter = principals[next(u for u, org, *_ in USERS if org == ex.cso)]
        reviewer = principals[next(u for u, org, *_ in USERS if org == ex.nso)]
        try:
            say(msg("converting {name}", name=ex.name))
            with Inputs() as inputs:
                inputs.file("data", _bundled(ex.data))
                inputs.file("metadata", _bundled(ex.metadata))
                inputs.file("mapping", _bundled(ex.mapping))
                if ex.form:
                    inputs.file("form", _bundled(ex.form))
                intake = harmonise_and_store(
                    session,
                    inputs,
                    principal=submitter,
                    structures=structures,
                    clock=system_clock,
                    submit=True,
                )
        except CgdBridgeError as exc:
            out.skipped[ex.name] = exc.sentence()
            continue
        v, dataflow = intake.version, intake.harmonisation.dataflow
        if v is None or dataflow is None:
            errors = intake.report.error_count
            out.skipped[ex.name] = nmsg("validation found {n} error", "validation found {n} errors", errors)
            continue
        mous.create_mou(
            session,
            cso=ex.cso,
            nso=ex.nso,
            dataflows=[dataflow],
            valid_until=until,
            use_conditions=["statistical_purposes_only", "cite_source"],
            raw_files=ex.raw_files,
        )
        submissions.accept(session, principal=reviewer, version_id=v.id, comment="Checked against the MoU.")
        submissions.publish(session, principal=reviewer, version_id=v.id)
        out.published[ex.name] = v.id
        say(
            nmsg(
                "published {name} ({dataflow}, {n} observation)",
                "published {name} ({dataflow}, {n} observations)",
                v.observations,
                name=ex.name,
                dataflow=dataflow,
            )
        )
    return out


def _principal(session: Session, username: str) -> Principal:
    return Principal.of(orgs.get_user(session, username=username))
