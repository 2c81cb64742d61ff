"""What the public API should answer, computed straight from fact_user_event and dim_session
(never from the rollups), to hold the API's answers against."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from jobs.rules import load_rules

PRIMARY_EMOTIONS = load_rules().sentiment.emotions  # the lexicon's, which the API must all count
EMOTION_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE primary_emotion = '{emotion}') AS {emotion}"
    for emotion in PRIMARY_EMOTIONS
)

VALID_IN_RANGE = "is_valid AND event_date BETWEEN $1 AND $2"


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


async def expected_top_movies(
    pg: asyncpg.Connection,
    since: date,
    until: date,
    metric: str,
    genre_id: int | None,
    limit: int,
    min_ratings: int,
) -> list[dict[str, Any]]:
    rows = await pg.fetch(
        f"""
        SELECT movie_id,
               count(*) FILTER (WHERE event_type = 'watch' AND watch_action = 'start') AS views,
               coalesce(sum(watch_seconds), 0) AS watch_seconds,
               count(*) FILTER (WHERE is_completed) AS completions,
               count(*) FILTER (WHERE event_type = 'comment') AS comments,
               count(rating) FILTER (WHERE event_type = 'comment') AS rating_count,
               avg(rating) FILTER (WHERE event_type = 'comment') AS mean_rating
        FROM fact_user_event
        WHERE {VALID_IN_RANGE} AND movie_id IS NOT NULL
          AND ($3::integer IS NULL
               OR movie_id IN (SELECT movie_id FROM movie_genre WHERE genre_id = $3))
        GROUP BY movie_id
        """,
        since,
        until,
        genre_id,
    )
    movies = []
    for row in rows:
        movie = dict(row)
        rated = movie["rating_count"] >= min_ratings
        movie["avg_rating"] = movie.pop("mean_rating") if rated else None
        if (movie[metric] or 0) > 0:
            movies.append(movie)
    movies.sort(key=lambda m: (-m[metric], m["movie_id"]))
    return movies[:limit]


async def expected_user_stats(
    pg: asyncpg.Connection, user_id: str, since: date, until: date
) -> dict[str, Any]:
    totals = await pg.fetchrow(
        f"""
        SELECT count(*) AS events, coalesce(sum(watch_seconds), 0) AS watch_seconds,
               count(DISTINCT movie_id) FILTER (WHERE event_type = 'watch') AS movies_watched,
               count(*) FILTER (WHERE is_completed) AS completions,
               count(*) FILTER (WHERE event_type = 'comment') AS comments,
               count(*) FILTER (WHERE emotion = 'positive') AS positive,
               count(*) FILTER (WHERE emotion = 'negative') AS negative,
               count(*) FILTER (WHERE emotion = 'neutral') AS neutral
        FROM fact_user_event WHERE user_id = $3 AND {VALID_IN_RANGE}
        """,
        since,
        until,
        user_id,
    )
    seen = await pg.fetchrow(
        "SELECT min(occurred_at) AS first_seen, max(occurred_at) AS last_seen "
        "FROM fact_user_event WHERE user_id = $1 AND is_valid",
        user_id,
    )
    sessions = await pg.fetchrow(
        "SELECT count(*) AS sessions, avg(duration_seconds) AS avg_session_seconds "
        "FROM dim_session WHERE user_id = $1 AND session_start >= $2 AND session_start < $3",
        user_id,
        utc_midnight(since),
        utc_midnight(until + timedelta(days=1)),
    )
    genres = await pg.fetch(
        f"""
        SELECT g.name AS genre, coalesce(sum(f.watch_seconds), 0) AS watch_seconds,
               count(DISTINCT f.movie_id) AS movies
        FROM fact_user_event f JOIN movie_genre mg ON mg.movie_id = f.movie_id
        JOIN dim_genre g ON g.genre_id = mg.genre_id
        WHERE f.user_id = $3 AND f.event_type = 'watch' AND f.{VALID_IN_RANGE}
        GROUP BY g.name ORDER BY watch_seconds DESC, movies DESC, g.name LIMIT 3
        """,
        since,
        until,
        user_id,
    )
    return {**dict(totals), **dict(seen), **dict(sessions), "top_genres": [dict(g) for g in genres]}


async def expected_emotion_buckets(
    pg: asyncpg.Connection,
    since: date,
    until: date,
    granularity: str,
    movie_id: int | None = None,
    genre_id: int | None = None,
) -> dict[date, dict[str, Any]]:
    """Only the buckets with comments; the API also lists the empty ones, with zeros."""
    bucket = "event_date" if granularity == "day" else "date_trunc('week', event_date)::date"
    rows = await pg.fetch(
        f"""
        SELECT {bucket} AS start,
               count(*) FILTER (WHERE emotion = 'positive') AS positive,
               count(*) FILTER (WHERE emotion = 'negative') AS negative,
               count(*) FILTER (WHERE emotion = 'neutral') AS neutral,
               avg(emotion_score) AS mean_emotion_score,
               avg(rating) FILTER (WHERE event_type = 'comment') AS mean_rating,
               {EMOTION_COUNTS}
        FROM fact_user_event
        WHERE {VALID_IN_RANGE} AND ($3::bigint IS NULL OR movie_id = $3)
          AND ($4::integer IS NULL
               OR movie_id IN (SELECT movie_id FROM movie_genre WHERE genre_id = $4))
        GROUP BY 1
        HAVING count(*) FILTER (WHERE event_type = 'comment') > 0
        """,
        since,
        until,
        movie_id,
        genre_id,
    )
    return {row["start"]: dict(row) for row in rows}


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
