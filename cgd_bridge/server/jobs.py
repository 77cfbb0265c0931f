"""Hostile work in a worker process: the worst upload costs one job, never the service (#14).

Reading and checking an upload (:func:`cgd_bridge.pipeline.harmonise`) runs in a separate
process with a memory limit (``RLIMIT_AS``) and a processor-time limit (``RLIMIT_CPU``), so a
file that makes a reader allocate without end, run without end or crash (an abort in a native
reader) stops that process, not the server. The server's requests wait for their job in a
thread; the answer is the job's result, or a clear error naming the limit and the fix:

- the job ran out of its memory (``MemoryError``): 413 naming ``CGD_BRIDGE_JOB_MEMORY_MB``;
- the job used its processor time (``SIGXCPU``) or its wall time (the server kills it): 413
  naming ``CGD_BRIDGE_JOB_CPU_SECONDS``;
- the worker died otherwise (a signal such as ``SIGABRT``/``SIGSEGV``, e.g. a native reader
  aborting when an allocation fails): 422, the file could not be read within the limits;
- every worker busy for ``CGD_BRIDGE_JOB_WAIT_SECONDS``: 503 with ``Retry-After``.

A dead worker is replaced by a new one for the next job; the other jobs never notice.

Why a pool of our own rather than :class:`concurrent.futures.ProcessPoolExecutor`: when one of
an executor's processes dies, the executor is *broken* and every job in flight fails with it,
which is exactly "one input costs the service" again. Here each worker is its own process with
its own pipe, so a death fails only the job that worker held. Why ``subprocess`` (fork+exec of
``python -m cgd_bridge.server.jobs``) rather than ``fork``: the server is multi-threaded (the
event loop, the thread pool, the database pool), and a forked copy of a threaded process may
hold locks no thread will release; an exec'd interpreter starts clean. A worker imports the
pipeline once (about 2 s) and then serves jobs one at a time, keeping its structures warm.

No orphans: the server closes its workers when the process exits (``atexit``); when the server
is killed outright (``kill -9``), each worker notices within a fraction of a second that its
parent is gone (a watch thread comparing ``getppid()``) and exits, and an idle worker also sees
its pipe close. (``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that started the
worker ends, and the server starts workers from short-lived pool threads.)
"""

from __future__ import annotations

import atexit
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cgd_bridge.errors import Busy, CgdBridgeError, JobFailed, TooLarge
from cgd_bridge.i18n import N_, msg, nmsg, num

if TYPE_CHECKING:
    from cgd_bridge.structures import Structures

_MB = 1 << 20
_SPLIT = N_("Split the dataset into smaller files, or ask the administrator to raise {setting}.")
#: what a job reads, as its errors name it when the caller names nothing
UPLOAD = msg(N_("the upload"))
#: how long a new worker may take to import the pipeline before it counts as broken
_START_SECONDS = 120.0


@dataclass(frozen=True)
class JobLimits:
    """The limits of one job (``CGD_BRIDGE_JOB_*``, :class:`cgd_bridge.settings.Settings`).

    Attributes:
        memory_mb: the memory one job may use beyond the worker's own (its address space).
        cpu_seconds: processor time one job may use; its wall time is twice this (the machine
            is shared) plus 10 s.
        workers: jobs that run at once; more wait for a free worker.
        wait_seconds: how long a job waits for a free worker before the answer is 503.
    """

    memory_mb: int = 4096
    cpu_seconds: int = 300
    workers: int = 2
    wait_seconds: float = 30.0

    @property
    def wall_seconds(self) -> float:
        """The most a job may take from its start to its answer."""
        return self.cpu_seconds * 2 + 10.0


# -- the jobs (run in the worker) -------------------------------------------------------------------


def _harmonise(
    *,
    data: str,
    metadata: str,
    mapping: str,
    form: str | None,
    sheet: str | None,
    structures_dir: str | None,
    previous: Any = None,
) -> Any:
    from cgd_bridge import pipeline

    structures = _structures(structures_dir)
    return pipeline.harmonise(
        data, metadata=metadata, mapping=mapping, form=form, sheet=sheet, structures=structures,
        previous=previous,
    )  # fmt: skip


def _read_metadata(*, path: str) -> Any:
    from cgd_bridge.metadata.load import read_metadata_file

    raw, _lines, _fmt = read_metadata_file(Path(path))
    return raw


