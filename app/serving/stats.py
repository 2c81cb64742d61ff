"""The public statistics as use cases: rollup rows in, documented answers out."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.serving import queries
from app.serving.answers import (
    EmotionBucket,
    EmotionMix,
    EmotionTrends,
    GenreShare,
    MovieItem,
    PrimaryEmotions,
    TopMovies,
    UserStats,
)
from app.serving.params import BadParameter, DayRange, GenreFilter


class UnknownUser(LookupError):
    """The model has no fact of this user."""


async def resolve_genre(connection: asyncpg.Connection, genre: GenreFilter | None) -> int | None:
    if genre is None:
        return None
    if genre.genre_id is not None:
        return genre.genre_id
    found = await queries.genre_id_named(connection, genre.name or "")
    if found is None:
        raise BadParameter("genre", f"no genre is named {genre.name!r}")
    return found


async def top_movies(
    connection: asyncpg.Connection,
    as_of: datetime | None,
    days: DayRange,
    metric: str,
    genre: GenreFilter | None,
    genre_text: str | None,
    limit: int,
    offset: int,
    min_ratings: int,
    poster_base_url: str,
) -> TopMovies:
    genre_id = await resolve_genre(connection, genre)
    rows = await queries.top_movies(connection, days, metric, genre_id, min_ratings, limit, offset)
    items = [
        MovieItem(
            rank=offset + n,
            movie_id=row["movie_id"],
            title=row["title"],
            release_year=row["release_year"],
            poster_url=f"{poster_base_url}{row['poster_path']}" if row["poster_path"] else None,
            genres=[g for g in (row["genres"] or "").split(", ") if g],
            value=row[queries.METRICS[metric]],
            views=row["views"],
            watch_seconds=row["watch_seconds"],
            completions=row["completions"],
            comments=row["comments"],
            rating_count=row["rating_count"],
            avg_rating=row["avg_rating"],
        )
        for n, row in enumerate(rows, start=1)
    ]
    return TopMovies(
        as_of=as_of, since=days.since, until=days.until, metric=metric,  # type: ignore[arg-type]
        genre=genre_text, limit=limit, offset=offset, items=items,
    )  # fmt: skip


async def user_stats(
    connection: asyncpg.Connection, as_of: datetime | None, user_id: str, days: DayRange
) -> UserStats:
    found = await queries.user_stats(connection, user_id, days)
    if found is None:
        raise UnknownUser(user_id)
    return UserStats(
        as_of=as_of, since=days.since, until=days.until, user_id=user_id,
        events=found["events"], watch_seconds=found["watch_seconds"],
        movies_watched=found["movies_watched"], completions=found["completions"],
        comments=found["comments"], sessions=found["sessions"],
        avg_session_seconds=found["avg_session_seconds"],
        top_genres=[GenreShare(**genre) for genre in found["top_genres"]],
        emotions=EmotionMix(
            positive=found["positive"], negative=found["negative"], neutral=found["neutral"]
        ),
        first_seen=found["first_seen"], last_seen=found["last_seen"],
    )  # fmt: skip


async def emotion_trends(
    connection: asyncpg.Connection,
    as_of: datetime | None,
    days: DayRange,
    granularity: str,
    movie_id: int | None,
    genre: GenreFilter | None,
    genre_text: str | None,
) -> EmotionTrends:
    genre_id = await resolve_genre(connection, genre)
    rows = await queries.emotion_trends(connection, days, granularity, movie_id, genre_id)
    return EmotionTrends(
        as_of=as_of, since=days.since, until=days.until,
        granularity=granularity,  # type: ignore[arg-type]
        movie_id=movie_id, genre=genre_text, buckets=[emotion_bucket(row) for row in rows],
    )  # fmt: skip


def emotion_bucket(row: asyncpg.Record) -> EmotionBucket:
    comments = row["positive"] + row["negative"] + row["neutral"]

    def share(count: int) -> float | None:
        return count / comments if comments else None

    return EmotionBucket(
        start=row["start"], comments=comments, positive=row["positive"],
        negative=row["negative"], neutral=row["neutral"],
        positive_share=share(row["positive"]), negative_share=share(row["negative"]),
        neutral_share=share(row["neutral"]),
        mean_emotion_score=ratio(row["score_sum"], row["score_count"]),
        mean_rating=ratio(row["rating_sum"], row["rating_count"]),
        primary_emotions=PrimaryEmotions(**{e: row[e] for e in queries.PRIMARY_EMOTIONS}),
    )  # fmt: skip


def ratio(total: float | None, count: int | None) -> float | None:
    return float(total) / count if count else None
