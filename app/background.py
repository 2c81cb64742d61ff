"""The consumers and the scheduler of a process, started and stopped together."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from app.bootstrap import Resources, build_resources
from app.config import Settings
from app.consumers.groups import GROUPS, build_runner
from app.consumers.supervisor import ConsumerSupervisor
from app.scheduler import Scheduler


def consumer_groups(run_consumers: bool) -> tuple[str, ...]:
    """Every group, or none."""
    return tuple(GROUPS) if run_consumers else ()


@asynccontextmanager
async def background_work(
    resources: Resources, groups: Sequence[str], scheduler: bool
) -> AsyncIterator[None]:
    """The consumer groups named and the scheduled jobs (if `scheduler`) run inside the block;
    leaving it stops the jobs first, then the consumers."""
    supervisor = ConsumerSupervisor([build_runner(group, resources) for group in groups])
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


async def run_background(
    settings: Settings, groups: Sequence[str], scheduler: bool, stopping: asyncio.Event
) -> None:
    """Background work in a process of its own resources, until `stopping` is set."""
    async with (
        build_resources(settings) as resources,
        background_work(resources, groups, scheduler),
    ):
        await stopping.wait()


async def until_signalled(settings: Settings, groups: Sequence[str], scheduler: bool) -> None:
    """Background work until SIGTERM or SIGINT, then a graceful stop."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await run_background(settings, groups, scheduler, stopping)
