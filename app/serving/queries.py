"""SQL of the public read API, over the rollups: bounded work whatever the facts' number."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.serving.params import DayRange

# Columns a ranking may order by; the name chosen comes from this table, never from the request.
METRICS = {
    "views": "views",
    "watch_seconds": "watch_seconds",
    "completions": "completions",
    "comments": "comments",
    "avg_rating": "avg_rating",
}
AS_OF = """
    SELECT greatest(
        (SELECT max_received_at FROM spark_batches WHERE stream = $1
         ORDER BY batch_id DESC LIMIT 1),
        (SELECT max(max_received_at) FROM promotions))
"""
GENRE_BY_NAME = "SELECT genre_id FROM dim_genre WHERE lower(name) = lower($1) LIMIT 1"
TOP_MOVIES = """
    WITH totals AS (
        SELECT r.movie_id, sum(r.views)::bigint AS views, sum(r.watch_seconds) AS watch_seconds,
               sum(r.completions)::bigint AS completions, sum(r.comments)::bigint AS comments,
               sum(r.rating_sum) AS rating_sum, sum(r.rating_count)::bigint AS rating_count
        FROM rollup_movie_day r
        WHERE r.day BETWEEN $1 AND $2
          AND ($3::integer IS NULL
               OR r.movie_id IN (SELECT movie_id FROM movie_genre WHERE genre_id = $3))
        GROUP BY r.movie_id
    ), rated AS (
        SELECT *, CASE WHEN rating_count >= $4 THEN rating_sum / rating_count END AS avg_rating
        FROM totals
    )
    SELECT t.*, m.title, m.release_year, m.poster_path, m.genres
    FROM rated t LEFT JOIN dim_movie m USING (movie_id)
    WHERE t.{metric} > 0
    ORDER BY t.{metric} DESC, t.movie_id
    LIMIT $5 OFFSET $6
"""
USER_FIRST_LAST = """
    SELECT min(first_event_at) AS first_seen, max(last_event_at) AS last_seen
    FROM rollup_user_day WHERE user_id = $1
"""
USER_TOTALS = """
    SELECT coalesce(sum(events), 0)::bigint AS events,
           coalesce(sum(watch_seconds), 0) AS watch_seconds,
           coalesce(sum(completions), 0)::bigint AS completions,
           coalesce(sum(comments), 0)::bigint AS comments,
           coalesce(sum(positive), 0)::bigint AS positive,
           coalesce(sum(negative), 0)::bigint AS negative,
           coalesce(sum(neutral), 0)::bigint AS neutral
    FROM rollup_user_day WHERE user_id = $1 AND day BETWEEN $2 AND $3
"""
USER_MOVIES = """
    SELECT count(DISTINCT movie_id) FROM rollup_user_movie_day
    WHERE user_id = $1 AND day BETWEEN $2 AND $3
"""
USER_GENRES = """
    SELECT g.name AS genre, sum(r.watch_seconds) AS watch_seconds,
           count(DISTINCT r.movie_id) AS movies
    FROM rollup_user_movie_day r
    JOIN movie_genre mg ON mg.movie_id = r.movie_id JOIN dim_genre g ON g.genre_id = mg.genre_id
    WHERE r.user_id = $1 AND r.day BETWEEN $2 AND $3
    GROUP BY g.name ORDER BY watch_seconds DESC, movies DESC, g.name LIMIT 3
"""
USER_SESSIONS = """
    SELECT count(*) AS sessions, avg(duration_seconds) AS avg_session_seconds
    FROM dim_session
    WHERE user_id = $1 AND session_start >= $2::date::timestamp AT TIME ZONE 'UTC'
      AND session_start < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
