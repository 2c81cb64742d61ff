"""The consumers and the scheduler of a process, started and stopped together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.bootstrap import Resources
from app.consumers.groups import GROUPS, build_runner
from app.consumers.supervisor import ConsumerSupervisor
from app.scheduler import Scheduler


@asynccontextmanager
async def background_work(
    resources: Resources, consumers: bool, scheduler: bool
) -> AsyncIterator[None]:
    """Every consumer group (if `consumers`) and the scheduled jobs (if `scheduler`) run
    inside the block; leaving it stops the jobs first, then the consumers."""
    supervisor = ConsumerSupervisor(
        [build_runner(group, resources) for group in GROUPS] if consumers else []
    )
    jobs = Scheduler(resources) if scheduler else None
    supervisor.start()
    if jobs:
        jobs.start()
    try:
        yield
    finally:
        if jobs:
            await jobs.stop(resources.settings.shutdown_grace_seconds)
        await supervisor.stop()
