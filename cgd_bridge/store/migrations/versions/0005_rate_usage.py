"""Rate usage: requests per API key (or client address) and one-minute window, over all workers.

The server's workers add the requests they allowed to their window's row and read the others'
back (``cgd_bridge/server/ratelimit.py``), so the per-key rate limit holds across worker
processes and hosts. The table is not read by the access policy, so it gets no change-counter
trigger (0002); rows older than two minutes are deleted by the workers.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_usage",
        sa.Column("identity", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", "window_start", name=op.f("pk_rate_usage")),
    )
    # each sync reads the current window's rows; old windows are deleted by their start
    op.create_index(op.f("ix_rate_usage_window_start"), "rate_usage", ["window_start"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_usage_window_start"), table_name="rate_usage")
    op.drop_table("rate_usage")