def draft(
    *,
    data: str,
    form: str | None,
    sheet: str | None,
    dataflow: str,
    earlier: list[tuple[str, str]],
    columns: dict[str, str],
    labels: list[tuple[str, str, str]],
    structures: Any,
    time: dict[str, str] | None = None,
    value: dict[str, str] | None = None,
    lang: str = "en",
) -> Any:
    """The web mapping builder's draft (#18): :func:`cgd_bridge.mapping.draft.draft_mapping` of
    an upload, learning from the bundled mappings and the organisation's ``earlier`` mapping
    texts (``[(name, text)]``; one that cannot be read is passed over), with the choices made on
    the page (``columns``: dimension -> ``column:NAME``/``value:CODE``; ``labels``: (dimension,
    label, code); ``time``, ``value``: TIME_PERIOD's source and the measure, see
    :class:`cgd_bridge.mapping.draft.Decisions`) taken as given; its reasons in ``lang``
    (the page's language, #17)."""
    from cgd_bridge.errors import MappingError
    from cgd_bridge.i18n import translator
    from cgd_bridge.mapping.draft import Decisions, draft_mapping
    from cgd_bridge.mapping.evidence import load_evidence

    evidence = load_evidence([], bundled=True)
    for name, text in earlier:
        try:
            evidence.add_text(text, name)
        except MappingError:
            continue  # an old text the model reads no more: no evidence, never a failed draft
    decisions = Decisions(dict(columns), {(d, label): code for d, label, code in labels}, time, value)
    return draft_mapping(
        data, dataflow=dataflow, structures=structures, form=form, sheet=sheet, evidence=evidence,
        decisions=decisions, t=translator(lang),
    )  # fmt: skip


def preview(
    *, data: str, form: str | None, sheet: str | None, mapping: str, rows: int, structures: Any
) -> Any:
    """The web mapping builder's preview (#18): :func:`cgd_bridge.pipeline.examine` of an upload
    with the edited mapping (the real validation: coverage, codes, small cells), as ``(report,
    first rows, observations)``, the first ``rows`` harmonised observations as an Arrow table."""
    from cgd_bridge import pipeline

    found = pipeline.examine(data, mapping=mapping, form=form, sheet=sheet, structures=structures)
    table = found.harmonised.table if found.harmonised is not None else None
    if table is None:
        return found.report, None, 0
    return found.report, table.slice(0, rows), table.num_rows


def _draft(*, structures_dir: str | None, **kwargs: Any) -> Any:
    return draft(structures=_structures(structures_dir), **kwargs)


def _preview(*, structures_dir: str | None, **kwargs: Any) -> Any:
    return preview(structures=_structures(structures_dir), **kwargs)


_JOBS: dict[str, Callable[..., Any]] = {
    "harmonise": _harmonise,
    "read_metadata": _read_metadata,
    "draft": _draft,
    "preview": _preview,
}
_HERE: dict[str, Callable[..., Any]] = {"draft": draft, "preview": preview}
_STRUCTURES: dict[str | None, Any] = {}


def _structures(folder: str | None) -> Any:
    """The worker's :class:`~cgd_bridge.structures.Structures` for a store folder, kept warm
    between jobs (as the server keeps its own). The bundled files, the same for every folder,
    are read once per worker (in its warm-up) and shared: only the store differs."""
    from cgd_bridge.structures import Structures

    if folder not in _STRUCTURES:
        warm = _STRUCTURES.get(None)
        for key in [k for k in _STRUCTURES if k is not None]:
            del _STRUCTURES[key]
        fresh = Structures.load(folder)
        if warm is not None:
            fresh._bundled = warm._bundled_files()  # read-only once built; same folders
        _STRUCTURES[folder] = fresh
    return _STRUCTURES[folder]


def _warm_up() -> None:
    """Run the bundled example once before the limits are set: the imports, the bundled
    structures and the native libraries' thread pools are the worker's, not a job's (a thread
    pool that cannot start its threads under a tight address-space limit hangs instead of
    failing)."""
    from cgd_bridge.errors import CgdBridgeError as _Error
    from cgd_bridge.resources import bundled

    try:
        example = bundled("examples") / "kenya-health-scorecard"
        _harmonise(
            data=str(example / "data.csv"),
            metadata=str(example / "quality.yaml"),
            mapping=str(bundled("mappings") / "kenya-health-scorecard.yaml"),
            form=None,
            sheet=None,
            structures_dir=None,
        )
    except _Error:  # an install without its examples: the limits still hold, a little tighter
        _structures(None)


# -- the worker process -----------------------------------------------------------------------------


