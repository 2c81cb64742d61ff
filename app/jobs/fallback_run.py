"""`python -m app.jobs fallback [--since T] [--until T] [--dry-run]`: build fallback facts
with pandas from staging, for a range of the server's receive time."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from app.bootstrap import Resources
from app.jobs.progress import ProgressLine
from app.jobs.times import add_range_arguments
from app.model.fallback import FallbackPolicy, run_fallback


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_range_arguments(parser)
    parser.add_argument(
        "--auto", action="store_true", help="as the health check runs it: the range not covered"
    )


async def run(args: argparse.Namespace, resources: Resources) -> int:
    settings = resources.settings
    policy = FallbackPolicy(
        settle=timedelta(seconds=settings.fallback_settle_seconds),
        max_lookback=timedelta(seconds=settings.fallback_max_lookback_seconds),
    )
    outcome = await run_fallback(
        resources.postgres, resources.rules, policy, datetime.now(UTC),
        since=args.since, until=args.until,
        trigger="auto" if args.auto else "manual", dry_run=args.dry_run,
        progress=ProgressLine("events"),
    )  # fmt: skip
    chosen, result = outcome.range, outcome.result
    if chosen is None:
        print("fallback: nothing to do (no staged events in the range)")
    elif result is None:
        span = f"[{chosen.since}, {chosen.until})"
        print(f"fallback (dry run): {outcome.staged} staged events in {span}")
    else:
        print(
            f"fallback [{chosen.since}, {chosen.until}): {result.events} events, "
            f"{result.new_facts} new facts, {result.sessions} sessions "
            f"(rules {resources.rules.version})"
        )
    return 0
