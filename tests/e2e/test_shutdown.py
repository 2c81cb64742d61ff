"""Stopping mid-job: a run is recorded as interrupted (never left `running`), a scheduled
slot is given back, and the process ends within its grace time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from tests.fake_tmdb import FakeTmdb
from tests.support import REPO_ROOT, ServiceProcess


@pytest.fixture
def slow_tmdb():
    with FakeTmdb() as fake:
        fake.delay_seconds = 0.5  # a full sync of the sample then takes half a minute
        yield fake


async def wait_for_running_run(pg, since: datetime) -> int:
    async with asyncio.timeout(30):
        while True:
            run_id = await pg.fetchval(
                "SELECT run_id FROM tmdb_sync_runs WHERE started_at > $1 AND status = 'running'",
                since,
            )
            if run_id is not None:
                return run_id
            await asyncio.sleep(0.1)


async def test_sigterm_interrupts_the_sync_command_and_records_it(pg, slow_tmdb):
    since = datetime.now(UTC)
    env = {**os.environ, "TMDB_API_URL": slow_tmdb.base_url, "TMDB_API_TOKEN": slow_tmdb.token}
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.jobs", "tmdb-sync", "--full", "--pages", "1",
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        run_id = await wait_for_running_run(pg, since)
        await asyncio.sleep(1)
        command.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            assert await command.wait() == 128 + signal.SIGTERM
    finally:
        if command.returncode is None:
            command.kill()
    row = await pg.fetchrow("SELECT status, error FROM tmdb_sync_runs WHERE run_id = $1", run_id)
    assert row["status"] == "interrupted", row


async def test_a_stopping_service_interrupts_its_scheduled_job_and_gives_the_slot_back(
    pg, slow_tmdb
):
    since = datetime.now(UTC)
    service = ServiceProcess(
        TMDB_FULL_SYNC_CRON="*/3 * * * * *",  # a slot soon: the test waits for the first run
        TMDB_API_URL=slow_tmdb.base_url,
        TMDB_API_TOKEN=slow_tmdb.token,
        SHUTDOWN_GRACE_SECONDS="1",
        RUN_CONSUMERS="false",
    )
    service.start()
    try:
        run_id = await wait_for_running_run(pg, since)
    finally:
        started = time.monotonic()
        service.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 10
    row = await pg.fetchrow(
        "SELECT status, scheduled_slot FROM tmdb_sync_runs WHERE run_id = $1", run_id
    )
    assert row["status"] == "interrupted"
    claimed = await pg.fetchval(
        "SELECT count(*) FROM scheduler_slots WHERE job_id = 'tmdb-full-sync' AND slot_at = $1",
        row["scheduled_slot"],
    )
    assert claimed == 0, "an interrupted run gives its slot back"
