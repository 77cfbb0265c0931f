"""The bridge server's store: everything below the HTTP layer.

The server calls these functions and never writes SQL itself. Modules:

- :mod:`~cgd_bridge.store.db`: engines (SQLite WAL / PostgreSQL), sessions, migrations;
- :mod:`~cgd_bridge.store.models`: the tables;
- :mod:`~cgd_bridge.store.orgs`: organisations, users, passwords, API keys, :class:`Principal`;
- :mod:`~cgd_bridge.store.mous`: MoUs and what they cover;
- :mod:`~cgd_bridge.store.submissions`: versions, the review workflow, reading, lineage;
- :mod:`~cgd_bridge.store.access`: the access policy (one module);
- :mod:`~cgd_bridge.store.data`: observations as Parquet, ``load_table`` and its cache;
- :mod:`~cgd_bridge.store.audit`: the audit log, pulls, history.

Every function takes a :class:`sqlalchemy.orm.Session` first and keyword arguments after it,
raises the errors of :mod:`cgd_bridge.errors` with a fix in the message, and commits its own
transaction (with its audit rows) when it changes anything.
"""

from cgd_bridge.sdmx.refs import FlowRef
from cgd_bridge.store.models import FileRole, OrgKind, Role, State
from cgd_bridge.store.orgs import NewKey, Principal
from cgd_bridge.store.submissions import RawFile

__all__ = ["FileRole", "FlowRef", "NewKey", "OrgKind", "Principal", "RawFile", "Role", "State"]
