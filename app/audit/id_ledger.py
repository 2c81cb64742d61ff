"""The audit's ledgers by event id (acknowledged, backed up): one row per event, written
idempotently, so a batch redelivered after a crash is recorded once, and so is a client's
retry received anew (the ledgers are partitioned by receive day, keyed by id and receive time:
a writer looks for the ids it is given among those received since a copy can have been, the
rules' copy lead before the event's time, or without it the resend window before its
receipt). The reconciler counts them per minute through their receive-time indexes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from app.db.partitions import (
    BY_NAME,
    RECEIVED_BY_NOW,
    look_back_transaction,
    writing_with_partitions,
)
from jobs.forgotten_users import user_hash
from jobs.rules import load_rules

COLUMNS = ("event_id", "event_type", "received_at", "user_hash")
RULES = load_rules()
COPY_LEAD, RESEND_WINDOW = RULES.copy_lead, RULES.resend_window  # read per entry
# A join, not `= ANY($1)`, as in staging: the planner would weigh each id in each partition.
ANY_RECORDED = (
    "SELECT EXISTS (SELECT 1 FROM unnest($1::uuid[]) AS i (event_id) JOIN {} l "
    f"USING (event_id) WHERE l.received_at >= $2 AND l.received_at < {RECEIVED_BY_NOW})"
)
INSERT_ONCE = (
    "INSERT INTO {0} (event_id, event_type, received_at, user_hash) "
    "SELECT DISTINCT ON (event_id) * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], "
    "$4::bytea[]) AS x (event_id, event_type, received_at, user_hash) "
    "WHERE NOT EXISTS (SELECT 1 FROM {0} l WHERE l.event_id = x.event_id "
    f"AND l.received_at >= $5 AND l.received_at < {RECEIVED_BY_NOW}) "
    "ORDER BY event_id, received_at ON CONFLICT (event_id, received_at) DO NOTHING"
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
    occurred_at: datetime | None = None  # unknown to receipts of earlier versions

    @property
    def first_copy_since(self) -> datetime:
        if self.occurred_at is None:
            return self.received_at - RESEND_WINDOW
        return self.occurred_at - COPY_LEAD

    def row(self) -> tuple[str, str, datetime, bytes]:
        """The id as text: asyncpg's encoder parses it faster than uuid.UUID does."""
        return self.event_id, self.event_type, self.received_at, user_hash(self.user_id)


async def record_entries(
    connection: asyncpg.Connection, table: str, entries: list[LedgerEntry]
) -> None:
    """Into `table` (audit.acknowledged or audit.backed_up) the entries not yet there.

    COPY when none of the ids is there yet, as for most batches: a third of an INSERT's cost.
    Otherwise (a redelivery, a retry) an INSERT skips what is there. A writer beside us that
    recorded the same copy meanwhile fails the COPY on the key; the savepoint keeps the
    caller's transaction."""
    if not entries:
        return

    async def record() -> None:
        async with look_back_transaction(connection):
            await _record_once(connection, table, entries)

    await writing_with_partitions(
        connection, (BY_NAME[table],), lambda: [entry.received_at for entry in entries], record
    )


async def _record_once(
    connection: asyncpg.Connection, table: str, entries: list[LedgerEntry]
) -> None:
    rows = [entry.row() for entry in entries]
    ids = [row[0] for row in rows]
    since = min(entry.first_copy_since for entry in entries)
    schema, name = table.split(".")
    if len(set(ids)) == len(ids) and not await connection.fetchval(
        ANY_RECORDED.format(table), ids, since
    ):
        try:
            async with connection.transaction():
                await connection.copy_records_to_table(
                    name, schema_name=schema, records=rows, columns=COLUMNS
                )
            return
        except asyncpg.UniqueViolationError:
            pass
    await connection.execute(INSERT_ONCE.format(table), *zip(*rows, strict=True), since)
