"""SQL of the catalogue sync: known movies, checkpoints, run records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson


async def details_hashes(connection: asyncpg.Connection, movie_ids: list[int]) -> dict[int, str]:
    rows = await connection.fetch(
        "SELECT movie_id, details_hash FROM stg_movies WHERE movie_id = ANY($1::bigint[])",
        movie_ids,
    )
    return {row["movie_id"]: row["details_hash"] for row in rows}


async def placeholder_movie_ids(connection: asyncpg.Connection) -> list[int]:
    rows = await connection.fetch(
        "SELECT movie_id FROM dim_movie WHERE is_placeholder ORDER BY movie_id"
    )
    return [row["movie_id"] for row in rows]


async def known_movie_ids(connection: asyncpg.Connection, candidates: list[int]) -> list[int]:
    rows = await connection.fetch(
        "SELECT movie_id FROM dim_movie WHERE movie_id = ANY($1::bigint[]) ORDER BY movie_id",
        candidates,
    )
    return [row["movie_id"] for row in rows]


async def read_checkpoint(connection: asyncpg.Connection, name: str) -> Any:
    value = await connection.fetchval("SELECT value FROM tmdb_sync_state WHERE name = $1", name)
    return None if value is None else orjson.loads(value)


async def write_checkpoint(connection: asyncpg.Connection, name: str, value: Any) -> None:
    await connection.execute(
        "INSERT INTO tmdb_sync_state (name, value) VALUES ($1, $2::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        name,
        orjson.dumps(value).decode(),
    )


async def start_run(connection: asyncpg.Connection, kind: str, slot: datetime | None) -> int:
    return await connection.fetchval(
        "INSERT INTO tmdb_sync_runs (kind, scheduled_slot) VALUES ($1, $2) RETURNING run_id",
        kind,
        slot,
    )


async def finish_run(
    connection: asyncpg.Connection,
    run_id: int,
    *,
    status: str,
    fetched: int,
    changed: int,
    gone: int,
    error: str | None,
) -> None:
    await connection.execute(
        "UPDATE tmdb_sync_runs SET finished_at = now(), status = $2, movies_fetched = $3, "
        "movies_changed = $4, movies_gone = $5, error = $6 WHERE run_id = $1",
        run_id, status, fetched, changed, gone, error,
    )  # fmt: skip


async def last_finished_run(connection: asyncpg.Connection) -> asyncpg.Record | None:
    """The latest sync that ended, and how many movies the catalogue then held."""
    return await connection.fetchrow(
        "SELECT kind, status, finished_at, movies_fetched, movies_changed, "
        "(SELECT count(*) FROM dim_movie WHERE NOT is_placeholder AND NOT is_gone) AS movies "
        "FROM tmdb_sync_runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1"
    )
