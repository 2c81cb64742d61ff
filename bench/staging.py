"""Staging: PostgresStagingSink.write against a bare asyncpg COPY of the same rows.

Both take consumer-sized batches. The sink writes fresh event ids into the real staging
tables (deleted again afterwards); the bare COPY goes into scratch tables with the same
columns and no indexes, plus a second pair with the staging tables' keys and indexes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import asyncpg

from app.config import Settings
from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import DecodedEvent
from app.consumers.staging_rows import COMMENT_COLUMNS, USER_LOG_COLUMNS, comment_row, user_log_row
from app.db.postgres import PostgresPool
from bench.common import (
    Measurement,
    bench_parser,
    chunks,
    decoded_events,
    print_table,
    timed,
    timed_sink_writes,
)

WARMUP_EVENTS = 500  # the pool, the temp tables and the plans, untimed


class ScratchTables:
    """A user-log and a comment table shaped like staging's, dropped when done."""

    def __init__(self, connection: asyncpg.Connection, like: str) -> None:
        suffix = uuid.uuid4().hex[:10]
        self.connection, self.like = connection, like
        self.user_logs, self.comments = f"bench_user_logs_{suffix}", f"bench_comments_{suffix}"

    async def __aenter__(self) -> ScratchTables:
        for table, model in ((self.user_logs, "stg_user_logs"), (self.comments, "stg_comments")):
            await self.connection.execute(f"CREATE TABLE {table} (LIKE {model} {self.like})")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.connection.execute(f"DROP TABLE IF EXISTS {self.user_logs}, {self.comments}")

    async def copy(self, user_logs: list[tuple], comments: list[tuple]) -> None:
        await self.connection.copy_records_to_table(
            self.user_logs, records=user_logs, columns=USER_LOG_COLUMNS
        )
        if comments:
            await self.connection.copy_records_to_table(
                self.comments, records=comments, columns=COMMENT_COLUMNS
            )


def rows(events: Sequence[DecodedEvent]) -> tuple[list[tuple], list[tuple]]:
    comments = [row for event in events if (row := comment_row(event)) is not None]
    return [user_log_row(event) for event in events], comments


async def bare_copy(
    connection: asyncpg.Connection, like: str, what: str, batches: list[Sequence[DecodedEvent]]
) -> Measurement:
    """COPY the rows the sink would write, built beforehand: the bare side only copies."""
    prepared = [rows(batch) for batch in batches]
    async with ScratchTables(connection, like) as scratch:

        async def copy_all() -> None:
            for user_logs, comments in prepared:
                await scratch.copy(user_logs, comments)

        await scratch.copy(*prepared[0])  # warm-up on the same shape, then empty it again
        await connection.execute(f"TRUNCATE {scratch.user_logs}, {scratch.comments}")
        return await timed(what, sum(map(len, batches)), copy_all)


async def through_the_sink(
    settings: Settings, warmup: list[DecodedEvent], batches: list[Sequence[DecodedEvent]]
) -> Measurement:
    pool = PostgresPool(settings.database_url)
    what = f"PostgresStagingSink.write, batches of {settings.consumer_batch_size}"
    try:
        return await timed_sink_writes(what, PostgresStagingSink(pool), warmup, batches)
    finally:
        await pool.close()


async def delete_staged(connection: asyncpg.Connection, events: list[DecodedEvent]) -> None:
    ids = [uuid.UUID(event.event_id) for event in events]
    await connection.execute("DELETE FROM stg_comments WHERE event_id = ANY($1::uuid[])", ids)
    await connection.execute("DELETE FROM stg_user_logs WHERE event_id = ANY($1::uuid[])", ids)


async def main() -> None:
    args = bench_parser(__doc__.split("\n")[0], default_events=20_000).parse_args()
    settings = Settings(run_consumers=False)
    events = decoded_events(args.events + WARMUP_EVENTS, args.seed)
    warmup, timed_events = events[:WARMUP_EVENTS], events[WARMUP_EVENTS:]
    batches = list(chunks(timed_events, settings.consumer_batch_size))
    connection = await asyncpg.connect(settings.database_url)
    try:
        size = settings.consumer_batch_size
        baseline = await bare_copy(
            connection, "INCLUDING DEFAULTS", f"bare COPY, batches of {size}, no indexes", batches
        )
        indexed = await bare_copy(
            connection, "INCLUDING ALL", f"bare COPY, batches of {size}, staging's indexes", batches
        )
        try:
            ours = await through_the_sink(settings, warmup, batches)
        finally:
            await delete_staged(connection, events)
    finally:
        await connection.close()
    print_table("PostgreSQL staging (stg_user_logs, stg_comments)", [baseline, indexed, ours])


if __name__ == "__main__":
    asyncio.run(main())
