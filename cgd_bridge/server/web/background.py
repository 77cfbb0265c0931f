"""Checks the web pages run in a thread of their own (the submit page's checks, the mapping
builder's preview): started in the store (:mod:`cgd_bridge.store.checks`), finished there with
their outcome or their problem, and waited for as long as ``web_check_wait_seconds`` allows. A
page that waits no longer sends the person to the check's status page; the check goes on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cgd_bridge.errors import CgdBridgeError
from cgd_bridge.store import checks

if TYPE_CHECKING:
    from cgd_bridge.server.app import Bridge
    from cgd_bridge.server.uploads import Inputs
    from cgd_bridge.server.web.pages import Page

log = logging.getLogger(__name__)
T = TypeVar("T")

_CHECKS_LOCK = threading.Lock()


def check_threads(bridge: Bridge) -> ThreadPoolExecutor:
    """The threads that run the pages' checks (each waits on a job worker process), made once
    per app."""
    with _CHECKS_LOCK:
        pool = bridge.extra.get("web_checks")
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=2 * bridge.settings.job_workers, thread_name_prefix="web-check"
            )
            bridge.extra["web_checks"] = pool
    return cast(ThreadPoolExecutor, pool)


def run_check(
    page: Page,
    inputs: Inputs,
    *,
    action: str,
    values: Mapping[str, Any],
    work: Callable[[], T],
    outcome: Callable[[T], tuple[dict[str, Any], int | None]],
) -> tuple[str, T | None]:
    """Run ``work`` as the check ``action`` of the page's person, in a thread of its own.

    The check is stored first (with ``values``, what its status page needs to show it again);
    when ``work`` ends, ``outcome`` gives what the store keeps of its result (and the version it
    stored, if any); when it fails, the store keeps its problem (a :class:`CgdBridgeError`'s, in
    the person's words) or the failure is logged. ``inputs`` are closed once the work ends (or
    here, when the check cannot be started). Returns the check's id and ``work``'s result when
    it ended within ``web_check_wait_seconds``, else None (the check goes on)."""
    principal = page.principal
    assert principal is not None
    bridge = page.bridge
    try:
        check_id = checks.start(
            page.db,
            principal=principal,
            action=action,
            what=inputs.names().get("data", "data"),
            now=page.now,
            values=dict(values),
        )
    except BaseException:
        inputs.close()
        raise

    def run() -> T:
        try:
            result = work()
        except Exception as exc:
            problem = exc.problem if isinstance(exc, CgdBridgeError) else None
            if problem is None:  # a page that waits no more would never log it
                log.exception("the %s check %s failed", action, check_id)
            with bridge.sessions() as session:
                checks.finish(
                    session, check_id, outcome={"problem": problem}, now=bridge.clock(), failed=True
                )
            raise
        finally:
            inputs.close()
        kept, version_id = outcome(result)
        with bridge.sessions() as session:
            checks.finish(session, check_id, outcome=kept, now=bridge.clock(), version_id=version_id)
        return result

    future = check_threads(bridge).submit(run)
    try:
        return check_id, future.result(timeout=bridge.settings.web_check_wait_seconds)
    except FutureTimeout:
        return check_id, None
