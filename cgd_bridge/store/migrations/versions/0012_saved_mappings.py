"""Saved mappings: the mappings a CSO builds and saves in the web mapping builder (#18),
versioned per organisation and name.

The table is not read by the access policy, so it gets no change-counter trigger (0002).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("dataflow", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_saved_mappings_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_saved_mappings_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_mappings")),
        sa.UniqueConstraint("organisation_id", "name", "number", name="uq_saved_mappings_number"),
    )
    op.create_index(
        op.f("ix_saved_mappings_organisation_id"), "saved_mappings", ["organisation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_saved_mappings_organisation_id"), table_name="saved_mappings")
    op.drop_table("saved_mappings")
