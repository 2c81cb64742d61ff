"""Where movie details come from: TMDB when a token is set, else the bundled sample.

The composition root picks one; a sync asks it which movies to refresh and for their details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import asyncpg
import orjson

from app.catalogue import queries
from app.catalogue.tmdb_client import TmdbClient

SAMPLE_CATALOGUE = Path(__file__).parent / "sample_catalogue.json"
SyncKind = Literal["full", "changes"]


@dataclass(frozen=True)
class SyncPlan:
    movie_ids: list[int]
    changes_checkpoint: str | None = None  # written once the movies are published


class MovieSource(Protocol):
    description: str
    has_changes_feed: bool

    def recorded_kind(self, kind: SyncKind) -> str: ...

    async def plan(
        self, connection: asyncpg.Connection, kind: SyncKind, pages: int | None
    ) -> SyncPlan: ...

    async def details(self, movie_id: int) -> dict[str, Any] | None: ...

    async def close(self) -> None: ...


@cache
def sample_movies() -> dict[int, dict[str, Any]]:
    catalogue = orjson.loads(SAMPLE_CATALOGUE.read_bytes())
    return {movie["id"]: movie for movie in catalogue["movies"]}


class SampleCatalogue:
    """The bundled catalogue, published as a sync from TMDB would publish it."""

    description = "the bundled sample catalogue"
    has_changes_feed = False

    def __init__(self, movies: dict[int, dict[str, Any]] | None = None) -> None:
        self._movies = sample_movies() if movies is None else movies

    def recorded_kind(self, kind: SyncKind) -> str:
        return "sample"

    async def plan(
        self, connection: asyncpg.Connection, kind: SyncKind, pages: int | None
    ) -> SyncPlan:
        # Placeholders the sample lacks stay placeholders: absent from it is not gone from TMDB.
        return SyncPlan(sorted(self._movies))

    async def details(self, movie_id: int) -> dict[str, Any] | None:
        return self._movies.get(movie_id)

    async def close(self) -> None:
        """Nothing to release."""


class TmdbCatalogue:
    description = "TMDB"
    has_changes_feed = True

    def __init__(self, client: TmdbClient, full_sync_pages: int, recent_days: int) -> None:
        self._client = client
        self._full_sync_pages = full_sync_pages
        self._recent_days = recent_days

    def recorded_kind(self, kind: SyncKind) -> str:
        return kind

    async def plan(
        self, connection: asyncpg.Connection, kind: SyncKind, pages: int | None
    ) -> SyncPlan:
        today = datetime.now(UTC).date()
        if kind == "full":
            pages = pages or self._full_sync_pages
            recent = today - timedelta(days=self._recent_days)
            ids = await unique_ids(
                self._client.popular_ids(pages), self._client.discover_ids(recent, today, pages)
            )
            listed = set(ids)
            ids += [i for i in await queries.placeholder_movie_ids(connection) if i not in listed]
            return SyncPlan(ids)
        since = await queries.read_checkpoint(connection, "changes")
        first = date.fromisoformat(since) if since else today - timedelta(days=1)
        changed = await unique_ids(self._client.changed_ids(first, today))
        # The feed lists every change on TMDB; we refresh only the movies we have.
        ids = await queries.known_movie_ids(connection, changed)
        return SyncPlan(ids, changes_checkpoint=today.isoformat())

    async def details(self, movie_id: int) -> dict[str, Any] | None:
        return await self._client.details(movie_id)

    async def close(self) -> None:
        await self._client.close()


async def unique_ids(*sources: Any) -> list[int]:
    """Ids in first-seen order: lists repeat a movie across pages as popularity shifts."""
    seen: dict[int, None] = {}
    for source in sources:
        async for movie_id in source:
            seen.setdefault(movie_id, None)
    return list(seen)
