"""`python -m app.jobs promote [--since T] [--until T] [--dry-run]`: move fallback facts whose
events are not yet in fact_user_event into the model tables, rebuild those users' sessions, and
record who did it. Running it again changes nothing."""

from __future__ import annotations

import argparse
import getpass

from app.bootstrap import Resources
from app.jobs.times import add_range_arguments
from app.model.promotion import promote


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_range_arguments(parser)


async def run(args: argparse.Namespace, resources: Resources) -> int:
    outcome = await promote(
        resources.postgres, resources.rules, getpass.getuser(), args.since, args.until,
        dry_run=args.dry_run,
    )  # fmt: skip
    if args.dry_run:
        print(f"promote (dry run): {outcome.facts} fallback facts would be promoted")
    else:
        print(f"promote: {outcome.facts} facts promoted, {outcome.sessions} sessions rebuilt")
    return 0
