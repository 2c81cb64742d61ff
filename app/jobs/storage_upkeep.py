"""`python -m app.jobs storage-upkeep`: what the scheduler does every hour, now: add the coming
days' partitions, drop staging's days past STAGING_RETENTION_DAYS, record the run."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from app.bootstrap import Resources
from app.ops.storage_upkeep import UpkeepRun, storage_upkeep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


async def run(_args: argparse.Namespace, resources: Resources) -> int:
    outcome = await storage_upkeep(resources.postgres, resources.settings, datetime.now(UTC))
    print(describe(outcome))
    return 0


def describe(run: UpkeepRun) -> str:
    oldest = "the start (rows from before partitioning)"
    if run.oldest_kept is not None:
        oldest = f"{run.oldest_kept:%Y-%m-%d}"
    covered = "nothing" if run.covered_until is None else f"{run.covered_until:%Y-%m-%d}"
    return (
        f"storage upkeep {run.run_id}: {len(run.added)} partitions added, "
        f"{len(run.dropped)} dropped ({run.rows_dropped} rows) received before "
        f"{run.kept_since:%Y-%m-%d}; staging holds from {oldest}, partitions until {covered}"
    )
