"""A change counter: ``bridge_generation.value`` goes up with every commit that changes access.

Triggers on the tables the access policy reads (organisations, users, API keys, MoUs,
submissions, versions) add one to the single row of ``bridge_generation`` in the same
transaction, so the new value becomes visible exactly when the change does (a sequence would
not do: it moves before commit and also on rollback). The server reads the counter once per
request and keeps who-may-read-what per value (``cgd_bridge/server/access_cache.py``).

``api_keys.last_used_at`` is left out (it is touched as keys are used and changes no right),
and so are the tables that only grow with a version (files, version data) and the audit log.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> the columns whose UPDATE counts (None: every column)
TRACKED: dict[str, tuple[str, ...] | None] = {
    "organisations": None,
    "users": None,
    "api_keys": ("user_id", "prefix", "key_sha256", "revoked_at", "expires_at"),
    "mous": None,
    "submissions": None,
    "versions": None,
}
_BUMP = "UPDATE bridge_generation SET value = value + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "bridge_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_generation")),
    )
    op.execute("INSERT INTO bridge_generation (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bridge_generation_bump() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_BUMP}; RETURN NULL; END $$"
        )
        for table, columns in TRACKED.items():
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            op.execute(
                f"CREATE TRIGGER bridge_generation_{table} AFTER INSERT OR DELETE OR {update} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bridge_generation_bump()"
            )
        return
    for table, columns in TRACKED.items():
        for event in ("INSERT", "DELETE", f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"):
            name = f"bridge_generation_{table}_{event.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {_BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TRACKED:
            op.execute(f"DROP TRIGGER bridge_generation_{table} ON {table}")
        op.execute("DROP FUNCTION bridge_generation_bump()")
    else:
        for table in TRACKED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER bridge_generation_{table}_{event}")
    op.drop_table("bridge_generation")
