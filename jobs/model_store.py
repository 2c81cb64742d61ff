"""Writing model rows to PostgreSQL: facts insert-once on event_id, sessions replaced per user;
neither for a user on the suppression list (erased)."""

from __future__ import annotations

import asyncpg
import pandas as pd

from jobs.forgotten_users import forgotten_among, not_forgotten
from jobs.frames import frame_records
from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS

FACT_TABLES = {"spark": "fact_user_event", "pandas": "fact_user_event_fallback"}
SESSION_TABLES = {"spark": "dim_session", "pandas": "dim_session_fallback"}


async def insert_facts(
    connection: asyncpg.Connection, facts: pd.DataFrame, table: str, source_flag: str
) -> int:
    """Insert facts whose event is not yet in the table; returns how many were new."""
    if facts.empty:
        return 0
    columns = (*FACT_COLUMNS, "source_flag")
    staging = f"incoming_{table}"
    async with connection.transaction():
        await connection.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS"
        )
        await connection.copy_records_to_table(
            staging,
            records=((*record, source_flag) for record in frame_records(facts, FACT_COLUMNS)),
            columns=columns,
        )
        names = ", ".join(columns)
        status = await connection.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} "
            f"WHERE {not_forgotten('user_id')} ON CONFLICT (event_id) DO NOTHING"
        )
    return int(status.rsplit(" ", 1)[-1])


async def replace_sessions(
    connection: asyncpg.Connection,
    sessions: pd.DataFrame,
    user_ids: list[str],
    table: str,
    source_flag: str,
) -> int:
    """Replace every session of these users (recomputed from all their facts) in one go."""
    columns = (*SESSION_COLUMNS, "source_flag")
    async with connection.transaction():
        await connection.execute(f"DELETE FROM {table} WHERE user_id = ANY($1::text[])", user_ids)
        if forgotten := await forgotten_among(connection, user_ids):
            sessions = sessions[~sessions["user_id"].isin(forgotten)]
        await connection.copy_records_to_table(
            table,
            records=((*r, source_flag) for r in frame_records(sessions, SESSION_COLUMNS)),
            columns=columns,
        )
    return len(sessions)


async def read_facts_of_users(
    connection: asyncpg.Connection, table: str, user_ids: list[str]
) -> pd.DataFrame:
    rows = await connection.fetch(
        f"SELECT {', '.join(FACT_COLUMNS)} FROM {table} WHERE user_id = ANY($1::text[])",
        user_ids,
    )
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(FACT_COLUMNS))
    frame["event_id"] = frame["event_id"].astype(str)
    for column in ("occurred_at", "received_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