def _address_space() -> int:
    """This process's virtual memory size in bytes (``VmSize``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _watch_parent(parent: int) -> None:
    """Exit as soon as the process that started this one is gone (killed, crashed)."""
    while True:
        if os.getppid() != parent:
            os._exit(70)
        time.sleep(0.2)


def exit_with_parent() -> None:
    """Watch this process's parent from a thread and exit when it is gone: a worker of
    ``cgd-bridge serve --workers N`` whose master was killed would otherwise go on serving
    (and keep its job workers) as an orphan."""
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()


def worker_main(fd: int, parent: int, memory_mb: int, cpu_seconds: int) -> None:
    """The worker's loop: read a job, run it within the limits, send back its outcome.

    Each outcome is ``("ok", result)``, ``("error", exception)`` for a cgd-bridge error,
    ``("memory", None)`` (then the worker exits: its heap may be left in pieces) or
    ``("crash", traceback text)`` for anything unexpected.
    """
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    conn = Connection(fd)
    _warm_up()
    if memory_mb > 0 and hasattr(resource, "RLIMIT_AS"):
        limit = _address_space() + memory_mb * _MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            name, kwargs = conn.recv()
        except (EOFError, OSError):
            return
        if cpu_seconds > 0:
            used = resource.getrusage(resource.RUSAGE_SELF)
            spent = int(used.ru_utime + used.ru_stime) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, resource.RLIM_INFINITY))
        try:
            outcome: tuple[str, Any] = ("ok", _JOBS[name](**kwargs))
        except MemoryError:
            outcome = ("memory", None)
        except CgdBridgeError as exc:
            outcome = ("error", exc)
        except RecursionError:
            outcome = ("memory", None)
        except Exception:  # noqa: BLE001 - a bug: sent to the server, which logs it and answers 500
            outcome = ("crash", traceback.format_exc())
        try:
            conn.send(outcome)
        except MemoryError:
            conn.send(("memory", None))
        except (pickle.PicklingError, TypeError, AttributeError):
            conn.send(("crash", traceback.format_exc()))
        if outcome[0] == "memory":
            return


# -- the server side --------------------------------------------------------------------------------


class _Worker:
    """One worker process and the server's end of its pipe."""

    def __init__(self, limits: JobLimits) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                [
                    sys.executable,
                    "-c",
                    "import sys; from cgd_bridge.server.jobs import worker_main; "
                    "worker_main(*map(int, sys.argv[1:]))",
                    str(theirs.fileno()),
                    str(os.getpid()),
                    str(limits.memory_mb),
                    str(limits.cpu_seconds),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=_worker_env(),
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        try:
            if not self.conn.poll(_START_SECONDS):
                raise EOFError("no answer")
            self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise Busy(  # the server's trouble, not the upload's: 503
                N_("the server could not start a worker process to check the upload"),
                fix=N_(
                    "Send it again in a minute; if this persists, tell the administrator (the server "
                    "log says why the worker did not start)."
                ),
                retry_after=60,
            ) from exc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()

    def call(self, name: str, kwargs: dict[str, Any], limits: JobLimits, what: dict[str, Any]) -> Any:
        """Run one job; its result, or the error that says which limit it passed."""
        try:
            self.conn.send((name, kwargs))
        except OSError:
            self.proc.wait()
            raise _died(self.proc.returncode, limits, what) from None
        if not self.conn.poll(limits.wall_seconds):
            self.kill()
            raise _cpu_limit(limits, what)
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            self.proc.wait()
            raise _died(self.proc.returncode, limits, what) from None
        if kind == "ok":
            return value
        if kind == "error":
            raise value
        if kind == "memory":
            self.kill()
            raise _memory_limit(limits, what)
        raise RuntimeError(f"the job '{name}' failed in its worker process:\n{value}")


def _worker_env() -> dict[str, str]:
    """The server's environment, with this cgd_bridge first on the path: the worker runs the
    same code as the server (not another copy installed in the same environment)."""
    import cgd_bridge

    root = str(Path(cgd_bridge.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, path) if p)}


def _memory_limit(limits: JobLimits, what: dict[str, Any]) -> TooLarge:
    return TooLarge(
        N_("{what} needs more than the {mb} MB of memory one job may use on this server"),
        fix=_SPLIT,
        params={"what": what, "mb": num(limits.memory_mb), "setting": "CGD_BRIDGE_JOB_MEMORY_MB"},
    )


def _cpu_limit(limits: JobLimits, what: dict[str, Any]) -> TooLarge:
    seconds = nmsg("{n} second of processor time", "{n} seconds of processor time", limits.cpu_seconds)
    return TooLarge(
        N_("{what} needs more than the {seconds} one job may use on this server"),
        fix=_SPLIT,
        params={"what": what, "seconds": seconds, "setting": "CGD_BRIDGE_JOB_CPU_SECONDS"},
    )


