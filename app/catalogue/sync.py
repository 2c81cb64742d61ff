"""A catalogue sync: ask the movie source what to refresh, publish its details to the `movie`
topic, and record the run in tmdb_sync_runs (the changes feed keeps its checkpoint there too).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg

from app.catalogue import queries
from app.catalogue.publishing import SyncCounts, fetch_and_publish
from app.catalogue.sources import MovieSource, SyncKind
from app.db.postgres import PostgresPool
from app.producers.kafka import Publisher

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


async def sync_catalogue(
    postgres: PostgresPool,
    source: MovieSource,
    publisher: Publisher,
    kind: SyncKind,
    pages: int | None = None,
    slot: datetime | None = None,
    progress: Progress = lambda done, total: None,
) -> SyncCounts:
    """One recorded run; raises (after recording the failure) when the run fails."""
    async with postgres.connection() as connection:
        run_id = await queries.start_run(connection, source.recorded_kind(kind), slot)
        try:
            plan = await source.plan(connection, kind, pages)
            counts = await publish(connection, source, publisher, plan.movie_ids, progress)
            if plan.changes_checkpoint is not None:
                await queries.write_checkpoint(connection, "changes", plan.changes_checkpoint)
        except asyncio.CancelledError:  # the process is stopping: say so, and stop
            await asyncio.shield(
                queries.finish_run(
                    connection, run_id, status="interrupted", fetched=0, changed=0, gone=0,
                    error="the process stopped before the sync ended",
                )
            )  # fmt: skip
            raise
        except Exception as error:
            await queries.finish_run(
                connection, run_id, status="failed", fetched=0, changed=0, gone=0, error=str(error)
            )
            raise
        await queries.finish_run(
            connection, run_id, status="succeeded", fetched=counts.fetched,
            changed=counts.changed, gone=counts.gone, error=None,
        )  # fmt: skip
        return counts


async def publish(
    connection: asyncpg.Connection,
    source: MovieSource,
    publisher: Publisher,
    ids: list[int],
    progress: Progress,
) -> SyncCounts:
    stored = await queries.details_hashes(connection, ids)
    counts = await fetch_and_publish(
        ids, source.details, publisher, stored, on_progress=lambda done: progress(done, len(ids))
    )
    if counts.gone_ids:
        log.info("movies gone from TMDB", extra={"movie_ids": counts.gone_ids})
    return counts
