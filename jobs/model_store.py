"""Writing model rows to PostgreSQL: facts insert-once on event_id, sessions replaced per user
(all of them, or those from a bound on); neither for a user on the suppression list (erased).

The fact tables are partitioned by receive month, keyed by (event_id, received_at): a client's
retry of an event comes with a new receive time, past the key, so a fact goes in only when no
copy received since the rules' copy lead before its event time is there, and of the copies in
one batch only the first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import pandas as pd

from jobs.forgotten_users import forgotten_among, not_forgotten
from jobs.frames import frame_records
from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS
from jobs.rules import load_rules
from jobs.session_bounds import session_bounds_query

FACT_ROW_COLUMNS = (*FACT_COLUMNS, "source_flag")
FactRows = list[tuple[Any, ...]]  # in FACT_ROW_COLUMNS order
FACT_TABLES = {"spark": "fact_user_event", "pandas": "fact_user_event_fallback"}
COPY_LEAD_SECONDS = int(load_rules().copy_lead.total_seconds())


def no_earlier_copy(table: str, event_id: str, occurred_at: str) -> str:
    """A condition for an INSERT ... SELECT: no copy of the event in `table` received since one
    can have been (the copy lead before the event's time), which reads only those partitions."""
    return (
        f"NOT EXISTS (SELECT 1 FROM {table} earlier WHERE earlier.event_id = {event_id} "
        f"AND earlier.received_at >= {occurred_at} - interval '{COPY_LEAD_SECONDS} seconds')"
    )


SESSION_TABLES = {"spark": "dim_session", "pandas": "dim_session_fallback"}
# Per-user times passed as two arrays: user ids ($1) and times ($2).
BOUNDS = "unnest($1::text[], $2::timestamptz[]) AS b (user_id, lower_bound)"
EARLIEST_NEW_OF_ARRAYS = f"SELECT b.user_id, b.lower_bound AS earliest_new FROM {BOUNDS}"


def fact_rows(facts: pd.DataFrame, source_flag: str) -> FactRows:
    """The rows insert_fact_rows takes: CPU work a caller may do away from the event loop."""
    return list(frame_records(facts.assign(source_flag=source_flag), FACT_ROW_COLUMNS))


async def insert_fact_rows(connection: asyncpg.Connection, rows: FactRows, table: str) -> int:
    """Insert the rows (fact_rows) whose event is not yet in the table; returns how many."""
    if not rows:
        return 0
    staging = f"incoming_{table}"
    async with connection.transaction():
        await connection.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        await connection.copy_records_to_table(staging, records=rows, columns=FACT_ROW_COLUMNS)
        names = ", ".join(FACT_ROW_COLUMNS)
        status = await connection.execute(
            f"INSERT INTO {table} ({names}) SELECT DISTINCT ON (event_id) {names} FROM {staging} "
            f"WHERE {not_forgotten('user_id')} "
            f"AND {no_earlier_copy(table, f'{staging}.event_id', f'{staging}.occurred_at')} "
            "ORDER BY event_id, received_at ON CONFLICT (event_id, received_at) DO NOTHING"
        )
        # Within a caller's transaction (the fallback's cursor) nothing commits between calls,
        # so ON COMMIT would leave every earlier call's rows for the next INSERT to go over.
        await connection.execute(f"TRUNCATE {staging}")
    return int(status.rsplit(" ", 1)[-1])


async def replace_sessions(
    connection: asyncpg.Connection,
    sessions: pd.DataFrame,
    user_ids: list[str],
    table: str,
    source_flag: str,
) -> int:
    """Replace every session of these users (recomputed from all their facts) in one go."""
    return await replace_sessions_from(
        connection, sessions, dict.fromkeys(user_ids), table, source_flag
    )


async def replace_sessions_from(
    connection: asyncpg.Connection,
    sessions: pd.DataFrame,
    bounds: Mapping[str, datetime | None],
    table: str,
    source_flag: str,
) -> int:
    """Replace each user's sessions from its bound on (recomputed from its facts from there);
    all of them where the bound is None."""
    user_ids = list(bounds)
    async with connection.transaction():
        await connection.execute(
            f"DELETE FROM {table} s USING {BOUNDS} WHERE s.user_id = b.user_id "
            "AND (b.lower_bound IS NULL OR s.session_start >= b.lower_bound)",
            user_ids,
            list(bounds.values()),
        )
        if forgotten := await forgotten_among(connection, user_ids):
            sessions = sessions[~sessions["user_id"].isin(forgotten)]
        columns = (*SESSION_COLUMNS, "source_flag")
        records = frame_records(sessions.assign(source_flag=source_flag), columns)
        await connection.copy_records_to_table(table, records=records, columns=columns)
    return len(sessions)


async def session_bounds(
    connection: asyncpg.Connection,
    table: str,
    earliest_new: dict[str, datetime],
    inactivity_gap_seconds: int,
) -> dict[str, datetime]:
    """Per user, where its sessions must be rebuilt from, given the earliest of its new facts.
    Call it under the users' session locks, as another rebuild may move them."""
    rows = await connection.fetch(
        session_bounds_query(table, EARLIEST_NEW_OF_ARRAYS),
        list(earliest_new),
        list(earliest_new.values()),
        inactivity_gap_seconds,
    )
    return {row["user_id"]: row["lower_bound"] for row in rows}


async def read_facts_of_users(
    connection: asyncpg.Connection, table: str, user_ids: list[str]
) -> pd.DataFrame:
    rows = await connection.fetch(
        f"SELECT {selected(FACT_COLUMNS)} FROM {table} f WHERE user_id = ANY($1::text[])",
        user_ids,
    )
    return records_frame(rows, FACT_COLUMNS)


async def read_valid_facts_from(
    connection: asyncpg.Connection, table: str, bounds: dict[str, datetime], columns: Sequence[str]
) -> pd.DataFrame:
    """The valid facts of each user from its bound on: all that sessions are made of."""
    rows = await connection.fetch(
        f"SELECT {selected(columns)} FROM {table} f JOIN {BOUNDS} "
        "ON f.user_id = b.user_id AND f.occurred_at >= b.lower_bound WHERE f.is_valid",
        list(bounds),
        list(bounds.values()),
    )
    return records_frame(rows, columns)


def selected(columns: Sequence[str]) -> str:
    return ", ".join(f"f.{c}::text AS {c}" if c == "event_id" else f"f.{c}" for c in columns)


def records_frame(rows: list[asyncpg.Record], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame({name: [row[index] for row in rows] for index, name in enumerate(columns)})
    for column in {"occurred_at", "received_at"}.intersection(columns):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
