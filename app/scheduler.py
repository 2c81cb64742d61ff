"""Every scheduled job by id, on an in-process APScheduler that stands in for Airflow.

Several service processes may each run a scheduler: before a job runs, its process claims the
slot (job id and scheduled time) in PostgreSQL, and only the process that wins runs it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Literal

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from app.audit.run import audit_pass, backup_count, canary
from app.audit.table_checks import run_table_checks
from app.bootstrap import Resources
from app.catalogue.sync import sync_catalogue
from app.db.postgres import PostgresPool
from app.model.health import check_spark_health
from app.ops.storage_upkeep import storage_upkeep

log = logging.getLogger(__name__)
ScheduledAction = Callable[[datetime], Awaitable[object]]


@dataclass(frozen=True)
class ScheduledJob:
    job_id: str
    cron: str
    action: ScheduledAction


def scheduled_jobs(resources: Resources) -> list[ScheduledJob]:
    settings, source = resources.settings, resources.movie_source
    fallback_from = time.monotonic() + settings.spark_startup_grace_seconds

    def catalogue_sync(kind: Literal["full", "changes"]) -> ScheduledAction:
        return lambda slot: sync_catalogue(
            resources.postgres, source, resources.publisher, kind, slot=slot
        )

    jobs = [
        ScheduledJob("tmdb-full-sync", settings.tmdb_full_sync_cron, catalogue_sync("full")),
        ScheduledJob(
            "spark-health-check",
            settings.spark_health_cron,
            lambda _slot: check_spark_health(resources.postgres, settings, fallback_from),
        ),
        ScheduledJob(
            "audit-canary",
            settings.audit_canary_cron,
            lambda _slot: canary(resources, interval_seconds(settings.audit_canary_cron)),
        ),
        ScheduledJob("audit-reconcile", settings.audit_cron, lambda _slot: audit_pass(resources)),
        ScheduledJob(
            "audit-backup-count", settings.audit_cron, lambda _slot: backup_count(resources)
        ),
        ScheduledJob(
            "audit-table-checks",
            settings.audit_table_checks_cron,
            lambda _slot: run_table_checks(resources.postgres),
        ),
        ScheduledJob(
            "storage-upkeep",
            settings.storage_upkeep_cron,
            lambda slot: storage_upkeep(resources.postgres, settings, slot),
        ),
    ]
    if source.has_changes_feed:
        jobs.append(
            ScheduledJob(
                "tmdb-changes-sync", settings.tmdb_changes_sync_cron, catalogue_sync("changes")
            )
        )
    return jobs


def cron_trigger(expression: str) -> CronTrigger:
    """Five crontab fields, or six with seconds first (handy for tests and demos)."""
    fields = expression.split()
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(
            second=second, minute=minute, hour=hour, day=day, month=month,
            day_of_week=day_of_week, timezone=UTC,
        )  # fmt: skip
    return CronTrigger.from_crontab(expression, timezone=UTC)


def interval_seconds(expression: str) -> int:
    """The time between two runs of a cron expression (the shortest of the next few)."""
    trigger, now = cron_trigger(expression), datetime.now(UTC)
    times = [trigger.get_next_fire_time(None, now)]
    for _ in range(3):
        last = times[-1]
        times.append(trigger.get_next_fire_time(last, last + timedelta(microseconds=1)))
    return int(min((b - a).total_seconds() for a, b in pairwise(times)))


def latest_slot(trigger: CronTrigger, now: datetime) -> datetime:
    """The scheduled time this run belongs to: the trigger's last fire time not after now."""
    slot = candidate = trigger.get_next_fire_time(None, now - timedelta(days=1))
    while candidate is not None and candidate <= now:
        slot = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
    return slot


class RunningJobs:
    """Scheduled runs in flight. A stopping process lets them finish (within a grace time)
    rather than cancel them between claiming their slot and recording their run."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)  # the scheduler's shutdown cancels its own task, not this

    async def finish(self, grace_seconds: float) -> None:
        """Let runs end within the grace time; interrupt the others, which record it."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=grace_seconds)


class Scheduler:
    def __init__(self, resources: Resources) -> None:
        self.running_jobs = RunningJobs()
        self._scheduler = build_scheduler(resources, self.running_jobs)

    def start(self) -> None:
        self._scheduler.start()  # inside the running loop, as AsyncIOScheduler needs

    async def stop(self, grace_seconds: float) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await self.running_jobs.finish(grace_seconds)


def build_scheduler(resources: Resources, running_jobs: RunningJobs) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    claimant = f"{socket.gethostname()}:{os.getpid()}"
    for job in scheduled_jobs(resources):
        trigger = cron_trigger(job.cron)
        scheduler.add_job(
            run_once_per_slot,
            trigger,
            args=[job, trigger, resources.postgres, claimant, running_jobs],
            id=job.job_id,
        )
    return scheduler


async def run_once_per_slot(
    job: ScheduledJob,
    trigger: CronTrigger,
    postgres: PostgresPool,
    claimant: str,
    running_jobs: RunningJobs,
) -> None:
    slot = latest_slot(trigger, datetime.now(UTC))
    await running_jobs.run(claim_and_run(job, slot, postgres, claimant))


async def claim_and_run(
    job: ScheduledJob, slot: datetime, postgres: PostgresPool, claimant: str
) -> None:
    try:
        async with postgres.connection() as connection:
            claimed = await claim_slot(connection, job.job_id, slot, claimant)
        if claimed:
            try:
                await job.action(slot)
            except asyncio.CancelledError:
                # Interrupted: the slot goes back, so a process that comes up can still run it.
                await asyncio.shield(release_slot(postgres, job.job_id, slot))
                raise
    except Exception:
        # A failed run is recorded by the job itself; the scheduler must keep going.
        log.exception("scheduled job failed", extra={"job": job.job_id, "slot": slot.isoformat()})


async def claim_slot(
    connection: asyncpg.Connection, job_id: str, slot: datetime, claimed_by: str
) -> bool:
    """True for exactly one of the processes that claim the same job and slot."""
    claimed = await connection.fetchval(
        "INSERT INTO scheduler_slots (job_id, slot_at, claimed_by) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING true",
        job_id,
        slot,
        claimed_by,
    )
    return bool(claimed)


async def release_slot(postgres: PostgresPool, job_id: str, slot: datetime) -> None:
    async with postgres.connection() as connection:
        await connection.execute(
            "DELETE FROM scheduler_slots WHERE job_id = $1 AND slot_at = $2", job_id, slot
        )
