"""`python -m app.jobs status`: Spark's lag and last batches, fallback runs, rows awaiting
promotion, and the fallback mode."""

from __future__ import annotations

import argparse

import asyncpg

from app.config import get_settings
from app.db import model_queries as queries
from app.spark_health import measure_spark_lag


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


async def run(_args: argparse.Namespace) -> int:
    settings = get_settings()
    lag = await measure_spark_lag(settings)
    connection = await asyncpg.connect(settings.database_url)
    try:
        mode = await queries.fallback_mode(connection, settings.fallback_mode)
        batches = await connection.fetch(
            "SELECT batch_id, events, unparsed, processed_at FROM spark_batches "
            "WHERE stream = $1 ORDER BY batch_id DESC LIMIT 3",
            settings.spark_checkpoint_dir,
        )
        runs = await connection.fetch(
            "SELECT run_id, trigger, range_start, range_end, status, events, sessions "
            "FROM fallback_runs ORDER BY run_id DESC LIMIT 5"
        )
        waiting = await queries.count_awaiting_promotion(connection, None, None)
    finally:
        await connection.close()
    since = lag.seconds_since_batch
    print(
        f"spark lag: {lag.lag_messages} messages; last batch: "
        f"{'never' if since is None else f'{since:.0f}s ago'}"
    )
    for batch in batches:
        print(
            f"  batch {batch['batch_id']}: {batch['events']} events "
            f"({batch['unparsed']} unparsed) at {batch['processed_at']:%Y-%m-%d %H:%M:%S}"
        )
    print(f"fallback mode: {mode.value}")
    for r in runs:
        print(
            f"  fallback run {r['run_id']} ({r['trigger']}): {r['status']}, {r['events']} "
            f"events, {r['sessions']} sessions, [{r['range_start']}, {r['range_end']})"
        )
    print(f"awaiting promotion: {waiting} fallback facts")
    return 0  # fmt: skip
