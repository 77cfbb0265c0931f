"""MoU raw-files term: whether the NSO may download the files the CSO uploaded (#12).

Existing MoUs get ``false``: raw uploads are the CSO's, and an MoU grants them only when it
says so. A plain ``ADD COLUMN`` (no table rebuild), so SQLite keeps the change-counter
triggers of 0002 on ``mous``; every column of ``mous`` already counts there.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mous", sa.Column("raw_files", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("mous", "raw_files")
