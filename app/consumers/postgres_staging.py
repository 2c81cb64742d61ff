"""PostgreSQL staging: `stg_user_logs` (every event) and `stg_comments` (comments).

COPY into session temp tables, then `INSERT ... ON CONFLICT DO NOTHING` in one transaction.
A batch PostgreSQL refuses is split in halves until the refused events are found alone.
"""

from __future__ import annotations

import asyncio

import asyncpg

from app.consumers.records import DecodedEvent
from app.consumers.sink import StoreUnavailable
from app.consumers.staging_rows import COMMENT_COLUMNS, USER_LOG_COLUMNS, comment_row, user_log_row

# Faults of the connection or the server as a whole: retry the batch later.
TRANSIENT_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)
# Faults of the rows themselves: find the refused event and dead-letter it.
ROW_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)

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


INSERT_USER_LOGS = _upsert("stg_user_logs", USER_LOG_COLUMNS)
INSERT_COMMENTS = _upsert("stg_comments", COMMENT_COLUMNS)


class PostgresStagingSink:
    name = "postgres_staging"

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        try:
            pool = await self._connected_pool()
            async with pool.acquire() as connection:
                return await self._write_or_bisect(connection, events, offset=0)
        except TRANSIENT_ERRORS as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def _connected_pool(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._database_url, min_size=1, max_size=2, timeout=5
                )
            return self._pool

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
            if comments:
                await connection.copy_records_to_table(
                    "incoming_comments", records=comments, columns=COMMENT_COLUMNS
                )
                await connection.execute(INSERT_COMMENTS)
