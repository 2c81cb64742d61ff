"""What `status` reports: Spark's lag and last batches, fallback runs and mode, the facts
awaiting promotion, and the messages consumer groups lost to retention."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from app.config import FallbackMode, Settings
from app.consumers.offset_gaps import messages_lost_by_group
from app.db.postgres import PostgresPool
from app.model import queries
from app.model.health import SparkLag, measure_spark_lag


@dataclass(frozen=True)
class ModelStatus:
    lag: SparkLag
    batches: list[asyncpg.Record]
    mode: FallbackMode
    fallback_runs: list[asyncpg.Record]
    awaiting_promotion: int
    consumer_gaps: dict[str, int]  # messages lost to retention, by consumer group


async def model_status(postgres: PostgresPool, settings: Settings) -> ModelStatus:
    lag = await measure_spark_lag(postgres, settings)
    async with postgres.connection() as connection:
        return ModelStatus(
            lag=lag,
            batches=await queries.recent_spark_batches(
                connection, settings.spark_checkpoint_dir, limit=3
            ),
            mode=await queries.fallback_mode(connection, settings.fallback_mode),
            fallback_runs=await queries.recent_fallback_runs(connection, limit=5),
            awaiting_promotion=await queries.count_awaiting_promotion(connection, None, None),
            consumer_gaps=await messages_lost_by_group(connection),
        )
