"""The store's tables (SQLAlchemy 2 typed declarative); the migrations create exactly these.

Tables, in dependency order:

- ``organisations``: CSOs, NSOs and the platform's administrators (``kind``).
- ``users``: people of an organisation with one role (``submitter``, ``reviewer``, ``admin``)
  and an optional scrypt password hash.
- ``api_keys``: ``cgdb_<prefix>_<secret>`` keys; only the prefix (public) and the SHA-256 of the
  whole key are kept.
- ``mous``: which NSO may read which of a CSO's dataflows (``["*"]`` = all), under which use
  conditions, from when until when, and whether it may download the CSO's uploaded files.
- ``submissions``: one dataset of one producing organisation for one dataflow;
  ``versions``: its immutable, numbered versions and their workflow state;
  ``files``: the raw inputs of each version (bytes + SHA-256);
  ``version_data``: each version's harmonised observations as ONE zstd Parquet blob.
- ``audit``: every state change and every pull.
- ``official_series``: reference data an NSO loaded for a dataflow (its observations as one
  zstd Parquet blob, the raw file with its SHA-256), drawn beside the CGD series.
- ``metadata_drafts``: quality-metadata records a CSO's people saved from the web form, unfinished.
- ``rate_usage``: requests per rate-limit identity and one-minute window, summed over the
  server's workers (the shared rate limit).
- ``password_resets``: one-time password-reset links (their tokens' SHA-256).
- ``user_identities``: the link of a user to an account at an OpenID Connect provider
  (issuer and ``sub``), made at the first sign-in with it (:mod:`cgd_bridge.store.identities`).
- ``kept_uploads``: files a person uploaded on the submit page that were not stored as a version
  yet (a failed or check-only upload), kept for a day so a slow link need not send them again.
- ``web_checks``: checks of the submit page that run in the background, with their outcome, so
  the person can leave the status page and come back (a day).
- ``webhooks``: the endpoints organisations registered for event deliveries (#19);
  ``outbox``: every notification (webhook delivery, e-mail) written in the transaction of the
  event that caused it, then delivered by a background worker (:mod:`cgd_bridge.store.outbox`);
  ``digest_marks``: up to when an organisation's pull digest has been sent.

Times are stored in UTC (:class:`UtcDateTime`: aware datetimes in, aware UTC datetimes out, on
SQLite as on PostgreSQL). Enumerations are short strings guarded by CHECK constraints, so that
adding a state is a migration of a constraint, not of a database enum type.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

UTC = dt.UTC


class OrgKind(StrEnum):
    """What an organisation is."""

    CSO = "cso"
    NSO = "nso"
    ADMIN = "admin"


def a_kind(kind: str) -> str:
    """``kind`` with its article, for messages: ``a CSO``, ``an NSO``, ``an admin organisation``."""
    return {"cso": "a CSO", "nso": "an NSO"}.get(kind, f"an {kind} organisation")


class Role(StrEnum):
    """What a user may do: submit (CSO), review and publish (NSO), or administer everything."""

    SUBMITTER = "submitter"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class State(StrEnum):
    """Workflow states of a version (see :mod:`cgd_bridge.store.submissions`)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class FileRole(StrEnum):
    """Which input a stored file is."""

    DATA = "data"
    METADATA = "metadata"
    MAPPING = "mapping"
    FORM = "form"


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(m.value) for m in enum)})"


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone: naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware (UTC) datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(UTC)


#: The largest id a row can have: ids are INTEGER (32-bit on PostgreSQL). A path or form naming a
#: larger one names nothing, and is refused before any query (it would overflow the parameter).
MAX_ID = 2**31 - 1

