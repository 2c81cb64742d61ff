"""How far behind Spark is, and the automatic pandas fallback when it lags too far.

Lag is Kafka's end offsets of the user topics minus the offsets Spark has committed in
PostgreSQL. In `auto` mode, past the threshold (or with lag and no batch for too long), the
fallback runs over the range neither Spark nor an earlier fallback has covered.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from app.config import FallbackMode, Settings
from app.db.postgres import PostgresPool
from app.metrics import (
    FALLBACK_RUNS,
    SPARK_CHECKPOINT_RESETS,
    SPARK_LAG,
    SPARK_LAST_BATCH_AGE,
    SPARK_OFFSET_GAPS,
)
from app.model import queries
from app.producers.kafka_admin import end_offsets
from app.topics import USER_TOPICS

log = logging.getLogger(__name__)
# A process of its own: pandas work would otherwise hold up the service's event loop, and
# its memory goes back to the system when it ends. It runs the same use case as the command.
AUTO_FALLBACK_COMMAND = (sys.executable, "-m", "app.jobs", "fallback", "--auto")


@dataclass(frozen=True)
class SparkLag:
    lag_messages: int
    last_batch_at: datetime | None
    measured_at: datetime
    checkpoint_resets: int = 0  # the stream's checkpoint started afresh
    offset_gaps: int = 0  # offsets Kafka had lost before Spark read them

    @property
    def seconds_since_batch(self) -> float | None:
        if self.last_batch_at is None:
            return None
        return (self.measured_at - self.last_batch_at).total_seconds()

    def is_lagging(self, threshold_messages: int, stale_seconds: int) -> bool:
        if self.lag_messages > threshold_messages:
            return True
        stale = self.seconds_since_batch is None or self.seconds_since_batch > stale_seconds
        return self.lag_messages > 0 and stale


async def measure_spark_lag(postgres: PostgresPool, settings: Settings) -> SparkLag:
    ends = await end_offsets(settings.kafka_bootstrap_servers, list(USER_TOPICS.values()))
    async with postgres.connection() as connection:
        # The service's stream is the one at the configured checkpoint; replays run elsewhere.
        done = await queries.spark_offsets(connection, settings.spark_checkpoint_dir)
        last = await queries.last_spark_batch(connection, settings.spark_checkpoint_dir)
        resets, gaps = await queries.spark_losses(connection, settings.spark_checkpoint_dir)
    lag = sum(max(0, end - done.get(partition, 0)) for partition, end in ends.items())
    measured = SparkLag(
        lag, last["processed_at"] if last else None, datetime.now(UTC), resets, gaps
    )
    SPARK_LAG.set(lag)
    SPARK_CHECKPOINT_RESETS.set(resets)
    SPARK_OFFSET_GAPS.set(gaps)
    if measured.seconds_since_batch is not None:
        SPARK_LAST_BATCH_AGE.set(measured.seconds_since_batch)
    return measured


async def check_spark_health(
    postgres: PostgresPool, settings: Settings, fallback_from: float = 0.0
) -> bool:
    """Measure the lag; in auto mode, run the fallback when Spark lags. True if it ran.

    Not before `fallback_from` (time.monotonic()): a stream started with the service takes a
    while to commit its first batch, and until then its whole topic reads as lag."""
    lag = await measure_spark_lag(postgres, settings)
    async with postgres.connection() as connection:
        mode = await queries.fallback_mode(connection, settings.fallback_mode)
    lagging = lag.is_lagging(settings.spark_lag_threshold_messages, settings.spark_stale_seconds)
    if mode is not FallbackMode.AUTO or not lagging:
        return False
    if time.monotonic() < fallback_from:
        log.info("Spark lags, within the start-up grace: no fallback yet",
                 extra={"lag": lag.lag_messages})  # fmt: skip
        return False
    log.warning("Spark lags; running the pandas fallback", extra={"lag": lag.lag_messages})
    FALLBACK_RUNS.labels("auto").inc()
    process = await asyncio.create_subprocess_exec(*AUTO_FALLBACK_COMMAND)
    try:
        return await process.wait() == 0
    except asyncio.CancelledError:  # stopping: the run records itself as interrupted, no orphan
        process.terminate()
        await asyncio.shield(process.wait())
        raise
