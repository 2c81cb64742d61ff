"""Promotion, an admin's call: fallback facts whose events are not yet in fact_user_event move
into the model tables, those users' sessions are rebuilt, and who did it is recorded. Running
it again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.db.postgres import PostgresPool
from app.model import queries
from jobs import session_locks
from jobs.model_store import read_facts_of_users, replace_sessions
from jobs.pandas.transforms import build_sessions
from jobs.rules import Rules


@dataclass(frozen=True)
class PromotionOutcome:
    facts: int  # promoted, or awaiting promotion for a dry run
    sessions: int = 0


async def promote(
    postgres: PostgresPool,
    rules: Rules,
    promoted_by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
) -> PromotionOutcome:
    async with postgres.connection() as connection:
        if dry_run:
            return PromotionOutcome(
                await queries.count_awaiting_promotion(connection, since, until)
            )
        async with connection.transaction():
            await queries.hold_off_other_fact_writers(connection)
            promoted = await queries.promote_facts(connection, since, until)
            if not promoted:
                return PromotionOutcome(0)
            users = sorted({row["user_id"] for row in promoted})
            await session_locks.lock_for_transaction(connection, "dim_session", users)
            facts = await read_facts_of_users(connection, "fact_user_event", users)
            sessions = await replace_sessions(
                connection, build_sessions(facts, rules), users, "dim_session", "pandas"
            )
            latest = max(row["received_at"] for row in promoted)
            await queries.record_promotion(
                connection, since, until, promoted_by, len(promoted), sessions, latest
            )
    return PromotionOutcome(len(promoted), sessions)
