"""Session rebuilds take these locks, so two of them never interleave for the same users.

A rebuild reads a user's facts, derives the sessions and replaces the stored ones. Two rebuilds
of one user at once (the Spark stream, a promotion, two fallback runs) would each write what it
read, and the later write would drop the facts only the other had seen. Each holds the locks
of its users from before its read until its write is committed, so the later one reads
everything the earlier one wrote.

Users hash to a fixed number of buckets, so a rebuild of many users takes a bounded number of
locks; they are taken in ascending order, so rebuilders never deadlock on each other.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import asyncpg

# The first key of PostgreSQL's two-key advisory locks: one per sessions table, as rebuilds of
# the model's sessions and of the fallback's never touch each other's rows.
LOCK_CLASSES = {"dim_session": 0x5E55, "dim_session_fallback": 0x5E56}
BUCKETS = 256


def lock_buckets(user_ids: Iterable[str]) -> list[int]:
    """The buckets of these users, in the order they are locked."""
    return sorted({zlib.crc32(user_id.encode()) % BUCKETS for user_id in user_ids})


async def lock_for_transaction(
    connection: asyncpg.Connection, table: str, user_ids: Iterable[str]
) -> None:
    """Held until the connection's transaction ends; call it inside one."""
    await _lock(connection, "pg_advisory_xact_lock", table, user_ids)


async def lock_for_connection(
    connection: asyncpg.Connection, table: str, user_ids: Iterable[str]
) -> None:
    """Held across transactions, for a rebuild whose read and write are separate steps; freed
    by `unlock_all` or when the connection closes."""
    await _lock(connection, "pg_advisory_lock", table, user_ids)


async def unlock_all(connection: asyncpg.Connection) -> None:
    await connection.execute("SELECT pg_advisory_unlock_all()")


async def _lock(
    connection: asyncpg.Connection, function: str, table: str, user_ids: Iterable[str]
) -> None:
    # unnest yields the array in its order, and the aggregate takes the rows as they come.
    await connection.fetchval(
        f"SELECT count({function}($1, bucket)) FROM unnest($2::int[]) AS bucket",
        LOCK_CLASSES[table],
        lock_buckets(user_ids),
    )
