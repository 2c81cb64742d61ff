"""Slow clients are timed out: headers that never finish, a body that trickles, and a SIGTERM
during a slow upload all end within their bounds."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import pytest

from tests.support import ServiceProcess

LIMITS = {
    "API_HEADER_TIMEOUT_SECONDS": "1", "API_BODY_TIMEOUT_SECONDS": "1",
    "RUN_CONSUMERS": "false", "RUN_SCHEDULER": "false", "SHUTDOWN_GRACE_SECONDS": "2",
}  # fmt: skip


@pytest.fixture
def service() -> Iterator[ServiceProcess]:
    process = ServiceProcess(**LIMITS)
    process.start()
    yield process
    if process.process and process.process.poll() is None:
        process.stop()


async def open_socket(service: ServiceProcess) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", service.port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
        return True
    except TimeoutError:
        return False


async def test_half_sent_headers_are_closed_at_the_deadline(service):
    sockets = [await open_socket(service) for _ in range(100)]
    for _, writer in sockets:
        writer.write(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        await writer.drain()
    closed = await asyncio.gather(*(closed_within(reader, 5) for reader, _ in sockets))
    assert all(closed), f"{closed.count(False)} of 100 half-sent requests were still open"


async def test_headers_sent_a_byte_at_a_time_are_closed_too(service):
    reader, writer = await open_socket(service)
    started = time.monotonic()
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    try:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
            if reader.at_eof() or time.monotonic() - started > 4:
                break
    except ConnectionError:
        pass
    assert await closed_within(reader, 3)
    assert time.monotonic() - started < 4


async def test_a_trickling_body_gets_a_408(service):
    reader, writer = await open_socket(service)
    writer.write(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n[{"
    )
    await writer.drain()
    async with asyncio.timeout(5):
        status_line = await reader.readline()
    assert b" 408 " in status_line
    writer.close()


async def test_sigterm_during_a_slow_upload_stops_within_the_grace_time():
    service = ServiceProcess(**{**LIMITS, "API_BODY_TIMEOUT_SECONDS": "60"})
    service.start()
    _, writer = await open_socket(service)
    writer.write(
        b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n["
    )
    await writer.drain()
    await asyncio.sleep(0.2)
    started = time.monotonic()
    service.process.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(service.process.wait, 15)
    finally:
        service.process.kill()
    assert time.monotonic() - started < 8
    writer.close()
