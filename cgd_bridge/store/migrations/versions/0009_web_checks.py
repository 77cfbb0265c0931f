"""Checks of the submit page that run in the background, with their outcome (#17).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_checks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("what", sa.String(length=300), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name=op.f("ck_web_checks_state")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_checks_user_id_users")),
        sa.ForeignKeyConstraint(
            ["version_id"], ["versions.id"], name=op.f("fk_web_checks_version_id_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_checks")),
    )
    op.create_index(op.f("ix_web_checks_user_id"), "web_checks", ["user_id"], unique=False)
    op.create_index(op.f("ix_web_checks_started_at"), "web_checks", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_web_checks_started_at"), table_name="web_checks")
    op.drop_index(op.f("ix_web_checks_user_id"), table_name="web_checks")
    op.drop_table("web_checks")
