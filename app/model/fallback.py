"""The pandas fallback as a use case: which range to rebuild, then a recorded run over it.

The range policy is pure: an operator's bounds win; otherwise an automatic run starts at the
first staged event neither Spark nor an earlier fallback holds (within the lookback) and ends a
settle time before now, so staging has caught up with what Kafka acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import FallbackMode
from app.db.postgres import PostgresPool
from app.model import queries
from jobs.pandas.fallback import FallbackResult, build_fallback, count_staged
from jobs.rules import Rules

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReceiveRange:
    since: datetime
    until: datetime


@dataclass(frozen=True)
class FallbackPolicy:
    settle: timedelta
    max_lookback: timedelta


@dataclass(frozen=True)
class FallbackOutcome:
    range: ReceiveRange | None  # None: nothing to do
    staged: int = 0  # for a dry run: what a run would read
    result: FallbackResult | None = None


def fallback_range(
    now: datetime,
    covered_until: datetime | None,
    policy: FallbackPolicy,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ReceiveRange | None:
    """The received_at range to rebuild; None when it is empty.

    `covered_until` is the receipt of the first staged event the model and the fallback lack;
    None when they lack none.
    """
    if since is None and covered_until is not None:
        since = max(covered_until, now - policy.max_lookback)
    until = until or now - policy.settle
    if since is None or since >= until:
        return None
    return ReceiveRange(since, until)


async def run_fallback(
    postgres: PostgresPool,
    rules: Rules,
    policy: FallbackPolicy,
    now: datetime,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    trigger: str = "manual",
    dry_run: bool = False,
    progress: Progress = lambda done, total: None,
) -> FallbackOutcome:
    async with postgres.connection() as connection:
        # An operator's range needs no search; on millions of facts it took 20 s.
        covered_until = (
            None
            if since is not None
            else await queries.first_uncovered(connection, now - policy.max_lookback)
        )
        chosen = fallback_range(now, covered_until, policy, since, until)
        if chosen is None:
            return FallbackOutcome(None)
        if dry_run:
            staged = await count_staged(connection, chosen.since, chosen.until)
            return FallbackOutcome(chosen, staged=staged)
        run_id = await queries.start_fallback_run(connection, trigger, chosen.since, chosen.until)
        try:
            result = await build_fallback(
                connection, rules, chosen.since, chosen.until, progress=progress
            )
        except asyncio.CancelledError:  # the process is stopping: say so, and stop
            note = "the process stopped before the run ended"
            await asyncio.shield(
                queries.finish_fallback_run(connection, run_id, "interrupted", error=note)
            )
            raise
        except Exception as error:
            await queries.finish_fallback_run(connection, run_id, "failed", error=str(error))
            raise
        await queries.finish_fallback_run(
            connection, run_id, "succeeded", result.events, result.sessions
        )
    return FallbackOutcome(chosen, staged=result.events, result=result)


async def fallback_mode(
    postgres: PostgresPool, default: FallbackMode, change_to: FallbackMode | None = None
) -> FallbackMode:
    """The mode in force, after changing it when asked."""
    async with postgres.connection() as connection:
        if change_to is not None:
            await queries.set_fallback_mode(connection, change_to)
        return await queries.fallback_mode(connection, default)
