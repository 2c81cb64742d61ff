"""Movie messages as the catalogue consumers read them, and the rows made of them: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from app.catalogue.movies import details_hash, genres_of, release_date
from app.consumers.field_checks import INT64, FieldError, check_field, check_storable
from app.consumers.records import SourceRecord, UndecodableRecord
from jobs.stored_event import StoredField

# The TMDB details a movie row is made of, as stg_movies and dim_movie type them.
DETAIL_FIELDS = tuple(
    StoredField(name, kind)  # type: ignore[arg-type]
    for name, kind in (
        ("title", "text"), ("original_title", "text"), ("original_language", "text"),
        ("overview", "text"), ("release_date", "text"), ("status", "text"),
        ("poster_path", "text"), ("runtime", "integer"), ("vote_count", "integer"),
        ("popularity", "double"), ("vote_average", "double"),
    )
)  # fmt: skip
GENRE_ID, GENRE_NAME = StoredField("id", "integer"), StoredField("name", "text")


@dataclass(frozen=True)
class DecodedMovie:
    source: SourceRecord
    movie_id: int
    fetched_at: datetime
    details: dict[str, Any] | None  # None: TMDB no longer has the movie

    @property
    def details_hash(self) -> str:
        return details_hash(self.details)


def decode_movie(source: SourceRecord) -> DecodedMovie:
    try:
        message = orjson.loads(source.value or b"")
        movie_id = message["movie_id"]
        fetched_at = datetime.fromisoformat(message["fetched_at"])
        details = None if message.get("gone") else message["details"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise UndecodableRecord(f"not a movie message: {error!r}") from None
    if not isinstance(movie_id, int) or movie_id <= 0 or fetched_at.tzinfo is None:
        raise UndecodableRecord("movie_id must be a positive integer, fetched_at zoned")
    if details is not None and (not isinstance(details, dict) or details.get("id") != movie_id):
        raise UndecodableRecord("details must be an object whose id is the movie_id")
    if movie_id not in INT64:
        raise UndecodableRecord("movie_id is beyond 64 bits")
    if details is not None:
        check_details(details)
    return DecodedMovie(source, movie_id, fetched_at, details)


def check_details(details: dict[str, Any]) -> None:
    """What movie_row reads, of the types its columns hold; then the whole, for MongoDB."""
    try:
        for field in DETAIL_FIELDS:
            check_field(field, details.get(field.name), field.name)
        genres = details.get("genres") or []
        if not isinstance(genres, list):
            raise FieldError("genres must be a list")
        for genre in genres:
            if isinstance(genre, dict) and "id" in genre and "name" in genre:
                check_field(GENRE_ID, genre["id"], "genres.id")
                check_field(GENRE_NAME, genre["name"], "genres.name")
        check_storable(details, "details")
    except FieldError as error:
        raise UndecodableRecord(str(error)) from None


def movie_row(movie: DecodedMovie) -> dict[str, Any]:
    """The columns stg_movies and dim_movie share, from one version of the details."""
    details = movie.details or {}
    released = release_date(details)
    return {
        "movie_id": movie.movie_id,
        "title": details.get("title") or details.get("original_title") or f"Movie {movie.movie_id}",
        "original_title": details.get("original_title"),
        "original_language": details.get("original_language"),
        "overview": details.get("overview"),
        "release_date": released,
        "release_year": released.year if released else None,
        "runtime_minutes": details.get("runtime") or None,
        "genres": genres_of(details),
        "popularity": details.get("popularity"),
        "vote_average": details.get("vote_average"),
        "vote_count": details.get("vote_count"),
        "status": details.get("status"),
        "poster_path": details.get("poster_path") or None,
        "fetched_at": movie.fetched_at,
        "details_hash": movie.details_hash,
    }
