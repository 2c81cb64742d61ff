"""Ingest's receipts: once Kafka holds a request's events, and before the 202, ingest publishes
which events it acknowledged to the receipts topic. The audit's consumer group copies them into
audit.acknowledged, so what ingest promised is known even when records vanish from a user
topic before any consumer read them, and survives a killed API process (no receipt, no 202)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.audit.id_ledger import LedgerEntry, receive_time, record_entries
from app.consumers.records import SourceRecord, UndecodableRecord
from app.db.postgres import PostgresPool
from app.producers.messages import OutgoingMessage
from app.topics import RECEIPTS_TOPIC
from jobs.forgotten_users import forgotten_among


def receipt_message(events: list[dict[str, Any]]) -> OutgoingMessage:
    """One record naming a request's acknowledged events (in their stored form): per event its
    id, type, receive time, user and time (if it has one). Keyed by the first user, so receipts
    spread evenly."""
    listed = [
        (event["event_id"], event["event_type"], event["received_at"], event["user_id"],
         event.get("occurred_at"))
        for event in events
    ]  # fmt: skip
    return OutgoingMessage(RECEIPTS_TOPIC, events[0]["user_id"].encode(), orjson.dumps(listed))


@dataclass(frozen=True)
class DecodedReceipt:
    source: SourceRecord
    entries: list[LedgerEntry]


def decode_receipt(source: SourceRecord) -> DecodedReceipt:
    try:
        listed = orjson.loads(source.value or b"")
        entries = [listed_entry(*listed_event) for listed_event in listed]
    except (orjson.JSONDecodeError, TypeError, ValueError) as error:
        raise UndecodableRecord(f"not a receipt: {error}") from None
    return DecodedReceipt(source, entries)


def listed_entry(
    event_id: object, event_type: object, received_at: str, user_id: object,
    occurred_at: str | None = None,  # absent from receipts of earlier versions
) -> LedgerEntry:  # fmt: skip
    occurred = None if occurred_at is None else datetime.fromisoformat(occurred_at)
    return LedgerEntry(
        str(uuid.UUID(str(event_id))), str(event_type), receive_time(received_at), str(user_id),
        occurred,
    )  # fmt: skip


class AcknowledgedSink:
    """Writes receipts into audit.acknowledged; a receipt is never refused for good."""

    name = "audit_acknowledged"

    def __init__(self, postgres: PostgresPool) -> None:
        self._postgres = postgres

    async def write(self, receipts: list[DecodedReceipt]) -> dict[int, str]:
        """None of an erased user's (the stores keep none of theirs), read in the writing
        transaction as every writer of user rows does."""
        entries = [entry for receipt in receipts for entry in receipt.entries]
        async with self._postgres.connection() as connection, connection.transaction():
            forgotten = await forgotten_among(connection, (entry.user_id for entry in entries))
            kept = [entry for entry in entries if entry.user_id not in forgotten]
            await record_entries(connection, "audit.acknowledged", kept)
        return {}
