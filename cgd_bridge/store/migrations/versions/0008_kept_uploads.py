"""Kept uploads: files sent with the submit page that are not part of a version yet (#17).

On a slow link, a file that failed its check (or was only checked) is kept for its sender for a
day, so the next try need not send it again (:mod:`cgd_bridge.store.kept`). Not read by the
access policy, so no change-counter trigger (0002).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kept_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('data', 'metadata', 'mapping', 'form')", name=op.f("ck_kept_uploads_role")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_kept_uploads_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kept_uploads")),
        sa.UniqueConstraint("token", name=op.f("uq_kept_uploads_token")),
    )
    op.create_index(op.f("ix_kept_uploads_user_id"), "kept_uploads", ["user_id"], unique=False)
    op.create_index(op.f("ix_kept_uploads_expires_at"), "kept_uploads", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_kept_uploads_expires_at"), table_name="kept_uploads")
    op.drop_index(op.f("ix_kept_uploads_user_id"), table_name="kept_uploads")
    op.drop_table("kept_uploads")
