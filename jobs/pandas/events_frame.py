"""Stored events as the pandas input frame, as a job reading `stg_user_logs` would see them.

Takes stored events as they travel through Kafka (ISO timestamps) or as rows read back from
staging (datetimes); either way the frame is the same.

The staging table types every column (uuid, timestamptz, bigint, jsonb), so this conversion
does what a round trip through it does: event ids in canonical UUID form, timestamps as UTC
instants with microsecond precision, context and payload as decoded JSON objects, and one row
per event_id. Pure: no I/O.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd

EVENT_FRAME_COLUMNS = (
    "event_id", "event_type", "user_id", "session_id", "movie_id",
    "occurred_at", "received_at", "context", "payload",
)  # fmt: skip


def events_frame(stored_events: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per event_id, the copy received first (list order breaks ties)."""
    rows = [staged_row(event) for event in stored_events]
    frame = pd.DataFrame(rows, columns=list(EVENT_FRAME_COLUMNS))
    frame["movie_id"] = frame["movie_id"].astype("Int64")
    for column in ("occurred_at", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    earliest_first = frame.sort_values("received_at", kind="stable")
    return earliest_first.drop_duplicates("event_id", keep="first").reset_index(drop=True)


def staged_row(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(event["event_id"])),  # the uuid column's text form
        "event_type": event["event_type"],
        "user_id": event["user_id"],
        "session_id": event.get("session_id"),
        "movie_id": event.get("movie_id"),
        "occurred_at": utc_instant(event["occurred_at"]),
        "received_at": utc_instant(event["received_at"]),
        "context": json_round_trip(event.get("context") or {}),
        "payload": json_round_trip(event.get("payload") or {}),
    }


def utc_instant(value: str | datetime) -> datetime:
    """ISO text (the stored form) or a datetime (a staging row); timestamptz keeps the instant,
    not the offset. A naive time counts as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def json_round_trip(document: dict[str, Any]) -> dict[str, Any]:
    """jsonb hands back plain JSON: fresh dicts, duplicate keys already resolved."""
    return json.loads(json.dumps(document))
