"""The one way to PostgreSQL: a lazily created asyncpg pool, shared by everything in a process.

Connection faults come out as StoreUnavailable, so callers tell a store that is down from rows
it refuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from app.db.errors import StoreUnavailable

# Faults of the connection or the server as a whole: the work is retried later.
TRANSIENT_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
)
# Faults of the rows themselves: the refused record is dead-lettered.
ROW_ERRORS = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)


class PostgresPool:
    """Created on first use, so a process starts (and waits) while PostgreSQL is down."""

    def __init__(self, database_url: str, max_size: int = 10, connect_timeout: float = 5) -> None:
        self._database_url = database_url
        self._max_size = max_size
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            pool = await self._connected()
            async with pool.acquire() as connection:
                yield connection
        except TRANSIENT_ERRORS as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _connected(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._database_url,
                    min_size=1,
                    max_size=self._max_size,
                    timeout=self._connect_timeout,
                )
            return self._pool
