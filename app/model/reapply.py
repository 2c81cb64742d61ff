"""Applying a rules change to history: facts rebuilt in place from staging, then the rollups of
every day whose facts changed."""

from __future__ import annotations

from datetime import datetime

from app.db.postgres import PostgresPool
from app.model.rollups import rebuild_rollups
from jobs.pandas.reapply import Progress, ReapplyResult, reapply_rules
from jobs.rules import Rules


async def reapply_to_history(
    postgres: PostgresPool,
    rules: Rules,
    since: datetime,
    until: datetime,
    progress: Progress = lambda done, total: None,
) -> ReapplyResult:
    async with postgres.connection() as connection:
        result = await reapply_rules(connection, rules, since, until, progress=progress)
    for day in sorted(result.days):
        await rebuild_rollups(postgres, day, day)
    return result
