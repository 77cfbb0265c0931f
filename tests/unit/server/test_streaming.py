"""Streaming a writer's output (astream): all bytes in order, errors raised, writer stopped when abandoned."""

from __future__ import annotations

import threading
from typing import BinaryIO

import pytest

# -- astream: the async consumer the server uses (#4) -----------------------------------------------


async def _collect(write: object, chunk: int) -> bytes:
    from cgd_bridge.server.streaming import astream

    return b"".join([bytes(c) async for c in astream(write, chunk=chunk)])  # type: ignore[arg-type]


def test_astream_all_bytes_in_order_whatever_the_writes() -> None:
    import asyncio

    import pyarrow as pa

    reused = bytearray(100)
    expected = bytearray()

    def write(out: BinaryIO) -> None:
        for i in range(2_000):
            piece = f"{i},".encode()
            out.write(piece)  # small immutable bytes, collected into chunks
            expected.extend(piece)
            reused[:] = bytes([i % 251]) * 100
            out.write(memoryview(reused))  # a buffer the writer reuses: must be copied
            expected.extend(reused)
            if i % 500 == 0:
                big = pa.py_buffer(bytes(range(256)) * 40)  # an Arrow buffer larger than a chunk
                out.write(big)
                expected.extend(big.to_pybytes())

    assert asyncio.run(_collect(write, 4096)) == bytes(expected)


def test_astream_writer_errors_reach_the_consumer() -> None:
    import asyncio

    def write(out: BinaryIO) -> None:
        out.write(b"x" * 10)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(_collect(write, 4096))


def test_astream_abandoned_stops_the_writer() -> None:
    import asyncio

    from cgd_bridge.server.streaming import DEPTH, astream

    stopped = threading.Event()
    written = []

    def write(out: BinaryIO) -> None:
        try:
            while True:
                written.append(out.write(b"y" * 1024))
        finally:
            stopped.set()

    async def first_then_leave() -> None:
        it = astream(write, chunk=1024)
        await it.__anext__()
        await it.aclose()

    asyncio.run(first_then_leave())
    assert stopped.wait(60)  # the writer returned: it is not running on
    # and it was held back meanwhile: the chunk read, and at most DEPTH waiting
    assert len(written) <= DEPTH + 1
