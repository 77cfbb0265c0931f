"""Streaming a writer's output: all bytes in order, errors raised, writer stopped when abandoned."""

from __future__ import annotations

import threading
import time
from typing import BinaryIO

import pytest

from cgd_bridge.server.streaming import stream


def test_all_bytes_in_order() -> None:
    def write(out: BinaryIO) -> None:
        for i in range(10_000):
            out.write(f"{i},".encode())

    body = b"".join(stream(write, chunk=4096))
    assert body == b"".join(f"{i},".encode() for i in range(10_000))


def test_writer_errors_reach_the_consumer() -> None:
    def write(out: BinaryIO) -> None:
        out.write(b"x" * 10)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        b"".join(stream(write))


def test_abandoned_stream_stops_the_writer() -> None:
    stopped = threading.Event()
    written = []

    def write(out: BinaryIO) -> None:
        try:
            while True:
                written.append(out.write(b"y" * 1024))
        finally:
            stopped.set()

    it = stream(write, chunk=1024)
    next(it)
    it.close()
    assert stopped.wait(5)
    count = len(written)
    time.sleep(0.2)
    assert len(written) == count  # bounded: the writer is not running on
