"""Prometheus metrics of the bridge server, at ``GET /metrics`` (#19), by ``prometheus-client``.

What is counted (names begin ``cgd_bridge_``):

- ``http_requests_total{method, route, status}`` and ``http_request_duration_seconds{method,
  route}`` (a histogram): ``route`` is the route's *template* (``/sdmx/rest/data/{flow}/{key}``),
  never the raw path, so the number of series stays bounded whatever clients ask; a path no
  route answers is ``(unmatched)``;
- ``pulls_total{format, auth}``: data pulls by the representation served (``sdmx-csv-2.0``,
  ``sdmx-ml-2.1-ss``..., ``download`` for the web pages' downloads) and who asked
  (``anonymous``, ``key`` for an API key, ``session`` for a signed-in web page);
- ``submissions_total{outcome}``: uploads checked: ``stored`` (a version was stored), ``checked``
  (checked only, nothing stored), ``invalid`` (validation errors, nothing stored) and
  ``refused`` (could not be read within the limits, or refused by the store);
- ``audit_queue_depth``: pull records waiting for the audit writer's next commit;
- ``jobs_busy`` and ``jobs_queued``: upload jobs running in worker processes, and waiting for one.

**Several workers** (``serve --workers N``): :func:`prepare_multiprocess`, called by
``cgd-bridge serve`` before any worker starts, makes a new directory for this run (removed when
the server stops) and names it in ``PROMETHEUS_MULTIPROC_DIR``; every worker then keeps its values
in files there, and a scrape, answered by any one worker, sums them all (prometheus-client's
multiprocess mode; the gauges sum the living workers: a worker that stops removes its own, and a
scrape removes those of workers that were killed, :func:`forget_dead_workers`).
Without it (the app in one process, as tests build it) the values live in the process.

**Who may read it**: metrics tell how often each dataflow is pulled, so ``/metrics`` is closed by
default to all but the server's own machine: :class:`~cgd_bridge.settings.Settings`'
``metrics_allow`` (client networks, default loopback only; empty closes it to every address) and
``metrics_token`` (``Authorization: Bearer <token>`` from anywhere). The client address is the one
the trusted proxy gives (``--proxy-headers``), so a proxy on loopback does not open it to the
world. ``/metrics`` is not in the OpenAPI document and not rate-limited.
"""

from __future__ import annotations

import atexit
import contextlib
import hmac
import ipaddress
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from cgd_bridge.errors import Forbidden
from cgd_bridge.i18n import N_

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: latency buckets (seconds): from a cached answer (a millisecond) to a large stream (a minute)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
UNMATCHED = "(unmatched)"


@dataclass
class Metrics:
    """The metric objects of this process, and the registry that owns them."""

    registry: Any
    requests: Any
    duration: Any
    pulls: Any
    submissions: Any
    audit_queue: Any
    jobs_busy: Any
    jobs_queued: Any
    multiprocess: bool


_LOCK = threading.Lock()
_METRICS: Metrics | None = None


def prepare_multiprocess() -> str:
    """A new, empty directory for this run's metric files, named in ``PROMETHEUS_MULTIPROC_DIR``
    (inherited by the workers) and removed when this process exits."""
    folder = tempfile.mkdtemp(prefix="cgd-bridge-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def get() -> Metrics:
    """This process's metrics, made at the first call (after ``PROMETHEUS_MULTIPROC_DIR`` is set)."""
    global _METRICS
    if _METRICS is not None:
        return _METRICS
    with _LOCK:
        if _METRICS is None:
            _METRICS = _make()
        return _METRICS


def _make() -> Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

    multiprocess = bool(os.environ.get(MULTIPROC_ENV))
    # the value class is chosen when prometheus_client is imported: choose again, now that the
    # environment says whether this process is one of several workers
    values.ValueClass = values.get_value_class()
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "cgd_bridge_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        duration=Histogram(
            "cgd_bridge_http_request_duration_seconds",
            "Time from a request's arrival to its last byte, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        ),
        pulls=Counter(
            "cgd_bridge_pulls",
            "Data pulls, by format served and who asked (anonymous, key, session).",
            ["format", "auth"],
            registry=registry,
        ),
        submissions=Counter(
            "cgd_bridge_submissions",
            "Uploads checked, by outcome (stored, checked, invalid, refused).",
            ["outcome"],
            registry=registry,
        ),
        audit_queue=Gauge(
            "cgd_bridge_audit_queue_depth",
            "Pull records waiting for the audit writer's next commit.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        jobs_busy=Gauge(
            "cgd_bridge_jobs_busy",
            "Upload jobs running in worker processes.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        jobs_queued=Gauge(
            "cgd_bridge_jobs_queued",
            "Upload jobs waiting for a free worker process.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        multiprocess=multiprocess,
    )


def exposition() -> tuple[bytes, str]:
    """The text format of every worker's metrics (one worker's alone without multiprocess mode)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    metrics = get()
    if metrics.multiprocess:
        forget_dead_workers(os.environ[MULTIPROC_ENV])
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST


_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def forget_dead_workers(folder: str) -> list[int]:
    """Remove the live gauges of workers that are gone (killed, so they could not remove their
    own): a dead worker's queue is no one's. Returns their process ids."""
    from prometheus_client import multiprocess

    dead = set()
    with contextlib.suppress(OSError):
        for name in os.listdir(folder):
            m = _LIVE_FILE.match(name)
            if m and not _alive(int(m.group(1))):
                dead.add(int(m.group(1)))
    for pid in dead:
        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(pid, folder)
    return sorted(dead)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_stopped() -> None:
    """Remove this worker's live gauges (its lifespan's end), so the sums count living workers."""
    if get().multiprocess:
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(os.getpid())


# -- recording (cheap: no metric is made on the request path) --------------------------------------


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered request."""
    m = get()
    m.requests.labels(method, route, str(status)).inc()
    m.duration.labels(method, route).observe(seconds)


def pulled(fmt: str, auth: str) -> None:
    """One data pull (``auth``: anonymous, key or session)."""
    get().pulls.labels(fmt, auth).inc()


def submitted(outcome: str) -> None:
    """One upload checked (``outcome``: stored, checked, invalid, refused)."""
    get().submissions.labels(outcome).inc()


def audit_queued(n: int) -> None:
    """``n`` pull records queued (negative: committed)."""
    get().audit_queue.inc(n)


def jobs_changed(*, busy: int = 0, queued: int = 0) -> None:
    """Jobs started or finished (``busy``), waiting or no longer waiting (``queued``)."""
    m = get()
    if busy:
        m.jobs_busy.inc(busy)
    if queued:
        m.jobs_queued.inc(queued)


# -- who may read them ------------------------------------------------------------------------------


def networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``metrics_allow`` as networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``); a bad one is a ValueError."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()]


def allowed(client: str | None, authorization: str | None, *, allow: str, token: str | None) -> bool:
    """May this client read ``/metrics``? A matching bearer token, or an address in ``allow``."""
    if token and authorization:
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net for net in networks(allow))


def refused() -> Forbidden:
    """Why ``/metrics`` said no, and what opens it."""
    return Forbidden(
        N_("the metrics are open only to the networks and the token the administrator configured"),
        fix=N_("Scrape from an address in {allow}, or send the header '{header}'."),
        params={
            "allow": "CGD_BRIDGE_METRICS_ALLOW",
            "header": "Authorization: Bearer <CGD_BRIDGE_METRICS_TOKEN>",
        },
    )
