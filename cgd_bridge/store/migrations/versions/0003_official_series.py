"""Official series: reference data an NSO loads for a dataflow, drawn beside the CGD series.

The table is not read by the access policy, so it gets no change-counter trigger (0002).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "official_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nso_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=100), nullable=False),
        sa.Column("dataflow", sa.String(length=100), nullable=False),
        sa.Column("dataflow_version", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("loaded_by_id", sa.Integer(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("format", sa.String(length=40), nullable=False),
        sa.Column("observations", sa.Integer(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("time_min", sa.String(length=40), nullable=True),
        sa.Column("time_max", sa.String(length=40), nullable=True),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("data_sha256", sa.String(length=64), nullable=False),
        sa.Column("parquet", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loaded_by_id"], ["users.id"], name=op.f("fk_official_series_loaded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["nso_id"], ["organisations.id"], name=op.f("fk_official_series_nso_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_official_series")),
    )
    op.create_index(
        "ix_official_series_flow", "official_series", ["agency", "dataflow", "dataflow_version"], unique=False
    )
    op.create_index(op.f("ix_official_series_nso_id"), "official_series", ["nso_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_official_series_nso_id"), table_name="official_series")
    op.drop_index("ix_official_series_flow", table_name="official_series")
    op.drop_table("official_series")
