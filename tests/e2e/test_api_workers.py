"""Several processes: API workers killed under load, and the service split into its roles."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import orjson

from tests.e2e.load import LoadOutcome, send_load
from tests.e2e.stores import count_landed, wait_until_landed
from tests.e2e.test_faults import assert_all_landed_once, new_user
from tests.event_factory import mixed_events
from tests.support import ServiceProcess

LOADS = 4  # concurrent clients, so that both workers have requests in flight at each kill


async def replacement_of(service: ServiceProcess, killed: int, limit_seconds: float = 30) -> None:
    """Waits until uvicorn's supervisor has replaced the killed worker and it answers."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        workers = service.worker_pids()
        if killed not in workers and len(workers) == 2:
            async with httpx.AsyncClient(base_url=service.base_url) as client:
                answers = [(await client.get("/health")).status_code for _ in range(6)]
            if answers == [200] * 6:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"worker {killed} was not replaced: {service.worker_pids()}")


def merged_outcome(outcomes: list[LoadOutcome]) -> LoadOutcome:
    merged = LoadOutcome()
    for outcome in outcomes:
        merged.acknowledged += outcome.acknowledged
        merged.statuses.update(outcome.statuses)
    return merged


async def accepted_totals(ops_url: str, answers: int) -> list[float]:
    """`events_accepted_total` summed over event types, from `answers` fresh connections, so
    that both workers answer some."""
    totals = []
    for _ in range(answers):
        async with httpx.AsyncClient(base_url=ops_url) as client:
            text = (await client.get("/metrics")).text
        lines = [line for line in text.splitlines() if line.startswith("events_accepted_total{")]
        totals.append(sum(float(line.rsplit(" ", 1)[1]) for line in lines))
    return totals


async def test_each_of_two_workers_killed_under_load_loses_and_doubles_nothing(settings):
    service = ServiceProcess(API_WORKERS="2")
    service.start()
    stop, outcomes = asyncio.Event(), [LoadOutcome() for _ in range(LOADS)]
    loads = [
        asyncio.create_task(send_load(service.base_url, new_user(), stop, outcome))
        for outcome in outcomes
    ]
    try:
        first_workers = service.worker_pids()
        assert len(first_workers) == 2, first_workers
        await asyncio.sleep(2)
        for worker in sorted(first_workers):
            acknowledged_before = sum(len(o.acknowledged) for o in outcomes)
            os.kill(worker, signal.SIGKILL)
            await replacement_of(service, worker)
            await asyncio.sleep(2)
            assert sum(len(o.acknowledged) for o in outcomes) > acknowledged_before
        assert not service.worker_pids() & first_workers
        stop.set()
        await asyncio.gather(*loads)
        merged = merged_outcome(outcomes)
        # Each worker counts every process's events, the killed workers' included.
        for total in await accepted_totals(service.ops_url, answers=6):
            assert total >= len(merged.acknowledged)
        # Requests in flight on a killed worker failed; they were never acknowledged.
        assert set(merged.statuses) <= {202, "ConnectError", "RemoteProtocolError", "ReadError"}
        # With the service's consumers still running: stopped, they would leave behind what
        # they had not yet read, which Kafka keeps for the next start.
        await assert_all_landed_once(settings, merged)
    finally:
        stop.set()
        await asyncio.gather(*loads)
        service.stop()


async def test_the_roles_split_the_service_into_processes(settings):
    """An API-only process with two workers publishes but never consumes; a consumers process
    then stages what it published, once."""
    api = ServiceProcess(args=("--role", "api"), API_WORKERS="2")
    consumers = ServiceProcess(args=("--role", "consumers"))
    api.start()
    try:
        events = mixed_events(new_user(), 40)
        async with httpx.AsyncClient(base_url=api.base_url) as client:
            response = await client.post(
                "/events",
                content=orjson.dumps(events),
                headers={"content-type": "application/json"},
            )
        assert response.status_code == 202, response.text
        ids = [event["event_id"] for event in events]
        await asyncio.sleep(3)
        assert (await count_landed(settings, ids)).staged == 0  # the API role consumes nothing
        consumers.launch()
        comments = sum(1 for event in events if event["event_type"] == "comment")
        landed = await wait_until_landed(settings, ids, comments, limit_seconds=90)
        assert landed.mongo == landed.staged == landed.staged_distinct == len(ids)
    finally:
        api.stop()
        if consumers.process is not None:
            consumers.stop()


def test_with_workers_consumers_and_scheduler_that_fail_stop_the_whole_service():
    # The scheduler cannot start on a cron it cannot read: the service must not go on
    # answering as if whole.
    service = ServiceProcess(API_WORKERS="2", TMDB_FULL_SYNC_CRON="not a cron")
    service.launch()
    assert service.process is not None
    returncode = service.process.wait(timeout=60)
    logged = service.log_text()
    assert returncode != 0, logged
    assert "the consumers and scheduler stopped on an error" in logged


def niceness(pid: int, tid: int) -> int:
    # The fields after the command name's closing parenthesis; the 17th is the nice value.
    return int(Path(f"/proc/{pid}/task/{tid}/stat").read_bytes().rsplit(b")", 1)[1].split()[16])


def test_the_whole_service_answers_from_a_worker_while_its_background_runs_at_lower_priority():
    service = ServiceProcess(BACKGROUND_NICENESS="7")
    service.start()
    try:
        assert service.process is not None
        parent = service.process.pid
        [worker] = service.worker_pids()  # API_WORKERS=1: the API is still a process apart
        worker_threads = [int(tid) for tid in os.listdir(f"/proc/{worker}/task")]
        parent_threads = [int(tid) for tid in os.listdir(f"/proc/{parent}/task")]
        ours = os.getpriority(os.PRIO_PROCESS, 0)  # the service inherits it
        assert {niceness(worker, tid) for tid in worker_threads} == {ours}
        assert niceness(parent, parent) == ours  # the supervisor's own thread
        background = min(19, ours + 7)  # the consumers and scheduler
        assert background in {niceness(parent, tid) for tid in parent_threads}
    finally:
        service.stop()