# BIGINT on PostgreSQL, INTEGER PRIMARY KEY (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base; ``Base.metadata`` is what the migrations must match."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Organisation(Base):
    """A CSO, an NSO or the platform's administrators.

    Attributes:
        slug: the short id used in commands and URLs, e.g. ``sauti-ya-walemavu``.
        name: e.g. ``Sauti ya Walemavu Health Watch``.
        kind: ``cso``, ``nso`` or ``admin``.
    """

    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint(_in("kind", OrgKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    pull_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    """A person (or a system) acting for one organisation, with one role.

    Attributes:
        username: unique over the whole server, e.g. ``amina``.
        password_hash: ``scrypt$n$r$p$salt$hash`` (base64), or None for key-only users.
        active: False blocks every key, the password and every identity-provider sign-in
            without deleting the audit trail.
        email: the person's e-mail address, lower-case, unique, or None: where notifications go
            (#19), and a sign-in through the identity provider with this address, verified
            there, is this user's.
        language: the language of the e-mails (``sw``, ``bn``...); None: English.
        session_epoch: the generation of the user's web sessions: a session remembers the one
            it was signed in under, and is over once it changed (a password reset, a
            reactivation, :mod:`cgd_bridge.store.orgs`).
    """

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        Index("ix_users_email", "email", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str | None] = mapped_column(String(16))
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="joined")


class ApiKey(Base):
    """An API key ``cgdb_<prefix>_<secret>``: the prefix is public, only the key's SHA-256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Mou(Base):
    """A memorandum of understanding: an NSO may read a CSO's dataflows under conditions.

    Attributes:
        dataflows: dataflow references, ``AGENCY:ID(VERSION)``, ``AGENCY:ID`` (any version)
            or ``*`` (every dataflow of the CSO).
        use_conditions: e.g. ``["statistical_purposes_only", "cite_source"]``.
        valid_from, valid_until: the MoU covers this interval (UTC).
        revoked_at: set when the MoU ends early.
        raw_files: the CSO lets the NSO download the files it uploaded (data, form, metadata,
            mapping) of the covered dataflows, not only what is published; False unless the
            MoU says so, and never for microdata (:func:`cgd_bridge.store.access.may_read_raw`).
    """

    __tablename__ = "mous"
    __table_args__ = (Index("ix_mous_pair", "nso_id", "cso_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cso_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    nso_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    dataflows: Mapped[list[Any]] = mapped_column(JSON)
    use_conditions: Mapped[list[Any]] = mapped_column(JSON)
    valid_from: Mapped[dt.datetime]
    valid_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    raw_files: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    cso: Mapped[Organisation] = relationship(foreign_keys=[cso_id], lazy="joined")
    nso: Mapped[Organisation] = relationship(foreign_keys=[nso_id], lazy="joined")


class Submission(Base):
    """One dataset of one producing organisation for one dataflow; holds numbered versions.

    Attributes:
        dataset: the quality metadata's ``dataset.id``, e.g. ``ke-health-scorecard-2024``.
        agency, dataflow, dataflow_version: the target dataflow, e.g.
            ``IAEG-SDGs``, ``DF_SDG_GLH``, ``1.5``.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint(
            "producer_id", "dataset", "agency", "dataflow", "dataflow_version", name="uq_submissions_dataset"
        ),
        Index("ix_submissions_flow", "agency", "dataflow", "dataflow_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    dataset: Mapped[str] = mapped_column(String(200))
    agency: Mapped[str] = mapped_column(String(100))
    dataflow: Mapped[str] = mapped_column(String(100))
    dataflow_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    producer: Mapped[Organisation] = relationship(lazy="joined")
    versions: Mapped[list[Version]] = relationship(back_populates="submission", order_by="Version.number")

    @property
    def dataflow_ref(self) -> str:
        """``AGENCY:ID(VERSION)``."""
        return f"{self.agency}:{self.dataflow}({self.dataflow_version})"


class Version(Base):
    """An immutable, numbered version of a submission and where it is in the workflow.

    The large columns (report, metadata, mapping text, coverage, cube, DSAT verdict) are
    loaded only when read, so that listing versions for a pull stays cheap.

    Only the workflow columns (``state``, ``reviewer_comment``, ``decided_*``, ``submitted_at``,
    ``published_at``, ``embargo_until`` before publication) ever change; the data, report,
    metadata, mapping and files never do.

    Attributes:
        number: 1, 2, ... within the submission.
        state: see :class:`State`.
        embargo_until: nobody but the producer and MoU reviewers sees data or metadata before.
        licence, is_open: e.g. ``CC-BY-4.0``, True (open data may be read by anyone once
            published and past its embargo).
        dsat_score: the DSAT self-assessment total (0-15), None when not filled in.
        mapping_version, metadata_version: the mapping's ``version`` and the metadata's
            ``dataset.version``.
        dimensions, attributes: the harmonised table's dimension ids (key order) and attributes.
        cube: per dimension, the distinct codes present (for availability queries).
        time_min, time_max: the first and last TIME_PERIOD.
        published_at: when it was published (SDMX ``updatedAfter`` compares with it).
    """

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("submission_id", "number", name="uq_versions_number"),
        CheckConstraint(_in("state", State), name="state"),
        Index("ix_versions_state", "state", "submission_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    revision_note: Mapped[str | None] = mapped_column(Text)
    reviewer_comment: Mapped[str | None] = mapped_column(Text)
    embargo_until: Mapped[dt.datetime | None]
    licence: Mapped[str | None] = mapped_column(String(100))
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    use_conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    dsat_score: Mapped[int | None] = mapped_column(Integer)
    dsat: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    mapping_version: Mapped[str | None] = mapped_column(String(40))
    metadata_version: Mapped[str | None] = mapped_column(String(40))
    report: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    metadata_json: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, deferred=True)
    mapping_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    observations: Mapped[int] = mapped_column(Integer, default=0)
    series_count: Mapped[int] = mapped_column(Integer, default=0)
    dimensions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    attributes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cube: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    time_min: Mapped[str | None] = mapped_column(String(40))
    time_max: Mapped[str | None] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]

    submission: Mapped[Submission] = relationship(back_populates="versions", lazy="joined")
    files: Mapped[list[StoredFile]] = relationship(order_by="StoredFile.id", viewonly=True)

    @property
    def dataflow_ref(self) -> str:
        """Its submission's ``AGENCY:ID(VERSION)``."""
        return self.submission.dataflow_ref

    def embargoed(self, now: dt.datetime) -> bool:
        """True while the embargo holds."""
        return self.embargo_until is not None and now < self.embargo_until


class StoredFile(Base):
    """A raw input of a version, kept byte for byte with its SHA-256 (never changed)."""

    __tablename__ = "files"
    __table_args__ = (CheckConstraint(_in("role", FileRole), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class VersionData(Base):
    """A version's harmonised observations: one Parquet (zstd) blob with every column."""

    __tablename__ = "version_data"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    parquet: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class AuditEntry(Base):
    """One line of the audit log: a state change or a pull.

    Attributes:
        action: e.g. ``version.accepted``, ``data.pulled``.
        user_id, organisation_id: who (None for the anonymous public or the local admin CLI).
        query: the request as asked, e.g. ``/sdmx/rest/data/DF_CGD_KE/A..KE_042?startPeriod=2024``.
        observations: how many observations a pull returned.
        client: the client address.
    """

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_submission", "submission_id", "at"),
        Index("ix_audit_version", "version_id"),
        Index("ix_audit_action", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    dataflow: Mapped[str | None] = mapped_column(String(300))
    query: Mapped[str | None] = mapped_column(Text)
    observations: Mapped[int | None] = mapped_column(BigInteger)
    client: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship(lazy="joined")
    organisation: Mapped[Organisation | None] = relationship(lazy="joined")


class OfficialSeries(Base):
    """Official reference data an NSO loaded for a dataflow, drawn beside the CGD series.

    Not read by the access policy (so no change-counter trigger): who sees it is decided by
    :func:`cgd_bridge.store.official.can_see` from ``nso_id`` and ``is_public``.

    Attributes:
        nso_id: the NSO whose data it is (its people and admins see it; everyone once public).
        agency, dataflow, dataflow_version: e.g. ``CGD_BRIDGE``, ``DF_CGD_KE``, ``1.0``.
        label: the source as shown in legends, e.g. ``KNBS KDHS 2022``.
        note: an optional longer source note.
        is_public: the NSO marked it public.
        format: ``sdmx-csv-1.0``, ``sdmx-csv-2.0`` or ``sdmx-ml-2.1``.
        filename, media_type, size, sha256, content: the raw file as uploaded.
        data_sha256, parquet: the checked observations, one zstd Parquet blob.
    """

    __tablename__ = "official_series"
    __table_args__ = (Index("ix_official_series_flow", "agency", "dataflow", "dataflow_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nso_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    agency: Mapped[str] = mapped_column(String(100))
    dataflow: Mapped[str] = mapped_column(String(100))
    dataflow_version: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    format: Mapped[str] = mapped_column(String(40))
    observations: Mapped[int] = mapped_column(Integer, default=0)
    dimensions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    time_min: Mapped[str | None] = mapped_column(String(40))
    time_max: Mapped[str | None] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    data_sha256: Mapped[str] = mapped_column(String(64))
    parquet: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    nso: Mapped[Organisation] = relationship(lazy="joined")
    loaded_by: Mapped[User | None] = relationship(lazy="joined")

    @property
    def dataflow_ref(self) -> str:
        """``AGENCY:ID(VERSION)``."""
        return f"{self.agency}:{self.dataflow}({self.dataflow_version})"


class MetadataDraft(Base):
    """A quality-metadata record a CSO saved from the web form, to resume or submit later.

    Not read by the access policy (no change-counter trigger): a draft belongs to its
    organisation, whose people (and admins) see it (:mod:`cgd_bridge.store.drafts`).

    Attributes:
        organisation_id: the CSO whose draft it is.
        name: what the list shows, e.g. the record's ``dataset.id`` ``ke-health-scorecard-2024``.
        record: the record as the form gave it (may be incomplete).
    """

    __tablename__ = "metadata_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id], lazy="joined")


class Generation(Base):
    """One row (``id`` 1) whose ``value`` goes up with every commit that changes who may read what.

    Database triggers (migration 0002) bump it on any insert, update or delete of
    organisations, users, API keys (but their ``last_used_at``), MoUs, submissions and
    versions, in the changing transaction itself; :mod:`cgd_bridge.store.generation` reads it.
    """

    __tablename__ = "bridge_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class RateUsage(Base):
    """Requests one identity made in one fixed one-minute window, summed over every worker.

    ``identity`` is what the rate limit counts: an API key's public prefix, or ``ip:ADDRESS``
    without a key. Each worker adds the requests it allowed (an upsert every ~0.25 s) and reads
    the total back (:mod:`cgd_bridge.server.ratelimit`). Not read by the access policy (no
    change-counter trigger); rows older than two minutes are deleted by the workers.

    Attributes:
        window_start: the UTC minute the window starts at (seconds and below zero).
        count: the requests allowed in it so far, by all workers.
    """

    __tablename__ = "rate_usage"

    identity: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)


class EndedSession(Base):
    """A web session that was signed out: its cookie signs nobody in any more.

    The session cookie is signed, not stored; without this, a copy of it taken before sign-out
    stayed valid until it expired (#14). Each row lives until the session would have expired
    anyway (``expires_at``), then is deleted when a later sign-out comes by. Not read by the
    access policy (no change-counter trigger).

    Attributes:
        session_id: the random id the cookie carries (``s``).
        expires_at: when the session would have ended by itself.
    """

    __tablename__ = "ended_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class UserIdentity(Base):
    """A user's account at an OpenID Connect provider: the provider's ``iss`` and ``sub``.

    Made the first time the person signs in through the provider (matched by verified e-mail or
    provisioned by a rule, :mod:`cgd_bridge.store.identities`); from then on the link, not the
    e-mail address, says who they are. Not read by the access policy (no change-counter
    trigger): the user's row decides what they may do.

    Attributes:
        issuer: the provider's issuer URL, e.g. ``https://login.knbs.or.ke/realms/staff``.
        subject: the provider's stable id of the person (``sub``).
        email: the address the provider gave at the last sign-in, for the admin pages.
    """

    __tablename__ = "user_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_user_identities_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class PasswordReset(Base):
    """A one-time password-reset link an administrator made for a user (#19).

    Only the SHA-256 of the link's token is kept; the link works once (``used_at``), until
    ``expires_at``, and a newer link for the same user replaces it
    (:func:`cgd_bridge.store.orgs.create_reset`).
    Not read by the access policy (no change-counter trigger).
    """

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class KeptUpload(Base):
    """A file sent with the submit page that is not (yet) part of a version, kept for its sender.

    On a slow link a 7 MB file takes minutes to send; when the check finds errors, or the person
    only asked for a check, the page offers the files already received instead of asking for them
    again (#17). One row per user and role at most (a new upload of the role replaces it);
    deleted when a version is stored from it, when the user uploads anew, or a day later
    (:mod:`cgd_bridge.store.kept`). Only its sender can use it, by a random token the page
    carries. Not read by the access policy (no change-counter trigger).

    Attributes:
        token: random, URL-safe; what the form's hidden field carries.
        user_id: who sent it (only they can use it).
        role, filename, media_type, size, sha256, content: the file as received.
        expires_at: when it is deleted.
    """

    __tablename__ = "kept_uploads"
    __table_args__ = (CheckConstraint(_in("role", FileRole), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


class CheckState(StrEnum):
    """Where a check of the submit page is."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class WebCheck(Base):
    """A check started from the submit page, and its outcome once it ends (#17).

    A long check (a large file, a slow machine) goes on after the page stops waiting for it; the
    person is sent to its status page, which they can leave and come back to, from any host
    (the outcome is here, not in a process). Only its owner sees it. Deleted a day after it
    started (:mod:`cgd_bridge.store.checks`). Not read by the access policy.

    Attributes:
        id: random, URL-safe: the status page's address.
        user_id: who started it.
        action: ``check``, ``draft`` or ``submit``; ``preview`` for the mapping builder's.
        state: ``running``, ``done`` or ``failed``.
        what: the data file's name, for the status page.
        outcome: what the page shows when it ended (status, report, note, errors, the form's
            values with the kept files), or the failure's message.
        version_id: the version stored by it, if any.
    """

    __tablename__ = "web_checks"
    __table_args__ = (CheckConstraint(_in("state", CheckState), name="state"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    what: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    finished_at: Mapped[dt.datetime | None]
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))


class Channel(StrEnum):
    """How a notification travels."""

    WEBHOOK = "webhook"
    EMAIL = "email"


class Delivery(StrEnum):
    """Where a notification is: waiting (also between retries), delivered, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(Base):
    """An endpoint an organisation registered to receive events (#19).

    Attributes:
        url: ``https://etl.knbs.example/cgd-bridge`` (a loopback or private address is refused
            at registration and again at each delivery, unless the server allows them).
        events: the event names it wants, e.g. ``["version.published", "version.withdrawn"]``.
        secret: the HMAC-SHA256 key of the signatures, shown once at registration (kept here
            because the server signs with it).
        revoked_at: set when the endpoint is removed; its deliveries stay in the log.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class OutboxItem(Base):
    """One notification to deliver: written in the transaction of its event, delivered later.

    Attributes:
        uid: the delivery's idempotency id (a UUID), sent with every attempt; a receiver that
            saw it already has it (delivery is at least once).
        event: e.g. ``version.published``, ``pulls.digest``.
        channel: ``webhook`` or ``email``.
        organisation_id: whose delivery log it is in (the webhook's or the recipient's
            organisation).
        webhook_id, recipient, language: the endpoint, or the e-mail address and its language.
        payload: the event's facts (JSON), the webhook body's ``data``.
        state: ``pending``, ``delivered`` or ``failed`` (attempts ran out).
        attempts, next_attempt_at, last_error, last_status: the retries so far.
        locked_until: a worker holds it until then (a lease: a worker that died lets it go).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("channel", Channel), name="channel"),
        CheckConstraint(_in("state", Delivery), name="state"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_organisation", "organisation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    webhook_id: Mapped[int | None] = mapped_column(ForeignKey("webhooks.id"))
    recipient: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=Delivery.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)

    webhook: Mapped[Webhook | None] = relationship(lazy="joined")


class DigestMark(Base):
    """Up to when an organisation's pull digest was sent: the next one starts there."""

    __tablename__ = "digest_marks"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    until: Mapped[dt.datetime]


class SavedMapping(Base):
    """One version of a mapping a CSO saved from the web mapping builder (#18).

    Saving a mapping of the same name again makes its next version; every version stays, so a
    submission made with version 1 can be traced to it. Only the organisation's own people see
    and use its mappings (:mod:`cgd_bridge.store.mappings`). Not read by the access policy (no
    change-counter trigger).

    Attributes:
        organisation_id: the CSO whose mapping it is.
        name: what the lists show and what versions share, e.g. ``mw-water-points``.
        number: the version, 1, 2, ... per organisation and name.
        dataflow: the target dataflow, ``AGENCY:ID(VERSION)``.
        text: the ``cgd-mapping/1.0`` YAML as the builder wrote it.
        note: what changed (optional).
    """

    __tablename__ = "saved_mappings"
    __table_args__ = (UniqueConstraint("organisation_id", "name", "number", name="uq_saved_mappings_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    dataflow: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")
