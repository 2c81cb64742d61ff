"""Every scheduled job by id, on an in-process APScheduler that stands in for Airflow.

Several service processes may each run a scheduler: before a job runs, its process claims the
slot (job id and scheduled time) in PostgreSQL, and only the process that wins runs it.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from app.catalogue_sync import run_sync
from app.config import Settings
from app.db.catalogue_queries import claim_slot
from app.producers.kafka import KafkaPublisher
from app.spark_health import check_spark_health

log = logging.getLogger(__name__)
ScheduledAction = Callable[[datetime], Awaitable[object]]


@dataclass(frozen=True)
class ScheduledJob:
    job_id: str
    cron: str
    action: ScheduledAction


def scheduled_jobs(settings: Settings, publisher: KafkaPublisher) -> list[ScheduledJob]:
    jobs = [
        ScheduledJob(
            "tmdb-full-sync",
            settings.tmdb_full_sync_cron,
            lambda slot: run_sync(settings, publisher, "full", slot=slot),
        )
    ]
    jobs.append(
        ScheduledJob(
            "spark-health-check",
            settings.spark_health_cron,
            lambda slot: check_spark_health(settings, slot),
        )
    )
    if settings.tmdb_api_token is not None:  # the sample catalogue has no changes feed
        jobs.append(
            ScheduledJob(
                "tmdb-changes-sync",
                settings.tmdb_changes_sync_cron,
                lambda slot: run_sync(settings, publisher, "changes", slot=slot),
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


def latest_slot(trigger: CronTrigger, now: datetime) -> datetime:
    """The scheduled time this run belongs to: the trigger's last fire time not after now."""
    slot = candidate = trigger.get_next_fire_time(None, now - timedelta(days=1))
    while candidate is not None and candidate <= now:
        slot = candidate
        candidate = trigger.get_next_fire_time(candidate, candidate + timedelta(microseconds=1))
    return slot


def build_scheduler(settings: Settings, publisher: KafkaPublisher) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
    )
    claimant = f"{socket.gethostname()}:{os.getpid()}"
    for job in scheduled_jobs(settings, publisher):
        trigger = cron_trigger(job.cron)
        scheduler.add_job(
            run_once_per_slot,
            trigger,
            args=[job, trigger, settings.database_url, claimant],
            id=job.job_id,
        )
    return scheduler


async def run_once_per_slot(
    job: ScheduledJob, trigger: CronTrigger, database_url: str, claimant: str
) -> None:
    slot = latest_slot(trigger, datetime.now(UTC))
    try:
        connection = await asyncpg.connect(database_url)
        try:
            claimed = await claim_slot(connection, job.job_id, slot, claimant)
        finally:
            await connection.close()
        if claimed:
            await job.action(slot)
    except Exception:
        # A failed run is recorded by the job itself; the scheduler must keep going.
        log.exception("scheduled job failed", extra={"job": job.job_id, "slot": slot.isoformat()})
