"""Who is asking: :class:`Principal`, a signed-in user of an organisation.

Its own module so that the audit trail (``audit.py``), which records who acted, and the
organisations and keys (``orgs.py``), which make principals and write audit rows, do not import
each other; ``orgs`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cgd_bridge.store.models import Role, User


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user of an organisation. The anonymous public has none.

    Attributes:
        user_id, username: e.g. ``7``, ``amina``.
        org_id, org_slug, org_kind: e.g. ``3``, ``knbs``, ``nso``.
        role: ``submitter``, ``reviewer`` or ``admin``.
    """

    user_id: int
    username: str
    org_id: int
    org_slug: str
    org_kind: str
    role: str

    @property
    def is_admin(self) -> bool:
        """True for the platform administrators."""
        return self.role == Role.ADMIN

    @classmethod
    def of(cls, user: User) -> Principal:
        """The principal of a user row."""
        org = user.organisation
        return cls(user.id, user.username, org.id, org.slug, org.kind, user.role)
