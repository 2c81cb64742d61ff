"""The narrow id tables of the audit (acknowledged, backed up): one row per event, written
idempotently, so a batch redelivered after a crash is recorded once. Their triggers count the
rows into audit.ledger in the same transaction (migration 0012)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from jobs.forgotten_users import user_hash


@dataclass(frozen=True)
class LedgerEntry:
    event_id: str
    event_type: str
    received_at: datetime
    user_id: str

    def row(self) -> tuple[uuid.UUID, str, datetime, bytes]:
        return uuid.UUID(self.event_id), self.event_type, self.received_at, user_hash(self.user_id)


async def record_entries(
    connection: asyncpg.Connection, table: str, entries: list[LedgerEntry]
) -> None:
    """Into `table` (audit.acknowledged or audit.backed_up) the entries not yet there, but none
    of a user on the suppression list (erased): the stores keep none of theirs either. One
    statement, one round trip."""
    if not entries:
        return
    ids, types, times, users = zip(*(entry.row() for entry in entries), strict=True)
    await connection.execute(
        f"INSERT INTO {table} (event_id, event_type, received_at, user_hash) "
        "SELECT DISTINCT ON (i.event_id) i.* "
        "FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bytea[]) "
        "AS i (event_id, event_type, received_at, user_hash) "
        "WHERE NOT EXISTS (SELECT 1 FROM forgotten_users f WHERE f.user_hash = i.user_hash) "
        "ORDER BY i.event_id ON CONFLICT (event_id) DO NOTHING",
        ids, types, times, users,
    )  # fmt: skip
