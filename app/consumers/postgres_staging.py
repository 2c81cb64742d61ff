"""PostgreSQL staging: `stg_user_logs` (every event) and `stg_comments` (comments).

COPY into session temp tables, then `INSERT ... ON CONFLICT DO NOTHING` in one transaction.
A batch PostgreSQL refuses is split in halves until the refused events are found alone.
"""

from __future__ import annotations

import asyncpg

from app.consumers.records import DecodedEvent
from app.consumers.staging_rows import COMMENT_COLUMNS, USER_LOG_COLUMNS, comment_row, user_log_row
from app.db.postgres import ROW_ERRORS, PostgresPool

TEMP_TABLES = """
    CREATE TEMP TABLE IF NOT EXISTS incoming_user_logs
        (LIKE stg_user_logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS incoming_comments
        (LIKE stg_comments INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
"""


def _upsert(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {names} FROM incoming_{table.removeprefix('stg_')} "
        "ON CONFLICT (event_id) DO NOTHING"
    )


# A movie known only from events gets a row at once; the next TMDB sync fills it in.
INSERT_PLACEHOLDER_MOVIES = """
    INSERT INTO dim_movie (movie_id, title, is_placeholder, source_flag)
    SELECT DISTINCT movie_id, 'Movie ' || movie_id, true, 'events'
    FROM incoming_user_logs WHERE movie_id IS NOT NULL
    ON CONFLICT (movie_id) DO NOTHING
"""
INSERT_USER_LOGS = _upsert("stg_user_logs", USER_LOG_COLUMNS)
INSERT_COMMENTS = _upsert("stg_comments", COMMENT_COLUMNS)


class PostgresStagingSink:
    name = "postgres_staging"

    def __init__(self, database_url: str) -> None:
        self._pool = PostgresPool(database_url)

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        async with self._pool.connection() as connection:
            return await self._write_or_bisect(connection, events, offset=0)

    async def close(self) -> None:
        await self._pool.close()

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
        user_logs = [user_log_row(event) for event in events]
        comments = [row for event in events if (row := comment_row(event)) is not None]
        async with connection.transaction():
            await connection.execute(TEMP_TABLES)
            await connection.copy_records_to_table(
                "incoming_user_logs", records=user_logs, columns=USER_LOG_COLUMNS
            )
            await connection.execute(INSERT_USER_LOGS)
            await connection.execute(INSERT_PLACEHOLDER_MOVIES)
            if comments:
                await connection.copy_records_to_table(
                    "incoming_comments", records=comments, columns=COMMENT_COLUMNS
                )
                await connection.execute(INSERT_COMMENTS)