def _died(code: int | None, limits: JobLimits, what: dict[str, Any]) -> CgdBridgeError:
    if code is not None and code < 0 and -code in (signal.SIGXCPU, signal.SIGKILL):
        return _cpu_limit(limits, what)
    how = (
        msg(N_("signal {name}"), name=signal.Signals(-code).name)
        if code is not None and code < 0
        else msg(N_("exit code {code}"), code=code)
    )
    return JobFailed(
        N_(
            "reading {what} stopped the worker process ({how}): the files are damaged, or need more "
            "than the {mb} MB of memory one job may use"
        ),
        fix=N_(
            "Open the files in the program that made them and save them again (a spreadsheet as CSV "
            "UTF-8); if they are large, split them, or ask the administrator to raise {setting}."
        ),
        params={"what": what, "how": how, "mb": num(limits.memory_mb), "setting": "CGD_BRIDGE_JOB_MEMORY_MB"},
    )


class JobPool:
    """Worker processes for hostile work, at most ``limits.workers`` at once, started on demand."""

    def __init__(self, limits: JobLimits) -> None:
        self.limits = limits
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._slots = threading.BoundedSemaphore(max(1, limits.workers))
        self._lock = threading.Lock()
        self._closed = False

    def run(self, name: str, what: dict[str, Any] = UPLOAD, **kwargs: Any) -> Any:
        """Run job ``name`` in a worker: its result, or its error (see the module's docstring).

        Raises:
            Busy: no worker was free within ``limits.wait_seconds`` (503, Retry-After).
            TooLarge: the job passed the memory or processor-time limit (413).
            JobFailed: the worker died (422); it is replaced for the next job.
        """
        from cgd_bridge.server import metrics

        metrics.jobs_changed(queued=1)
        try:
            got = self._slots.acquire(timeout=self.limits.wait_seconds)
        finally:
            metrics.jobs_changed(queued=-1)
        if not got:
            raise Busy(
                N_("every worker is busy checking other uploads (the server checks {n} at once)"),
                fix=N_("Send the upload again in a minute; an administrator may raise {setting}."),
                retry_after=max(5.0, self.limits.wait_seconds),
                params={"n": num(self.limits.workers), "setting": "CGD_BRIDGE_JOB_WORKERS"},
            )
        metrics.jobs_changed(busy=1)
        try:
            worker = self._take()
            try:
                return worker.call(name, kwargs, self.limits, what)
            finally:
                self._give(worker)
        finally:
            metrics.jobs_changed(busy=-1)
            self._slots.release()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.discard(worker)
        worker = _Worker(self.limits)
        with self._lock:
            self._all.add(worker)
        return worker

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            if worker.alive() and not worker.conn.closed and not self._closed:
                self._idle.append(worker)
                return
            self._all.discard(worker)
        worker.kill()

    def pids(self) -> list[int]:
        """The process ids of the living workers (for tests and the operator)."""
        with self._lock:
            return [w.proc.pid for w in self._all if w.alive()]

    def close(self) -> None:
        """Stop every worker (a job running in one fails)."""
        with self._lock:
            self._closed = True
            workers, self._idle, self._all = list(self._all), [], set()
        for worker in workers:
            worker.kill()


class InlineJobs:
    """Jobs run in this process, without limits: for a caller that trusts its inputs, or a
    test that patches the pipeline to inject a fault (a patch does not reach a worker).

    Args:
        structures: the structures to check with (the server's own); None: read per job.
    """

    def __init__(self, structures: Structures | None = None) -> None:
        self.structures = structures

    def run(self, name: str, what: dict[str, Any] = UPLOAD, **kwargs: Any) -> Any:
        """Run job ``name`` here; its result, or its error as raised."""
        if name == "harmonise" and self.structures is not None:
            from cgd_bridge import pipeline

            kwargs.pop("structures_dir")
            return pipeline.harmonise(**kwargs, structures=self.structures)
        if name in _HERE and self.structures is not None:
            kwargs.pop("structures_dir")
            return _HERE[name](**kwargs, structures=self.structures)
        return _JOBS[name](**kwargs)


#: what runs an upload's job: worker processes (the server) or this process
Jobs = JobPool | InlineJobs


_POOLS: dict[JobLimits, JobPool] = {}
_POOLS_LOCK = threading.Lock()


def pool(limits: JobLimits) -> JobPool:
    """The process's pool for ``limits`` (one per process and limits: the apps of one process,
    e.g. a test run, share their workers); closed when the process exits."""
    with _POOLS_LOCK:
        found = _POOLS.get(limits)
        if found is None or found._closed:
            found = _POOLS[limits] = JobPool(limits)
        return found


@atexit.register
def _close_all() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for p in pools:
        p.close()
