"""`python -m app.jobs status`: each consumer group's lag, Spark's lag and last batches,
fallback runs, rows awaiting promotion, and the fallback mode."""

from __future__ import annotations

import argparse

from app.bootstrap import Resources
from app.consumers.lag import consumer_lags
from app.jobs.storage_upkeep import describe
from app.model.status import model_status
from app.ops.storage_upkeep import last_upkeep_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


async def run(_args: argparse.Namespace, resources: Resources) -> int:
    lags = await consumer_lags(resources.settings.kafka_bootstrap_servers)
    print("consumer lag: " + ", ".join(f"{group} {lag}" for group, lag in lags.items()))
    status = await model_status(resources.postgres, resources.settings)
    for group, lost in status.consumer_gaps.items():
        print(
            f"  LOSSES: {group} never read {lost} messages Kafka's retention removed "
            "(see consumer_offset_gaps)"
        )
    since = status.lag.seconds_since_batch
    print(
        f"spark lag: {status.lag.lag_messages} messages; last batch: "
        f"{'never' if since is None else f'{since:.0f}s ago'}"
    )
    if status.lag.checkpoint_resets or status.lag.offset_gaps:
        print(
            f"  LOSSES: {status.lag.checkpoint_resets} checkpoint reset(s), "
            f"{status.lag.offset_gaps} offset gap(s) lost to Kafka retention "
            "(see spark_checkpoint_resets, spark_offset_gaps)"
        )
    for batch in status.batches:
        print(
            f"  batch {batch['batch_id']}: {batch['events']} events "
            f"({batch['unparsed']} unparsed) at {batch['processed_at']:%Y-%m-%d %H:%M:%S}"
        )
    print(f"fallback mode: {status.mode.value}")
    for r in status.fallback_runs:
        print(
            f"  fallback run {r['run_id']} ({r['trigger']}): {r['status']}, {r['events']} "
            f"events, {r['sessions']} sessions, [{r['range_start']}, {r['range_end']})"
        )
    print(f"awaiting promotion: {status.awaiting_promotion} fallback facts")
    async with resources.postgres.connection() as connection:
        upkeep = await last_upkeep_run(connection)
    print("last " + describe(upkeep) if upkeep else "storage upkeep: never run")
    return 0
