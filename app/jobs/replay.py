"""`python -m app.jobs replay --since T --until T [--event-type TYPE ...] [--dry-run]`: publish
events from raw.user_logs to their topics again, with their ids and receive times."""

from __future__ import annotations

import argparse

from app.bootstrap import Resources
from app.jobs.progress import ProgressLine
from app.jobs.times import iso_time
from app.ops.replay import replay
from app.topics import TOPIC_OF_TYPE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=iso_time, required=True, help="from this received_at")
    parser.add_argument("--until", type=iso_time, required=True, help="up to it, excluded")
    parser.add_argument(
        "--event-type", action="append", choices=list(TOPIC_OF_TYPE), default=[],
        help="only these types (repeat for several); all by default",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="count, publish nothing")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    outcome = await replay(
        resources, args.since, args.until, args.event_type, args.dry_run, ProgressLine("events")
    )
    if args.dry_run:
        print(f"replay (dry run): {outcome.events} events in the range would be published")
    else:
        print(f"replay: {outcome.published} of {outcome.events} events published again")
    return 0
