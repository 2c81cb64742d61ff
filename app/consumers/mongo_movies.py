"""MongoDB backup of the catalogue: every distinct version of a movie in `raw.movies`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from app.consumers.mongo_backup import insert_once
from app.consumers.movie_records import DecodedMovie


def version_document(movie: DecodedMovie, ingested_at: datetime) -> dict[str, Any]:
    """Keyed by movie and content, so a refetch of the same details is not a new version."""
    return {
        "_id": f"{movie.movie_id}:{movie.details_hash}",
        "movie_id": movie.movie_id,
        "details_hash": movie.details_hash,
        "gone": movie.details is None,
        "details": movie.details,
        "fetched_at": movie.fetched_at,
        "ingested_at": ingested_at,
    }


class MongoMovieVersionsSink:
    name = "mongo_movies"

    def __init__(self, collection: AsyncCollection) -> None:
        self._collection = collection

    async def write(self, movies: list[DecodedMovie]) -> dict[int, str]:
        now = datetime.now(UTC)
        return await insert_once(
            self._collection, [version_document(movie, now) for movie in movies]
        )
