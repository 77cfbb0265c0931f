"""Stream a writer's output as an HTTP body in constant memory.

Our SDMX writers write to a binary file object. :func:`stream` runs one in a worker thread
against a file object that hands fixed-size chunks to a bounded queue; the response iterates
the queue. The writer is held back when the client reads slowly (back-pressure), and stops
when the client goes away, so memory stays at a few chunks whatever the size of the response.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO

CHUNK = 256 * 1024
DEPTH = 8
_DONE = object()


class ClientGone(Exception):
    """The client closed the connection; the writer stops."""


class _QueueFile(io.RawIOBase):
    def __init__(self, q: queue.Queue[object], stop: threading.Event) -> None:
        self._q = q
        self._stop = stop

    def writable(self) -> bool:
        return True

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        data = bytes(b)
        while True:
            if self._stop.is_set():
                raise ClientGone
            try:
                self._q.put(data, timeout=0.5)
                return len(data)
            except queue.Full:
                continue


def stream(write: Callable[[BinaryIO], object], *, chunk: int = CHUNK) -> Iterator[bytes]:
    """Yield the bytes ``write(out)`` writes, in chunks of about ``chunk`` bytes.

    Exceptions in the writer are raised in the consumer (after what was already sent).
    """
    q: queue.Queue[object] = queue.Queue(maxsize=DEPTH)
    stop = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with io.BufferedWriter(_QueueFile(q, stop), buffer_size=chunk) as out:
                write(out)  # type: ignore[arg-type]
        except ClientGone:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    q.put(_DONE, timeout=0.5)
                    break
                except queue.Full:
                    continue

    worker = threading.Thread(target=run, name="cgd-bridge-writer", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            yield item  # type: ignore[misc]
        if failure:
            raise failure[0]
    finally:
        stop.set()
