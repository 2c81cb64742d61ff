"""The scheduler in real service processes, and the sync command as operators run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.fake_tmdb import FakeTmdb
from tests.support import REPO_ROOT, ServiceProcess


@pytest.fixture
def tmdb():
    with FakeTmdb() as fake:
        yield fake


def test_a_wrong_token_fails_tmdb_sync_at_once_with_a_clear_message(tmdb):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "app.jobs", "tmdb-sync", "--full"],
        cwd=REPO_ROOT,
        env={**os.environ, "TMDB_API_URL": tmdb.base_url, "TMDB_API_TOKEN": "not-the-token"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "TMDB_API_TOKEN" in result.stderr
    assert time.monotonic() - started < 15
    assert tmdb.detail_request_count() == 0  # it stopped at the first refusal


async def slots_and_runs(pg, since: datetime) -> list[tuple[datetime, int, str | None]]:
    """Each claimed full-sync slot since then, with how many runs it had and how they ended."""
    rows = await pg.fetch(
        "SELECT s.slot_at, count(r.run_id) AS runs, max(r.status) AS status "
        "FROM scheduler_slots s LEFT JOIN tmdb_sync_runs r ON r.scheduled_slot = s.slot_at "
        "WHERE s.job_id = 'tmdb-full-sync' AND s.slot_at >= $1 GROUP BY s.slot_at ORDER BY 1",
        since,
    )
    return [(row["slot_at"], row["runs"], row["status"]) for row in rows]


async def test_two_service_processes_run_each_slot_once(pg):
    """One of them with two API workers: its scheduler still runs once, in its main process.
    The storage upkeep too (with a retention that drops nothing of other tests)."""
    since = datetime.now(UTC)
    every_3s = {"TMDB_FULL_SYNC_CRON": "*/3 * * * * *", "STORAGE_UPKEEP_CRON": "*/3 * * * * *",
                "STAGING_RETENTION_DAYS": "100000"}  # fmt: skip
    services = [ServiceProcess(**every_3s), ServiceProcess(**every_3s, API_WORKERS="2")]
    for service in services:
        service.launch()  # both at once, so both schedulers fire every slot
    try:
        for service in services:
            await asyncio.to_thread(service.wait_until_healthy)
        await asyncio.sleep(10)
    finally:
        for service in services:
            service.stop()
    slots = await slots_and_runs(pg, since)
    assert len(slots) >= 2, slots
    assert all(runs == 1 for _, runs, _ in slots), slots
    upkeep_slots = await pg.fetchval(
        "SELECT count(*) FROM scheduler_slots WHERE job_id = 'storage-upkeep' AND slot_at >= $1",
        since,
    )
    upkeeps = await pg.fetchval(
        "SELECT count(*) FROM storage_upkeep_runs WHERE ran_at >= $1", since
    )
    assert upkeep_slots >= 2 and upkeeps == upkeep_slots, (upkeep_slots, upkeeps)


async def test_only_the_scheduler_role_runs_the_scheduled_jobs(pg):
    since = datetime.now(UTC)
    every_three_seconds = {"TMDB_FULL_SYNC_CRON": "*/3 * * * * *"}
    everything_else = ServiceProcess(args=("--role", "api"), **every_three_seconds)
    scheduler = ServiceProcess(args=("--role", "scheduler"), **every_three_seconds)
    everything_else.start()
    scheduler.launch()
    try:
        await asyncio.sleep(10)
    finally:
        everything_else.stop()
        scheduler.stop()
    assert scheduler.process is not None
    claimants = await pg.fetch(
        "SELECT DISTINCT claimed_by FROM scheduler_slots "
        "WHERE job_id = 'tmdb-full-sync' AND slot_at >= $1",
        since,
    )
    assert [row["claimed_by"].rsplit(":", 1)[1] for row in claimants] == [
        str(scheduler.process.pid)
    ]
    assert len(await slots_and_runs(pg, since)) >= 2


async def test_failed_runs_are_recorded_and_the_scheduler_keeps_going(pg, tmdb):
    since = datetime.now(UTC)
    service = ServiceProcess(
        TMDB_FULL_SYNC_CRON="*/2 * * * * *",
        TMDB_API_URL=tmdb.base_url,
        TMDB_API_TOKEN="not-the-token",
    )
    service.start()
    try:
        await asyncio.sleep(7)
        async with httpx.AsyncClient(base_url=service.base_url) as client:
            assert (await client.get("/health")).status_code == 200
    finally:
        service.stop()
    slots = await slots_and_runs(pg, since)
    assert len(slots) >= 2, slots
    assert all(runs == 1 and status == "failed" for _, runs, status in slots), slots
    error = await pg.fetchval(
        "SELECT error FROM tmdb_sync_runs WHERE scheduled_slot = $1", slots[-1][0]
    )
    assert "TMDB_API_TOKEN" in error
