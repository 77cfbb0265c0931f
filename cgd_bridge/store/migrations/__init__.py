"""Alembic migrations of the store; ``cgd-bridge db upgrade`` (or ``store.db.upgrade``) runs them."""
