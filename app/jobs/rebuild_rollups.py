"""`python -m app.jobs rebuild-rollups [--since D] [--until D]`: recompute the serving rollups
from fact_user_event for a range of UTC days (default: every day with facts)."""

from __future__ import annotations

import argparse
from datetime import date

from app.bootstrap import Resources
from app.jobs.progress import ProgressLine
from app.model.rollups import rebuild_rollups


def iso_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=iso_day, help="first UTC day (default: the first fact's)")
    parser.add_argument("--until", type=iso_day, help="last UTC day (default: the last fact's)")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    outcome = await rebuild_rollups(
        resources.postgres, args.since, args.until, progress=ProgressLine("days")
    )
    if outcome.days == 0:
        print("rebuild-rollups: no day to rebuild")
    else:
        print(
            f"rebuild-rollups: {outcome.days} days rebuilt, "
            f"{outcome.first_day} to {outcome.last_day}"
        )
    return 0