"""
PRIMARY_EMOTIONS = ("joy", "sadness", "fear", "anger", "surprise", "disgust")
EMOTION_TRENDS = f"""
    WITH source AS (
        SELECT {{bucket}} AS start, positive, negative, neutral, emotion_score_sum,
               emotion_score_count, rating_sum, rating_count, {", ".join(PRIMARY_EMOTIONS)}
        FROM {{table}} r
        WHERE r.day BETWEEN $1 AND $2 {{filter}}
    ), totals AS (
        SELECT start, sum(positive)::bigint AS positive, sum(negative)::bigint AS negative,
               sum(neutral)::bigint AS neutral, sum(emotion_score_sum) AS score_sum,
               sum(emotion_score_count)::bigint AS score_count, sum(rating_sum) AS rating_sum,
               sum(rating_count)::bigint AS rating_count,
               {", ".join(f"sum({e})::bigint AS {e}" for e in PRIMARY_EMOTIONS)}
        FROM source GROUP BY start
    ), buckets AS (
        SELECT generate_series({{first}}, {{last}}, interval '{{step}}')::date AS start
    )
    SELECT b.start, coalesce(t.positive, 0) AS positive, coalesce(t.negative, 0) AS negative,
           coalesce(t.neutral, 0) AS neutral, t.score_sum, t.score_count, t.rating_sum,
           t.rating_count, {", ".join(f"coalesce(t.{e}, 0) AS {e}" for e in PRIMARY_EMOTIONS)}
    FROM buckets b LEFT JOIN totals t USING (start) ORDER BY b.start
"""
BUCKETS = {
    "day": ("r.day", "$1::date", "$2::date", "1 day"),
    "week": (
        "date_trunc('week', r.day)::date",
        "date_trunc('week', $1::date)",
        "date_trunc('week', $2::date)",
        "1 week",
    ),
}


async def as_of(connection: asyncpg.Connection, stream: str) -> datetime | None:
    return await connection.fetchval(AS_OF, stream)


async def genre_id_named(connection: asyncpg.Connection, name: str) -> int | None:
    return await connection.fetchval(GENRE_BY_NAME, name)


async def top_movies(
    connection: asyncpg.Connection,
    days: DayRange,
    metric: str,
    genre_id: int | None,
    min_ratings: int,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    sql = TOP_MOVIES.format(metric=METRICS[metric])
    return await connection.fetch(sql, days.since, days.until, genre_id, min_ratings, limit, offset)


async def user_stats(
    connection: asyncpg.Connection, user_id: str, days: DayRange
) -> dict[str, object] | None:
    """None for a user the model has never seen."""
    seen = await connection.fetchrow(USER_FIRST_LAST, user_id)
    if seen["first_seen"] is None:
        return None
    args = (user_id, days.since, days.until)
    sessions = await connection.fetchrow(USER_SESSIONS, *args)
    return {
        **dict(seen),
        **dict(await connection.fetchrow(USER_TOTALS, *args)),
        "movies_watched": await connection.fetchval(USER_MOVIES, *args),
        "top_genres": [dict(row) for row in await connection.fetch(USER_GENRES, *args)],
        **dict(sessions),
    }


async def emotion_trends(
    connection: asyncpg.Connection,
    days: DayRange,
    granularity: str,
    movie_id: int | None,
    genre_id: int | None,
) -> list[asyncpg.Record]:
    bucket, first, last, step = BUCKETS[granularity]
    args: list[object] = [days.since, days.until]
    if movie_id is None and genre_id is None:
        table, condition = "rollup_day", ""  # one row a day, whatever the movies' number
    else:
        table, condition = "rollup_movie_day", ""
        if movie_id is not None:
            args.append(movie_id)
            condition += f" AND r.movie_id = ${len(args)}"
        if genre_id is not None:
            args.append(genre_id)
            in_genre = f"SELECT movie_id FROM movie_genre WHERE genre_id = ${len(args)}"
            condition += f" AND r.movie_id IN ({in_genre})"
    sql = EMOTION_TRENDS.format(
        bucket=bucket, table=table, filter=condition, first=first, last=last, step=step
    )
    return await connection.fetch(sql, *args)
