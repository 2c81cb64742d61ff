"""`python -m app.jobs forget-user USER_ID [--dry-run]`: erase one user from MongoDB and
PostgreSQL, rollups included, and list them so their events still in Kafka stay out."""

from __future__ import annotations

import argparse
import getpass
import sys

from app.bootstrap import Resources
from app.ops.erasure import ErasureBlocked, ErasureOutcome, forget_user


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user_id", help="the application's user id, exactly as events carry it")
    parser.add_argument("--dry-run", action="store_true", help="count what would be removed")
    parser.add_argument(
        "--requested-by",
        default=getpass.getuser(),
        help="who asked for the erasure, for the audit row (default: the OS user)",
    )


async def run(args: argparse.Namespace, resources: Resources) -> int:
    try:
        outcome = await forget_user(
            resources, args.user_id, args.requested_by, dry_run=args.dry_run,
            say=lambda line: print(f"forget-user: {line}", file=sys.stderr),
        )  # fmt: skip
    except ErasureBlocked as blocked:
        print(f"forget-user: {blocked}", file=sys.stderr)
        return 1
    print("\n".join(describe(outcome)))
    return 0


def describe(outcome: ErasureOutcome) -> list[str]:
    """The user only by digest: the output may end up in a ticket or a log."""
    verb = "would remove" if outcome.dry_run else "removed"
    title = "forget-user (dry run)" if outcome.dry_run else "forget-user"
    lines = [f"{title}: user {outcome.user_hash[:16]}…"]
    width = max(map(len, outcome.rows))
    lines += [f"  {store:<{width}}  {count:>8} {verb}" for store, count in outcome.rows.items()]
    if not outcome.dry_run:
        lines.append("  listed: the consumers, Spark and the fallback drop their events now")
    return lines
