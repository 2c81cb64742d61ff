"""The audit's ledgers by event id (acknowledged, backed up): one row per event, written
idempotently, so a batch redelivered after a crash is recorded once. The reconciler counts
them per minute through their receive-time indexes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from jobs.forgotten_users import user_hash

COLUMNS = ("event_id", "event_type", "received_at", "user_hash")
INSERT_ONCE = (
    "INSERT INTO {} (event_id, event_type, received_at, user_hash) "
    "SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bytea[]) "
    "ON CONFLICT (event_id) DO NOTHING"
)


@functools.lru_cache(maxsize=4096)  # a request's events share their receive time
def receive_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class LedgerEntry:
    event_id: str
    event_type: str
    received_at: datetime
    user_id: str

    def row(self) -> tuple[str, str, datetime, bytes]:
        """The id as text: asyncpg's encoder parses it faster than uuid.UUID does."""
        return self.event_id, self.event_type, self.received_at, user_hash(self.user_id)


async def record_entries(
    connection: asyncpg.Connection, table: str, entries: list[LedgerEntry]
) -> None:
    """Into `table` (audit.acknowledged or audit.backed_up) the entries not yet there.

    COPY first, as most batches are new: a third of an INSERT's cost. A batch written before (a
    redelivery) fails on the key and goes again through an INSERT that skips what is there; the
    savepoint keeps the caller's transaction."""
    if not entries:
        return
    rows = [entry.row() for entry in entries]
    schema, name = table.split(".")
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                name, schema_name=schema, records=rows, columns=COLUMNS
            )
    except asyncpg.UniqueViolationError:
        await connection.execute(INSERT_ONCE.format(table), *zip(*rows, strict=True))
