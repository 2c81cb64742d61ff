"""`python -m app.jobs reapply-rules [--since T] [--until T] [--dry-run]`: rebuild the facts of
staged events with today's rules, in place, then the rollups of every day that changed."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from app.bootstrap import Resources
from app.jobs.progress import ProgressLine
from app.jobs.times import add_range_arguments
from app.model.reapply import reapply_to_history
from jobs.pandas.fallback import count_staged


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_range_arguments(parser)


async def run(args: argparse.Namespace, resources: Resources) -> int:
    since = args.since or datetime(1970, 1, 1, tzinfo=UTC)
    until = args.until or datetime.now(UTC)
    version = resources.rules.version
    if args.dry_run:
        async with resources.postgres.connection() as connection:
            staged = await count_staged(connection, since, until)
        print(f"reapply-rules (dry run): {staged} staged events, to rebuild with rules {version}")
        return 0
    result = await reapply_to_history(
        resources.postgres, resources.rules, since, until, progress=ProgressLine("events")
    )
    print(
        f"reapply-rules: {result.events} staged events, {result.facts_rewritten} facts rewritten "
        f"with rules {version}, rollups of {len(result.days)} days rebuilt"
    )
    return 0
