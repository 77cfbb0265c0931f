"""Stream a writer's output as an HTTP body in constant memory.

Our SDMX writers write to a binary file object. :func:`astream` runs one in a worker thread
against a file object that hands chunks to the event loop (``call_soon_threadsafe``), at most
``DEPTH`` of them waiting, so sending a chunk costs no hop through a worker thread (Starlette
would run each ``next`` of a plain iterator in its thread pool). The writer is held back when
the client reads slowly (back-pressure), and stops when the client goes away, so memory stays at
a few chunks whatever the size of the response.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO

import pyarrow as pa

#: :func:`astream` slices its writers' (immutable) buffers rather than copying them, so larger
#: chunks cost no memory and mean fewer hand-overs between the writer thread and the event loop.
ASYNC_CHUNK = 1024 * 1024
DEPTH = 8
_DONE = object()


class ClientGone(Exception):
    """The client closed the connection; the writer stops."""


def _immutable(b: object, view: memoryview) -> bool:
    """True when the bytes behind ``view`` can never change (so they may be sent without a copy)."""
    if type(b) is bytes:
        return True
    owner = view.obj
    return view.readonly and (type(owner) is bytes or (isinstance(owner, pa.Buffer) and not owner.is_mutable))


class _LoopFile(io.RawIOBase):
    """Collects writes into chunks of about ``chunk`` bytes and hands each to the event loop.

    At most ``DEPTH`` chunks wait for the consumer (``slots``). Immutable bytes (``bytes``, an
    Arrow buffer: what our writers hand over) are passed on as they are, large ones in slices
    of ``chunk`` bytes; anything else (a buffer the writer may reuse) is copied first.
    """

    def __init__(
        self, put: Callable[[object], None], slots: threading.Semaphore, stop: threading.Event, chunk: int
    ) -> None:
        self._put = put
        self._slots = slots
        self._stop = stop
        self._chunk = chunk
        self._pending: list[bytes | memoryview] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        n = view.nbytes
        keep = _immutable(b, view)
        if n >= self._chunk:
            self.send_pending()
            for i in range(0, n, self._chunk):
                piece = view[i : i + self._chunk]
                self._send(piece if keep else bytes(piece))
            return n
        self._pending.append(view if keep else bytes(view))
        self._size += n
        if self._size >= self._chunk:
            self.send_pending()
        return n

    def send_pending(self) -> None:
        """Hand over what was collected so far (also the end of the output)."""
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            self._size = 0
            self._send(data)

    def _send(self, data: bytes | memoryview) -> None:
        while not self._slots.acquire(timeout=0.5):
            if self._stop.is_set():
                raise ClientGone
        if self._stop.is_set():
            raise ClientGone
        self._put(data)


async def astream(
    write: Callable[[BinaryIO], object], *, chunk: int = ASYNC_CHUNK
) -> AsyncIterator[bytes | memoryview]:
    """Yield what ``write(out)`` writes, in chunks, to an async consumer.

    Chunks are ``bytes`` or read-only memoryviews of immutable buffers the writer handed over
    (an Arrow buffer is sent without being copied).

    The writer runs in its own thread; exceptions in it are raised here (after what was already
    sent); when the consumer stops early, the writer stops at its next write.

    Example:
        >>> async def body():
        ...     return b"".join([c async for c in astream(lambda out: out.write(b"abc"))])
        >>> asyncio.run(body())
        b'abc'
    """
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[object] = asyncio.Queue()
    slots = threading.Semaphore(DEPTH)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening any more
            loop.call_soon_threadsafe(q.put_nowait, item)

    def run() -> None:
        try:
            out = _LoopFile(put, slots, stop, chunk)
            write(out)  # type: ignore[arg-type]
            out.send_pending()
        except ClientGone:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)
        finally:
            put(_DONE)

    worker = threading.Thread(target=run, name="cgd-bridge-writer", daemon=True)
    worker.start()
    try:
        while True:
            item = await q.get()
            if item is _DONE:
                break
            slots.release()
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
