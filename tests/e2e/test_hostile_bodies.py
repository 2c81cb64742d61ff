"""Small hostile bodies must not stall the service: while they are refused, `/health` (and so
every other request, and the in-process consumers' heartbeats) keeps answering at once."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import ServiceProcess


def nested_zeros() -> bytes:
    """About 4 MB of nested arrays and an escaped backslash before u0000, gzipped to ~6 KB."""
    nested = b"[0]"
    for _ in range(500):
        nested = b"[" + nested + b"]"
    payload = b",".join([nested] * 2600)
    head = b'{"event_type": "click", "user_id": "u", "occurred_at": "2026-01-01T00:00:00Z",'
    event = head + b' "payload": {"element": "x", "k": [' + payload + b'], "t": "\\\\u0000"}}'

    return gzip.compress(event[:4_000_000], 9)


HOSTILE = {
    "nested arrays": nested_zeros(),
    "empty gzip members": gzip.compress(b"") * (1_048_576 // len(gzip.compress(b""))),
    "empty arrays": gzip.compress(b"[" + b"[]," * 1_300_000 + b"[]]", 9),
    "flat numbers": gzip.compress(
        b'{"event_type": "click", "user_id": "u", "payload": {"n": [' + b"0," * 99_000 + b"0]}}", 9
    ),
}


@pytest.fixture(scope="module")
def quiet_service() -> Iterator[ServiceProcess]:
    service = ServiceProcess(RUN_CONSUMERS="false", RUN_SCHEDULER="false")
    service.start()
    yield service
    service.stop()


async def health_latencies(client: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        assert (await client.get("/health")).status_code == 200
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return latencies


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_body_gets_a_4xx_without_stalling_other_requests(quiet_service, name):
    body = HOSTILE[name]
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    async with (
        httpx.AsyncClient(base_url=quiet_service.base_url, timeout=30) as hostile,
        httpx.AsyncClient(base_url=quiet_service.base_url, timeout=30) as probe,
    ):
        stop = asyncio.Event()
        watching = asyncio.create_task(health_latencies(probe, stop))
        await asyncio.sleep(0.1)
        statuses = []
        for _ in range(5):
            statuses.append(
                (await hostile.post("/events", content=body, headers=headers)).status_code
            )
        await asyncio.sleep(0.1)
        stop.set()
        latencies = await watching
    assert all(400 <= status < 500 for status in statuses), statuses
    latencies.sort()
    assert latencies[-1] < 0.15, f"/health was held {latencies[-1]:.3f}s by {name}"
