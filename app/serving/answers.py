"""What the public read API answers: the documented shapes, with examples for OpenAPI."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Metric = Literal["views", "watch_seconds", "completions", "comments", "avg_rating"]
Granularity = Literal["day", "week"]


class Answer(BaseModel):
    as_of: datetime | None = Field(
        description="Receive time up to which the model is complete: what Spark or a promotion "
        "last committed. Null before the model has any fact."
    )
    since: date = Field(description="First UTC day of the range used (inclusive).")
    until: date = Field(description="Last UTC day of the range used (inclusive).")


class MovieItem(BaseModel):
    rank: int
    movie_id: int
    title: str | None
    release_year: int | None
    poster_url: str | None
    genres: list[str]
    value: float = Field(description="The ranking metric's value.")
    views: int
    watch_seconds: float
    completions: int
    comments: int
    rating_count: int
    avg_rating: float | None = Field(description="Null below the minimum number of ratings.")


class TopMovies(Answer):
    metric: Metric
    genre: str | None
    limit: int
    offset: int
    items: list[MovieItem]

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "as_of": "2026-12-01T12:00:03.120000Z", "since": "2026-11-25",
                "until": "2026-12-01", "metric": "views", "genre": None, "limit": 10,
                "offset": 0,
                "items": [{
                    "rank": 1, "movie_id": 550, "title": "Fight Club", "release_year": 1999,
                    "poster_url": "https://image.tmdb.org/t/p/w500/pB8BM7pdSp6B6Ih7QZ4DrQ3PmJK.jpg",
                    "genres": ["Drama"], "value": 1234, "views": 1234,
                    "watch_seconds": 5021400.0, "completions": 312, "comments": 88,
                    "rating_count": 61, "avg_rating": 8.4,
                }],
            }
        }
    )  # fmt: skip


class GenreShare(BaseModel):
    genre: str
    watch_seconds: float
    movies: int


class EmotionMix(BaseModel):
    positive: int
    negative: int
    neutral: int


class UserStats(Answer):
    user_id: str
    events: int
    watch_seconds: float
    movies_watched: int
    completions: int
    comments: int
    sessions: int
    avg_session_seconds: float | None
    top_genres: list[GenreShare]
    emotions: EmotionMix = Field(description="How the user's comments in the range read.")
    first_seen: datetime = Field(description="The user's first valid event, ever.")
    last_seen: datetime = Field(description="The user's last valid event, ever.")

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "as_of": "2026-12-01T12:00:03.120000Z", "since": "2026-11-25",
                "until": "2026-12-01", "user_id": "user-42", "events": 57,
                "watch_seconds": 18230.5, "movies_watched": 4, "completions": 2,
                "comments": 3, "sessions": 5, "avg_session_seconds": 1432.0,
                "top_genres": [{"genre": "Drama", "watch_seconds": 9100.0, "movies": 2}],
                "emotions": {"positive": 2, "negative": 1, "neutral": 0},
                "first_seen": "2026-11-02T19:04:11Z", "last_seen": "2026-12-01T11:58:40Z",
            }
        }
    )  # fmt: skip


class PrimaryEmotions(BaseModel):
    """Comments by the emotion they read as most (those with none are left out)."""

    joy: int
    sadness: int
    fear: int
    anger: int
    surprise: int
    disgust: int


class EmotionBucket(BaseModel):
    start: date = Field(description="First day of the bucket (a Monday for weeks).")
    comments: int
    positive: int
    negative: int
    neutral: int
    positive_share: float | None
    negative_share: float | None
    neutral_share: float | None
    mean_emotion_score: float | None = Field(description="From -1 (negative) to 1 (positive).")
    mean_rating: float | None
    primary_emotions: PrimaryEmotions


class EmotionTrends(Answer):
    granularity: Granularity
    movie_id: int | None
    genre: str | None
    buckets: list[EmotionBucket]

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "as_of": "2026-12-01T12:00:03.120000Z", "since": "2026-11-30",
                "until": "2026-12-01", "granularity": "day", "movie_id": None, "genre": None,
                "buckets": [{
                    "start": "2026-11-30", "comments": 40, "positive": 25, "negative": 10,
                    "neutral": 5, "positive_share": 0.625, "negative_share": 0.25,
                    "neutral_share": 0.125, "mean_emotion_score": 0.31, "mean_rating": 7.2,
                    "primary_emotions": {
                        "joy": 12, "sadness": 3, "fear": 4, "anger": 2, "surprise": 5,
                        "disgust": 1,
                    },
                }],
            }
        }
    )  # fmt: skip


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    parameter: str | None = Field(default=None, description="The query parameter at fault.")
