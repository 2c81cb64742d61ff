"""Catalogue syncs: TMDB's popular and recent movies, its changes feed, or the bundled sample.

Each run is recorded in tmdb_sync_runs; the changes feed keeps its checkpoint in PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import asyncpg
import orjson

from app.config import Settings
from app.db import catalogue_queries as queries
from app.producers.kafka import KafkaPublisher
from app.producers.movie_publishing import FetchDetails, SyncCounts, fetch_and_publish
from app.producers.tmdb_client import TmdbClient

log = logging.getLogger(__name__)
SAMPLE_CATALOGUE = Path(__file__).parent / "producers" / "sample_catalogue.json"
SyncKind = Literal["full", "changes"]
Progress = Callable[[int, int], None]


@cache
def sample_movies() -> dict[int, dict[str, Any]]:
    catalogue = orjson.loads(SAMPLE_CATALOGUE.read_bytes())
    return {movie["id"]: movie for movie in catalogue["movies"]}


async def run_sync(
    settings: Settings,
    publisher: KafkaPublisher,
    kind: SyncKind,
    pages: int | None = None,
    slot: datetime | None = None,
    progress: Progress = lambda done, total: None,
) -> SyncCounts:
    """One recorded run; raises (after recording the failure) when the run fails."""
    connection = await asyncpg.connect(settings.database_url)
    token = settings.tmdb_api_token
    recorded_kind = kind if token else "sample"
    run_id = await queries.start_run(connection, recorded_kind, slot)
    try:
        if token is None:
            counts = await sync_sample(connection, publisher, progress)
        else:
            client = TmdbClient(
                settings.tmdb_api_url,
                token.get_secret_value(),
                requests_per_second=settings.tmdb_requests_per_second,
            )
            try:
                counts = await sync_from_tmdb(
                    connection, client, publisher, kind, settings, pages, progress
                )
            finally:
                await client.close()
    except Exception as error:
        await queries.finish_run(
            connection, run_id, status="failed", fetched=0, changed=0, gone=0, error=str(error)
        )
        raise
    else:
        await queries.finish_run(
            connection, run_id, status="succeeded", fetched=counts.fetched,
            changed=counts.changed, gone=counts.gone, error=None,
        )  # fmt: skip
        return counts
    finally:
        await connection.close()


async def sync_sample(
    connection: asyncpg.Connection, publisher: KafkaPublisher, progress: Progress
) -> SyncCounts:
    """The bundled catalogue, published as a sync from TMDB would publish it."""
    movies = sample_movies()
    # Placeholders the sample lacks stay placeholders: absent from it is not gone from TMDB.
    ids = sorted(movies)

    async def from_sample(movie_id: int) -> dict[str, Any] | None:
        return movies.get(movie_id)

    return await publish(connection, publisher, ids, from_sample, progress)


async def sync_from_tmdb(
    connection: asyncpg.Connection,
    client: TmdbClient,
    publisher: KafkaPublisher,
    kind: SyncKind,
    settings: Settings,
    pages: int | None,
    progress: Progress,
) -> SyncCounts:
    today = datetime.now(UTC).date()
    if kind == "full":
        pages = pages or settings.tmdb_full_sync_pages
        recent = today - timedelta(days=settings.tmdb_recent_days)
        ids = await unique_ids(client.popular_ids(pages), client.discover_ids(recent, today, pages))
        ids += [i for i in await queries.placeholder_movie_ids(connection) if i not in set(ids)]
        return await publish(connection, publisher, ids, client.details, progress)

    since = await queries.read_checkpoint(connection, "changes")
    first = date.fromisoformat(since) if since else today - timedelta(days=1)
    changed = await unique_ids(client.changed_ids(first, today))
    # The feed lists every change on TMDB; we refresh only the movies we have.
    ids = await queries.known_movie_ids(connection, changed)
    counts = await publish(connection, publisher, ids, client.details, progress)
    await queries.write_checkpoint(connection, "changes", today.isoformat())
    return counts


async def publish(
    connection: asyncpg.Connection,
    publisher: KafkaPublisher,
    ids: list[int],
    fetch_details: FetchDetails,
    progress: Progress,
) -> SyncCounts:
    stored = await queries.details_hashes(connection, ids)
    counts = await fetch_and_publish(
        ids, fetch_details, publisher, stored, on_progress=lambda done: progress(done, len(ids))
    )
    if counts.gone_ids:
        log.info("movies gone from TMDB", extra={"movie_ids": counts.gone_ids})
    return counts


async def unique_ids(*sources: AsyncIterator[int]) -> list[int]:
    """Ids in first-seen order: lists repeat a movie across pages as popularity shifts."""
    seen: dict[int, None] = {}
    for source in sources:
        async for movie_id in source:
            seen.setdefault(movie_id, None)
    return list(seen)
