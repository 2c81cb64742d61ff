"""Rebuilding the serving rollups from the facts, a UTC day at a time: after a rules change
re-ran the model, say. Facts go on arriving meanwhile; each day is rebuilt in a transaction
that holds their inserts back, so none is lost or counted twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from app.db.postgres import PostgresPool

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RebuildOutcome:
    first_day: date | None
    last_day: date | None
    days: int


async def fact_days(postgres: PostgresPool) -> tuple[date | None, date | None]:
    async with postgres.connection() as connection:
        row = await connection.fetchrow(
            "SELECT min(event_date) AS first, max(event_date) AS last FROM fact_user_event"
        )
    return row["first"], row["last"]


async def rebuild_rollups(
    postgres: PostgresPool,
    since: date | None = None,
    until: date | None = None,
    progress: Progress = lambda done, total: None,
) -> RebuildOutcome:
    """Every day from since to until (default: the facts' first and last day), inclusive."""
    if since is None or until is None:
        first, last = await fact_days(postgres)
        since, until = since or first, until or last
    if since is None or until is None or since > until:
        return RebuildOutcome(since, until, 0)
    total = (until - since).days + 1
    for n in range(total):
        day = since + timedelta(days=n)
        async with postgres.connection() as connection, connection.transaction():
            await connection.execute("SELECT rebuild_rollups($1, $1)", day)
        progress(n + 1, total)
    return RebuildOutcome(since, until, total)
