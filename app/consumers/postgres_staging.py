"""PostgreSQL staging: `stg_user_logs` (every event) and `stg_comments` (comments).

Both are partitioned by receive day, so their key is (event_id, received_at): a redelivered
batch meets the key, but a client's retry of an event comes with a new receive time. The writer
looks for each batch's ids among the events received since a copy of them can have been (the
rules' `copy_lead` before the batch's earliest event time), through the key's index of the few
partitions that spans. A batch none of whose ids is staged there is COPied straight into the
tables in one transaction; otherwise it goes through session temp tables and only the events
not yet staged go in, the first copy of an id winning. On that path, a copy whose event_id is
staged with other content (another event reusing the id) is recorded in event_id_conflicts. A
batch PostgreSQL refuses is split in halves until the refused events are found alone. Events of
users on the suppression list (erased) are dropped, checked in the writing transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import asyncpg

from app.consumers.records import DecodedEvent
from app.consumers.staging_rows import COMMENT_COLUMNS, USER_LOG_COLUMNS, comment_row, user_log_row
from app.db.partitions import (
    RECEIVED_BY_NOW,
    STAGING,
    look_back_transaction,
    writing_with_partitions,
)
from app.db.postgres import ROW_ERRORS, PostgresPool
from app.metrics import ERASED_EVENTS_DROPPED, EVENT_ID_CONFLICTS
from jobs.forgotten_users import forgotten_among
from jobs.rules import load_rules

log = logging.getLogger(__name__)

TEMP_TABLES = """
    CREATE TEMP TABLE IF NOT EXISTS incoming_user_logs
        (LIKE stg_user_logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS incoming_comments
        (LIKE stg_comments INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""


COLUMNS = ", ".join(USER_LOG_COLUMNS)
# The first copy of each id not yet staged since $1; the key guards against a writer beside us.
INSERT_USER_LOGS = f"""
    INSERT INTO stg_user_logs ({COLUMNS})
    SELECT DISTINCT ON (event_id) {COLUMNS} FROM incoming_user_logs x
    WHERE NOT EXISTS (SELECT 1 FROM stg_user_logs s
        WHERE s.event_id = x.event_id AND s.received_at >= $1
            AND s.received_at < {RECEIVED_BY_NOW})
    ORDER BY event_id, received_at
    ON CONFLICT (event_id, received_at) DO NOTHING
    RETURNING event_id, received_at
"""
INSERT_COMMENTS = f"""
    INSERT INTO stg_comments ({", ".join(COMMENT_COLUMNS)})
    SELECT {", ".join(f"c.{column}" for column in COMMENT_COLUMNS)} FROM incoming_comments c
    JOIN unnest($1::uuid[], $2::timestamptz[]) AS i (event_id, received_at)
        USING (event_id, received_at)
"""
# A join, not `= ANY($1)`: the planner would weigh each of the batch's ids in each partition,
# four times the query's own cost.
ANY_STAGED = (
    "SELECT EXISTS (SELECT 1 FROM unnest($1::uuid[]) AS i (event_id) JOIN stg_user_logs s "
    f"USING (event_id) WHERE s.received_at >= $2 AND s.received_at < {RECEIVED_BY_NOW})"
)

# A movie known only from events gets a row at once; the next TMDB sync fills it in.
INSERT_PLACEHOLDER_MOVIES = """
    INSERT INTO dim_movie (movie_id, title, is_placeholder, source_flag)
    SELECT movie_id, 'Movie ' || movie_id, true, 'events' FROM unnest($1::bigint[]) AS movie_id
    ON CONFLICT (movie_id) DO NOTHING
"""
MOVIE_ID = USER_LOG_COLUMNS.index("movie_id")
# Copies whose id is staged with other content (what the client made, not when it arrived).
CONTENT = "(x.event_type, x.user_id, x.session_id, x.movie_id, x.occurred_at, x.payload)"
RECORD_CONFLICTS = f"""
    INSERT INTO event_id_conflicts (event_id, content_hash, event_type, user_id, session_id,
        movie_id, occurred_at, received_at, payload, kafka_topic, kafka_partition, kafka_offset)
    SELECT x.event_id, md5({CONTENT}::text), x.event_type, x.user_id, x.session_id, x.movie_id,
        x.occurred_at, x.received_at, x.payload, x.kafka_topic, x.kafka_partition, x.kafka_offset
    FROM incoming_user_logs x JOIN stg_user_logs s
        ON s.event_id = x.event_id AND s.received_at >= $1
        AND s.received_at < {RECEIVED_BY_NOW}
    WHERE {CONTENT.replace("x.", "s.")} IS DISTINCT FROM {CONTENT}
    ON CONFLICT DO NOTHING
    RETURNING event_id::text
"""
EVENT_ID = USER_LOG_COLUMNS.index("event_id")
OCCURRED_AT = USER_LOG_COLUMNS.index("occurred_at")


class PostgresStagingSink:
    name = "postgres_staging"

    def __init__(self, pool: PostgresPool, copy_lead: timedelta | None = None) -> None:
        self._pool = pool
        self._copy_lead = copy_lead or load_rules().copy_lead

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        async with self._pool.connection() as connection:
            return await self._write_or_bisect(connection, events, offset=0)

    async def _write_or_bisect(
        self, connection: asyncpg.Connection, events: list[DecodedEvent], offset: int
    ) -> dict[int, str]:
        try:
            await self._write_batch(connection, events)
            return {}
        except ROW_ERRORS as error:
            if len(events) == 1:
                return {offset: f"PostgreSQL refused the event: {error}"}
        middle = len(events) // 2
        return {
            **await self._write_or_bisect(connection, events[:middle], offset),
            **await self._write_or_bisect(connection, events[middle:], offset + middle),
        }

    async def _write_batch(
        self, connection: asyncpg.Connection, events: list[DecodedEvent]
    ) -> None:
        await writing_with_partitions(
            connection,
            STAGING,
            lambda: [datetime.fromisoformat(event.event["received_at"]) for event in events],
            lambda: self._write_once(connection, events),
        )

    async def _write_once(self, connection: asyncpg.Connection, events: list[DecodedEvent]) -> None:
        try:
            async with look_back_transaction(connection):
                kept = await not_forgotten(connection, events)
                await self._stage(connection, kept, copy=True)
        except asyncpg.UniqueViolationError:  # a copy staged meanwhile by a writer beside us
            async with look_back_transaction(connection):
                kept = await not_forgotten(connection, events)
                await self._stage(connection, kept, copy=False)
        if dropped := len(events) - len(kept):
            ERASED_EVENTS_DROPPED.labels(self.name).inc(dropped)

    async def _stage(
        self, connection: asyncpg.Connection, events: list[DecodedEvent], copy: bool
    ) -> None:
        user_logs, comments, movie_ids = staging_rows(events)
        if not user_logs:
            return
        since = min(row[OCCURRED_AT] for row in user_logs) - self._copy_lead
        ids = [row[EVENT_ID] for row in user_logs]
        if (
            copy
            and len(set(ids)) == len(ids)
            and not await connection.fetchval(ANY_STAGED, ids, since)
        ):
            await copy_rows(connection, "stg_user_logs", "stg_comments", user_logs, comments)
        else:
            await self._insert_new(connection, user_logs, comments, since)
        await connection.execute(INSERT_PLACEHOLDER_MOVIES, movie_ids)

    async def _insert_new(
        self,
        connection: asyncpg.Connection,
        user_logs: list[tuple],
        comments: list[tuple],
        since: datetime,
    ) -> None:
        """The path of a batch with copies of staged events: only the first of each id goes in."""
        await connection.execute(TEMP_TABLES)
        await copy_rows(connection, "incoming_user_logs", "incoming_comments", user_logs, comments)
        inserted = await connection.fetch(INSERT_USER_LOGS, since)
        report_conflicts(await connection.fetch(RECORD_CONFLICTS, since))
        if comments and inserted:
            await connection.execute(
                INSERT_COMMENTS, [row[0] for row in inserted], [row[1] for row in inserted]
            )


async def not_forgotten(
    connection: asyncpg.Connection, events: list[DecodedEvent]
) -> list[DecodedEvent]:
    """The events whose users are not on the suppression list, read in the writing
    transaction."""
    forgotten = await forgotten_among(connection, (event.user_id for event in events))
    return [event for event in events if event.user_id not in forgotten]


def staging_rows(events: list[DecodedEvent]) -> tuple[list[tuple], list[tuple], list[int]]:
    """The batch's rows of stg_user_logs and stg_comments, and the movies it names."""
    user_logs = [user_log_row(event) for event in events]
    comments = [row for event in events if (row := comment_row(event)) is not None]
    movie_ids = sorted({row[MOVIE_ID] for row in user_logs if row[MOVIE_ID] is not None})
    return user_logs, comments, movie_ids


def report_conflicts(rows: list[asyncpg.Record]) -> None:
    if rows:
        EVENT_ID_CONFLICTS.inc(len(rows))
        log.warning(
            "event ids reused with other content; the first copy is kept",
            extra={"event_ids": [row["event_id"] for row in rows[:20]], "count": len(rows)},
        )


async def copy_rows(
    connection: asyncpg.Connection,
    user_logs_table: str,
    comments_table: str,
    user_logs: list[tuple],
    comments: list[tuple],
) -> None:
    await connection.copy_records_to_table(
        user_logs_table, records=user_logs, columns=USER_LOG_COLUMNS
    )
    if comments:
        await connection.copy_records_to_table(
            comments_table, records=comments, columns=COMMENT_COLUMNS
        )
