"""Model rows written straight into their tables, for tests of the jobs that read them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from jobs.rules import load_rules

RULES_VERSION = load_rules().version


async def add_fact(
    pg: asyncpg.Connection, table: str, user: str, occurred_at: datetime,
    received_at: datetime | None = None, *, event_id: uuid.UUID | None = None,
    source_flag: str = "pandas", **more: object,
) -> uuid.UUID:  # fmt: skip
    """A valid click fact, received when it occurred unless told; `more` names further columns,
    as the incoming table's batch. Returns its event id."""
    event_id = event_id or uuid.uuid4()
    names = "".join(f", {name}" for name in more)
    places = "".join(f", ${i}" for i in range(7, 7 + len(more)))
    stored_id = str(event_id) if table == "spark_incoming_facts" else event_id  # a text column
    await pg.execute(
        f"INSERT INTO {table} (event_id, event_type, user_id, occurred_at, received_at, "
        f"event_date, event_hour, is_completed, is_valid, rules_version, source_flag{names}) "
        "VALUES ($1, 'click', $2, $3, $4, ($3::timestamptz AT TIME ZONE 'UTC')::date, "
        f"extract(hour FROM $3::timestamptz AT TIME ZONE 'UTC'), false, true, $5, $6{places})",
        stored_id, user, occurred_at, received_at or occurred_at, RULES_VERSION, source_flag,
        *more.values(),
    )  # fmt: skip
    return event_id
