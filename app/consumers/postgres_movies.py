"""PostgreSQL catalogue: the latest version of each movie in stg_movies, dim_movie and genres.

A version older than the stored one never overwrites it, so replays and reordering are harmless.
"""

from __future__ import annotations

import asyncpg
import orjson

from app.consumers.movie_records import DecodedMovie, movie_row
from app.db.postgres import ROW_ERRORS, PostgresPool

UPSERT_STG_MOVIE = """
    INSERT INTO stg_movies (movie_id, title, original_title, original_language, overview,
        release_date, runtime_minutes, genres, popularity, vote_average, vote_count, status,
        poster_path, details, details_hash, fetched_at, gone_at, staged_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14::jsonb, $15, $16,
        NULL, now())
    ON CONFLICT (movie_id) DO UPDATE SET title = EXCLUDED.title,
        original_title = EXCLUDED.original_title, original_language = EXCLUDED.original_language,
        overview = EXCLUDED.overview, release_date = EXCLUDED.release_date,
        runtime_minutes = EXCLUDED.runtime_minutes, genres = EXCLUDED.genres,
        popularity = EXCLUDED.popularity, vote_average = EXCLUDED.vote_average,
        vote_count = EXCLUDED.vote_count, status = EXCLUDED.status,
        poster_path = EXCLUDED.poster_path, details = EXCLUDED.details,
        details_hash = EXCLUDED.details_hash, fetched_at = EXCLUDED.fetched_at,
        gone_at = NULL, staged_at = now()
    WHERE stg_movies.fetched_at <= EXCLUDED.fetched_at
"""
UPSERT_DIM_MOVIE = """
    INSERT INTO dim_movie (movie_id, title, original_title, original_language, release_date,
        release_year, runtime_minutes, genres, popularity, vote_average, vote_count, status,
        poster_path, is_placeholder, is_gone, source_flag, fetched_at, processed_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, false, false, 'tmdb', $14,
        now())
    ON CONFLICT (movie_id) DO UPDATE SET title = EXCLUDED.title,
        original_title = EXCLUDED.original_title, original_language = EXCLUDED.original_language,
        release_date = EXCLUDED.release_date, release_year = EXCLUDED.release_year,
        runtime_minutes = EXCLUDED.runtime_minutes, genres = EXCLUDED.genres,
        popularity = EXCLUDED.popularity, vote_average = EXCLUDED.vote_average,
        vote_count = EXCLUDED.vote_count, status = EXCLUDED.status,
        poster_path = EXCLUDED.poster_path, is_placeholder = false, is_gone = false,
        source_flag = 'tmdb', fetched_at = EXCLUDED.fetched_at, processed_at = now()
    WHERE dim_movie.fetched_at IS NULL OR dim_movie.fetched_at <= EXCLUDED.fetched_at
"""
UPSERT_GENRE = """
    INSERT INTO dim_genre (genre_id, name) VALUES ($1, $2)
    ON CONFLICT (genre_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
    WHERE dim_genre.name <> EXCLUDED.name
"""
MARK_GONE = """
    WITH staged AS (
        UPDATE stg_movies SET gone_at = $2 WHERE movie_id = $1 AND fetched_at <= $2
    )
    UPDATE dim_movie SET is_gone = true, processed_at = now()
    WHERE movie_id = $1 AND (fetched_at IS NULL OR fetched_at <= $2)
"""


class PostgresMoviesSink:
    name = "postgres_movies"

    def __init__(self, pool: PostgresPool) -> None:
        self._pool = pool

    async def write(self, movies: list[DecodedMovie]) -> dict[int, str]:
        refused: dict[int, str] = {}
        async with self._pool.connection() as connection, connection.transaction():
            for index, movie in enumerate(movies):
                try:
                    async with connection.transaction():  # a savepoint per movie
                        await write_movie(connection, movie)
                except ROW_ERRORS as error:
                    refused[index] = f"PostgreSQL refused the movie: {error}"
        return refused


async def write_movie(connection: asyncpg.Connection, movie: DecodedMovie) -> None:
    if movie.details is None:
        await connection.execute(MARK_GONE, movie.movie_id, movie.fetched_at)
        return
    row = movie_row(movie)
    genres = row["genres"]
    await connection.execute(
        UPSERT_STG_MOVIE,
        row["movie_id"], row["title"], row["original_title"], row["original_language"],
        row["overview"], row["release_date"], row["runtime_minutes"],
        orjson.dumps(genres).decode(), row["popularity"], row["vote_average"],
        row["vote_count"], row["status"], row["poster_path"],
        orjson.dumps(movie.details).decode(), row["details_hash"], row["fetched_at"],
    )  # fmt: skip
    updated = await connection.execute(
        UPSERT_DIM_MOVIE,
        row["movie_id"], row["title"], row["original_title"], row["original_language"],
        row["release_date"], row["release_year"], row["runtime_minutes"],
        ", ".join(genre["name"] for genre in genres), row["popularity"], row["vote_average"],
        row["vote_count"], row["status"], row["poster_path"], row["fetched_at"],
    )  # fmt: skip
    if updated.endswith(" 0"):
        return  # an older version than the one stored: leave its genres alone too
    await connection.executemany(UPSERT_GENRE, [(g["id"], g["name"]) for g in genres])
    await connection.execute("DELETE FROM movie_genre WHERE movie_id = $1", row["movie_id"])
    await connection.executemany(
        "INSERT INTO movie_genre (movie_id, genre_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(row["movie_id"], g["id"]) for g in genres],
    )
