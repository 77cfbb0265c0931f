"""Initial schema: organisations, users, keys, MoUs, submissions, versions, files, data, audit.

Written by ``alembic revision --autogenerate`` from ``cgd_bridge/store/models.py`` and tidied by
hand (plain ``sa.DateTime(timezone=True)`` for the models' ``UtcDateTime``, so that migrations
never import the models); ``tests/unit/store/test_db.py`` proves that they still agree.

Revision ID: 0001
Revises: (none)
Created: 2026-11-22 01:43:38.081968
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('cso', 'nso', 'admin')", name=op.f("ck_organisations_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisations_slug")),
    )
    op.create_table(
        "mous",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cso_id", sa.Integer(), nullable=False),
        sa.Column("nso_id", sa.Integer(), nullable=False),
        sa.Column("dataflows", sa.JSON(), nullable=False),
        sa.Column("use_conditions", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cso_id"], ["organisations.id"], name=op.f("fk_mous_cso_id_organisations")),
        sa.ForeignKeyConstraint(["nso_id"], ["organisations.id"], name=op.f("fk_mous_nso_id_organisations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mous")),
    )
    op.create_index("ix_mous_pair", "mous", ["nso_id", "cso_id"], unique=False)

    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("dataflow", sa.String(length=100), nullable=False),
        sa.Column("dataflow_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["producer_id"], ["organisations.id"], name=op.f("fk_submissions_producer_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint(
            "producer_id", "dataset", "agency", "dataflow", "dataflow_version", name="uq_submissions_dataset"
        ),
    )
    op.create_index(
        "ix_submissions_flow", "submissions", ["agency", "dataflow", "dataflow_version"], unique=False
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('submitter', 'reviewer', 'admin')", name=op.f("ck_users_role")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_users_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_organisation_id"), "users", ["organisation_id"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_user_id"), "api_keys", ["user_id"], unique=False)

    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("revision_note", sa.Text(), nullable=True),
        sa.Column("reviewer_comment", sa.Text(), nullable=True),
        sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("licence", sa.String(length=100), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("use_conditions", sa.JSON(), nullable=False),
        sa.Column("dsat_score", sa.Integer(), nullable=True),
        sa.Column("dsat", sa.JSON(), nullable=True),
        sa.Column("mapping_version", sa.String(length=40), nullable=True),
        sa.Column("metadata_version", sa.String(length=40), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("mapping_text", sa.Text(), nullable=False),
        sa.Column("coverage", sa.JSON(), nullable=True),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("series_count", sa.Integer(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("cube", sa.JSON(), nullable=True),
        sa.Column("time_min", sa.String(length=40), nullable=True),
        sa.Column("time_max", sa.String(length=40), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'accepted', 'rejected', 'published', 'withdrawn', 'superseded')",
            name=op.f("ck_versions_state"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_versions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_versions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_versions_submission_id_submissions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("submission_id", "number", name="uq_versions_number"),
    )
    op.create_index("ix_versions_state", "versions", ["state", "submission_id"], unique=False)

    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("dataflow", sa.String(length=300), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("observations", sa.BigInteger(), nullable=True),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_audit_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submissions.id"], name=op.f("fk_audit_submission_id_submissions")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_user_id_users")),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name=op.f("fk_audit_version_id_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    op.create_index("ix_audit_action", "audit", ["action", "at"], unique=False)
    op.create_index("ix_audit_submission", "audit", ["submission_id", "at"], unique=False)
    op.create_index("ix_audit_version", "audit", ["version_id"], unique=False)

    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("role IN ('data', 'metadata', 'mapping', 'form')", name=op.f("ck_files_role")),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"], name=op.f("fk_files_version_id_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    op.create_index(op.f("ix_files_version_id"), "files", ["version_id"], unique=False)

    op.create_table(
        "version_data",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("parquet", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_version_data_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_data")),
    )


def downgrade() -> None:
    op.drop_table("version_data")
    op.drop_index(op.f("ix_files_version_id"), table_name="files")

    op.drop_table("files")
    op.drop_index("ix_audit_version", table_name="audit")
    op.drop_index("ix_audit_submission", table_name="audit")
    op.drop_index("ix_audit_action", table_name="audit")

    op.drop_table("audit")
    op.drop_index("ix_versions_state", table_name="versions")

    op.drop_table("versions")
    op.drop_index(op.f("ix_api_keys_user_id"), table_name="api_keys")

    op.drop_table("api_keys")
    op.drop_index(op.f("ix_users_organisation_id"), table_name="users")

    op.drop_table("users")
    op.drop_index("ix_submissions_flow", table_name="submissions")

    op.drop_table("submissions")
    op.drop_index("ix_mous_pair", table_name="mous")

    op.drop_table("mous")
    op.drop_table("organisations")
