"""Readiness from cached probes: a flood of `/ready` calls costs the dependencies nothing.

The probes run in the background at most once per interval (and once on demand, shared by
every caller, before the first result exists). Public answers say up or down and why in a few
words, never a host, a port or a driver's message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from app.bootstrap import Resources
from app.consumers.offset_gaps import messages_lost_by_group
from app.model.health import SparkLag, measure_spark_lag
from app.ops.probes import ProbeResult, probe_all

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Readiness:
    probes: list[ProbeResult]
    spark: SparkLag | None
    measured_at: float
    consumer_gaps: dict[str, int] | None = None  # messages lost to retention, by group

    @property
    def ready(self) -> bool:
        return all(result.ok for result in self.probes)


def public_detail(result: ProbeResult) -> str:
    if result.ok:
        return "answered"
    if result.detail.startswith("no answer within"):
        return result.detail
    return "refused or failed"  # the driver's own words may name hosts and ports


class ReadinessMonitor:
    def __init__(self, resources: Resources, interval_seconds: float) -> None:
        self._resources = resources
        self._interval = interval_seconds
        self._latest: Readiness | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="readiness")

    async def stop(self) -> None:
        """Bounded: a probe cancelled mid-handshake may take its client's time to close."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait(
                {self._task}, timeout=self._resources.settings.readiness_timeout_seconds
            )

    async def latest(self) -> Readiness:
        if self._latest is None:
            await self.refresh()
        assert self._latest is not None
        return self._latest

    async def refresh(self) -> None:
        async with self._lock:  # callers waiting meanwhile share the one result
            started = time.monotonic()
            if self._latest is not None and started - self._latest.measured_at < self._interval:
                return
            probes = await probe_all(self._resources)
            spark = gaps = None
            if all(result.ok for result in probes):
                spark = await self._detail(
                    measure_spark_lag(self._resources.postgres, self._resources.settings)
                )
                gaps = await self._detail(self._consumer_gaps())
            self._latest = Readiness(probes, spark, time.monotonic(), gaps)

    async def _consumer_gaps(self) -> dict[str, int]:
        async with self._resources.postgres.connection() as connection:
            return await messages_lost_by_group(connection)

    async def _detail(self, reading: Awaitable[T]) -> T | None:
        try:
            async with asyncio.timeout(self._resources.settings.readiness_timeout_seconds):
                return await reading
        except Exception:  # detail only: readiness was decided by the probes
            return None

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a probe bug must not end the monitoring
                log.exception("readiness probes failed")
            await asyncio.sleep(self._interval)
