"""A demo database: organisations, people, keys, MoUs, and the bundled examples published.

``cgd-bridge demo`` calls :func:`seed` on a fresh SQLite file and then serves it; the
end-to-end tests use the same function, so the demo is exactly what is tested.

The story: *Sauti ya Walemavu* (a Kenyan CSO of persons with disabilities) submits its health
scorecard to the Kenya National Bureau of Statistics (KNBS), under an MoU; a KNBS reviewer
accepts and publishes it. *Youth Voices Nepal* does the same with the Central Bureau of
Statistics of Nepal (CBS). Both datasets are CC-BY, so the public can pull them too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from cgd_bridge import pipeline
from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.resources import bundled
from cgd_bridge.store import mous, orgs, submissions
from cgd_bridge.store.orgs import Principal
from cgd_bridge.store.submissions import RawFile
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


EXAMPLES = (
    Example(
        "kenya-health-scorecard",
        "examples/kenya-health-scorecard/data.csv",
        "examples/kenya-health-scorecard/quality.yaml",
        "mappings/kenya-health-scorecard.yaml",
        None,
        "sauti",
        "knbs",
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
    skipped: dict[str, str] = field(default_factory=dict)


def seed(
    session: Session,
    structures: Structures,
    *,
    examples: tuple[Example, ...] = EXAMPLES,
    progress: Callable[[str], None] | None = None,
) -> Seeded:
    """Create the demo organisations, users, keys and MoUs, and publish the examples.

    An example that cannot be converted is recorded in ``skipped`` with the reason (the
    demo still starts with the others).
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
        try:
            say(f"converting {ex.name}")
            result = pipeline.harmonise(
                _bundled(ex.data),
                metadata=_bundled(ex.metadata),
                mapping=_bundled(ex.mapping),
                form=_bundled(ex.form) if ex.form else None,
                structures=structures,
            )
        except CgdBridgeError as exc:
            out.skipped[ex.name] = exc.message
            continue
        if result.harmonised is None or result.target is None or result.dataflow is None:
            out.skipped[ex.name] = f"validation found {result.report.error_count} error(s)"
            continue
        mous.create_mou(
            session,
            cso=ex.cso,
            nso=ex.nso,
            dataflows=[result.dataflow],
            valid_until=until,
            use_conditions=["statistical_purposes_only", "cite_source"],
        )
        files = [
            RawFile("data", Path(ex.data).name, _bundled(ex.data).read_bytes()),
            RawFile("metadata", Path(ex.metadata).name, _bundled(ex.metadata).read_bytes()),
            RawFile("mapping", Path(ex.mapping).name, _bundled(ex.mapping).read_bytes()),
        ]
        if ex.form:
            files.append(RawFile("form", Path(ex.form).name, _bundled(ex.form).read_bytes()))
        submitter = principals[next(u for u, org, *_ in USERS if org == ex.cso)]
        reviewer = principals[next(u for u, org, *_ in USERS if org == ex.nso)]
        v = submissions.create_version(session, result, principal=submitter, files=files, submit=True)
        submissions.accept(session, principal=reviewer, version_id=v.id, comment="Checked against the MoU.")
        submissions.publish(session, principal=reviewer, version_id=v.id)
        out.published[ex.name] = v.id
        say(f"published {ex.name} ({result.dataflow}, {v.observations} observations)")
    return out


def _principal(session: Session, username: str) -> Principal:
    return Principal.of(orgs.get_user(session, username=username))
