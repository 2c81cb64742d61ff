"""`python -m app.jobs fallback [--since T] [--until T] [--dry-run]`: build fallback facts
with pandas from staging, for a range of the server's receive time."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import asyncpg

from app.config import get_settings
from app.db import model_queries as queries
from app.jobs.progress import ProgressLine
from app.jobs.times import add_range_arguments
from jobs.pandas.fallback import build_fallback, count_staged
from jobs.rules import load_rules


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_range_arguments(parser)
    parser.add_argument(
        "--auto", action="store_true", help="as the health check runs it: the range not covered"
    )


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    rules = load_rules()
    connection = await asyncpg.connect(settings.database_url)
    try:
        now = datetime.now(UTC)
        start_point = await queries.fallback_start_point(connection, settings.spark_checkpoint_dir)
        earliest = now - timedelta(seconds=settings.fallback_max_lookback_seconds)
        since = args.since or (max(start_point, earliest) if start_point else None)
        until = args.until or now - timedelta(seconds=settings.fallback_settle_seconds)
        if since is None or since >= until:
            print("fallback: nothing to do (no staged events in the range)")
            return 0
        if args.dry_run:
            staged = await count_staged(connection, since, until)
            print(f"fallback (dry run): {staged} staged events in [{since}, {until})")
            return 0
        trigger = "auto" if args.auto else "manual"
        run_id = await queries.start_fallback_run(connection, trigger, since, until)
        try:
            result = await build_fallback(
                connection, rules, since, until, progress=ProgressLine("events")
            )
        except Exception as error:
            await queries.finish_fallback_run(connection, run_id, "failed", error=str(error))
            raise
        await queries.finish_fallback_run(
            connection, run_id, "succeeded", result.events, result.sessions
        )
    finally:
        await connection.close()
    print(
        f"fallback [{since}, {until}): {result.events} events, {result.new_facts} new facts, "
        f"{result.sessions} sessions (rules {rules.version})"
    )
    return 0
