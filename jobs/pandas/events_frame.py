"""Stored events as the pandas input frame, as a job reading `stg_user_logs` would see them.

Takes stored events as they travel through Kafka (ISO timestamps) or as rows read back from
staging (datetimes); either way the frame is the same.

The staging table types every column (uuid, timestamptz, bigint, jsonb), so this conversion
does what a round trip through it does: event ids in canonical UUID form, timestamps as UTC
instants with microsecond precision, context and payload as decoded JSON objects, and one row
per event_id. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd

from jobs.stored_event import EVENT_FIELDS, StoredField

# The rules read no schema version: every version so far has the same fields.
FRAME_FIELDS = tuple(field for field in EVENT_FIELDS if field.name != "schema_version")
EVENT_FRAME_COLUMNS = tuple(field.name for field in FRAME_FIELDS)


def events_frame(stored_events: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per event_id, the copy received first (list order breaks ties)."""
    return staged_frame([staged_row(event) for event in stored_events])


def staged_frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """The frame of rows already in the staged form: read back from stg_user_logs (with the
    objects decoded), or made by staged_row; as a list of rows or as columns."""
    # As objects, so a bigint column with gaps never passes through a float.
    frame = pd.DataFrame(rows, columns=list(EVENT_FRAME_COLUMNS), dtype=object)
    for field in FRAME_FIELDS:
        if field.kind == "bigint":
            frame[field.name] = frame[field.name].astype("Int64")
        elif field.kind == "timestamp":
            as_utc = pd.to_datetime(frame[field.name], utc=True)
            frame[field.name] = as_utc.astype("datetime64[ns, UTC]")
    earliest_first = frame.sort_values("received_at", kind="stable")
    return earliest_first.drop_duplicates("event_id", keep="first").reset_index(drop=True)


def staged_row(event: dict[str, Any]) -> dict[str, Any]:
    return {field.name: staged_value(field, event.get(field.name)) for field in FRAME_FIELDS}


def staged_value(field: StoredField, value: Any) -> Any:
    if field.kind == "uuid":
        return str(uuid.UUID(value))  # the uuid column's text form
    if field.kind == "timestamp":
        return utc_instant(value)
    if field.kind == "object":
        return json_round_trip(value or {})
    return value


def utc_instant(value: str | datetime) -> datetime:
    """ISO text (the stored form) or a datetime (a staging row); timestamptz keeps the instant,
    not the offset. A naive time counts as UTC."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def json_round_trip(document: dict[str, Any]) -> dict[str, Any]:
    """jsonb hands back plain JSON: fresh dicts, duplicate keys already resolved."""
    return orjson.loads(orjson.dumps(document))
