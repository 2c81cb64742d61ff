"""`python -m app.jobs promote [--since T] [--until T] [--dry-run]`: move fallback facts whose
events are not yet in fact_user_event into the model tables, rebuild those users' sessions, and
record who did it. Running it again changes nothing."""

from __future__ import annotations

import argparse
import getpass

import asyncpg

from app.config import get_settings
from app.db import model_queries as queries
from app.jobs.times import add_range_arguments
from jobs.model_store import read_facts_of_users, replace_sessions
from jobs.pandas.transforms import build_sessions
from jobs.rules import load_rules


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_range_arguments(parser)


async def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    connection = await asyncpg.connect(settings.database_url)
    try:
        if args.dry_run:
            waiting = await queries.count_awaiting_promotion(connection, args.since, args.until)
            print(f"promote (dry run): {waiting} fallback facts would be promoted")
            return 0
        async with connection.transaction():
            promoted_users = await queries.promote_facts(connection, args.since, args.until)
            users = sorted(set(promoted_users))
            sessions = 0
            if users:
                facts = await read_facts_of_users(connection, "fact_user_event", users)
                rebuilt = build_sessions(facts, load_rules())
                sessions = await replace_sessions(
                    connection, rebuilt, users, "dim_session", "pandas"
                )
                await queries.record_promotion(
                    connection, args.since, args.until, getpass.getuser(),
                    len(promoted_users), sessions,
                )  # fmt: skip
    finally:
        await connection.close()
    print(f"promote: {len(promoted_users)} facts promoted, {sessions} sessions rebuilt")
    return 0
