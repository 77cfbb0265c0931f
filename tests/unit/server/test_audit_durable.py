"""Durable pull records (CGD_BRIDGE_AUDIT_DURABLE): data is answered only once its pull is committed.

Without it, pull records are committed in batches a little after the answer (a process killed
hard loses at most one interval of them); with it, each request awaits its batch's commit
(group commit), and a database that cannot record the pull makes the request a 503 without
the data.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, text

from cgd_bridge.errors import StoreError
from cgd_bridge.server.audit_writer import Receipt
from cgd_bridge.store.models import AuditEntry
from tests.unit.server.conftest import World, publish


def _pulls(world: World) -> int:
    with world.bridge.engine.connect() as c:
        return c.execute(select(func.count()).where(AuditEntry.action == "data.pulled")).scalar_one()


@pytest.mark.world_settings(audit_durable=True, audit_interval_seconds=5.0)
def test_the_pull_is_committed_before_the_answer(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    for n in range(1, 4):
        assert world.get(world.series, "kamau") == 200
        assert _pulls(world) == n  # read at once by another connection: no flush, no wait
    assert world.get(world.series.replace("KE_042", "KE_999"), "kamau") == 404  # a miss is a pull too
    assert _pulls(world) == 4


@pytest.mark.world_settings(audit_durable=True)
def test_no_audit_no_data(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    assert world.get(world.series, "kamau") == 200
    with world.bridge.engine.begin() as c:
        c.execute(text("ALTER TABLE audit RENAME TO audit_away"))
    try:
        r = world.client.get(world.series, headers={"Authorization": f"Bearer {world.keys['kamau']}"})
        assert r.status_code == 503, r.text[:300]
        assert "audit" in r.text
        assert "OBS_VALUE" not in r.text
    finally:
        with world.bridge.engine.begin() as c:
            c.execute(text("ALTER TABLE audit_away RENAME TO audit"))
    assert world.get(world.series, "kamau") == 200
    assert _pulls(world) == 2  # the refused pull left no row


def test_batched_mode_answers_before_the_commit(world: World, kenya) -> None:
    with world.bridge.sessions() as session:
        publish(session, kenya, world.producer, world.reviewer, "open")
    writer = world.bridge.audit
    held = threading.Event()  # the writer thread's commits wait for it
    insert = writer._insert

    def held_insert(*args: Any) -> None:
        held.wait(60)
        insert(*args)

    writer._insert = held_insert  # type: ignore[method-assign]
    try:
        assert world.get(world.series, "kamau") == 200
        assert world.get(world.series, "kamau") == 200
        assert _pulls(world) == 0  # answered while no commit could happen
    finally:
        held.set()
    assert writer.flush()
    assert _pulls(world) == 2


def test_a_receipt_times_out_and_reports_failures() -> None:
    r = Receipt()
    with pytest.raises(StoreError, match=r"within 0\.05 s"):
        r.wait(0.05)
    with pytest.raises(StoreError, match=r"within 0\.05 s"):
        asyncio.run(r.wait_async(0.05))
    failed = Receipt()
    failed._finish(RuntimeError("disk full"))
    with pytest.raises(StoreError, match="disk full"):
        failed.wait(1)

    async def finished_by_another_thread() -> None:
        ok = Receipt()
        threading.Timer(0.05, ok._finish).start()  # the writer thread commits a little later
        await ok.wait_async(60)

    asyncio.run(finished_by_another_thread())  # no StoreError: it was told
