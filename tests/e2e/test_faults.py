"""Faults lose nothing that was acknowledged: a killed service, a stopped store, a stopped Kafka."""

from __future__ import annotations

import asyncio
import signal
import uuid

import pytest

from tests.e2e.load import LoadOutcome, send_load
from tests.e2e.stores import wait_until_landed
from tests.support import ServiceProcess, run_devstack


async def no_action() -> None:
    return None


def new_user() -> str:
    return f"load-{uuid.uuid4().hex[:8]}"


async def load_while(base_url: str, action, seconds_before: float, seconds_after: float):
    """Run a load, do `action` part-way through, keep the load going a while, then stop."""
    stop, outcome = asyncio.Event(), LoadOutcome()
    load = asyncio.create_task(send_load(base_url, new_user(), stop, outcome))
    await asyncio.sleep(seconds_before)
    await action()
    await asyncio.sleep(seconds_after)
    stop.set()
    await load
    return outcome


async def assert_all_landed_once(settings, outcome: LoadOutcome) -> None:
    assert outcome.acknowledged, f"nothing was acknowledged: {outcome.statuses}"
    landed = await wait_until_landed(
        settings, outcome.acknowledged_ids, outcome.acknowledged_comments, limit_seconds=120
    )
    count = len(outcome.acknowledged_ids)
    assert landed.mongo == count
    assert landed.staged == landed.staged_distinct == count
    assert landed.comments == outcome.acknowledged_comments


async def test_sigkill_mid_load_loses_no_acknowledged_event(settings):
    service = ServiceProcess()
    service.start()

    async def kill_and_restart():
        service.stop(signal.SIGKILL)
        await asyncio.to_thread(service.start)

    outcome = await load_while(service.base_url, kill_and_restart, 3, 2)
    try:
        # Requests in flight at the kill failed; they were never acknowledged.
        assert set(outcome.statuses) <= {202, "ConnectError", "RemoteProtocolError", "ReadError"}
        await assert_all_landed_once(settings, outcome)
    finally:
        service.stop()


@pytest.mark.parametrize("store", ["ferretdb", "postgres"])
async def test_ingest_keeps_accepting_while_a_store_is_down(settings, store):
    service = ServiceProcess()
    service.start()
    stopped = False

    async def stop_store():
        nonlocal stopped
        assert (await asyncio.to_thread(run_devstack, "down", store)).returncode == 0
        stopped = True

    try:
        outcome = await load_while(service.base_url, stop_store, 1, 4)
        assert set(outcome.statuses) == {202}, outcome.statuses
    finally:
        if stopped:
            result = await asyncio.to_thread(run_devstack, "up", store)
            assert result.returncode == 0, result.stderr
    try:
        await assert_all_landed_once(settings, outcome)
    finally:
        service.stop()


async def test_kafka_down_means_503_never_202_and_ingest_resumes(settings):
    service = ServiceProcess(PUBLISH_TIMEOUT_SECONDS="2")
    service.start()

    async def stop_kafka():
        assert (await asyncio.to_thread(run_devstack, "down", "kafka")).returncode == 0

    try:
        before = await load_while(service.base_url, stop_kafka, 1, 0)
        stop, during = asyncio.Event(), LoadOutcome()
        load = asyncio.create_task(send_load(service.base_url, new_user(), stop, during))
        await asyncio.sleep(6)
        stop.set()
        await load
        assert during.statuses and set(during.statuses) == {503}, during.statuses
    finally:
        result = await asyncio.to_thread(run_devstack, "up", "kafka")
        assert result.returncode == 0, result.stderr

    try:
        after = await load_while(service.base_url, no_action, 0, 8)
        assert after.statuses[202] > 0, after.statuses
        for outcome in (before, after):
            await assert_all_landed_once(settings, outcome)
    finally:
        service.stop()
