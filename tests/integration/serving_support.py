"""Facts written straight into the model tables, the API in process, and its answers held
against SQL over the facts."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from tests.serving_expectations import (
    PRIMARY_EMOTIONS,
    close,
    expected_emotion_buckets,
    expected_top_movies,
    expected_user_stats,
)

FACT_INSERT = """
    INSERT INTO fact_user_event (event_id, event_type, user_id, movie_id, occurred_at,
        received_at, event_date, event_hour, watch_action, watch_seconds, is_completed, rating,
        emotion, emotion_score, primary_emotion, is_valid, rules_version, source_flag)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[],
        $6::timestamptz[], $7::date[], $8::smallint[], $9::text[], $10::float8[], $11::bool[],
        $12::float8[], $13::text[], $14::float8[], $15::text[], $16::bool[], $17::text[],
        $18::text[])
    ON CONFLICT (event_id, received_at) DO NOTHING
"""


@dataclass
class Catalogue:
    """Movies and genres of one test, with ids no other data uses."""

    movie_ids: list[int]
    genre_ids: list[int]
    genre_names: list[str]
    users: list[str]
    first_day: date


def random_facts(catalogue: Catalogue, count: int, seed: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    facts = []
    for _ in range(count):
        day = catalogue.first_day + timedelta(days=rng.randrange(14))
        occurred = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(86_400)
        )
        kind = rng.choice(("watch", "watch", "click", "comment"))
        movie = rng.choice(catalogue.movie_ids) if kind != "click" else None
        action = rng.choice(("start", "progress", "complete")) if kind == "watch" else None
        watched = rng.choice((0.0, 120.5, 3600.0)) if kind == "watch" else None
        rating = rng.choice((None, 3.0, 7.5, 10.0)) if kind == "comment" else None
        score = rng.choice((-0.81, -0.25, 0.0, 0.4, 0.93)) if kind == "comment" else None
        emotion = None if score is None else ("positive" if score > 0 else
                                               "negative" if score < 0 else "neutral")  # fmt: skip
        primary = rng.choice((*PRIMARY_EMOTIONS, "none")) if kind == "comment" else None
        facts.append((
            uuid.uuid4(), kind, rng.choice(catalogue.users), movie, occurred,
            occurred + timedelta(seconds=2), day, occurred.hour, action, watched,
            action == "complete", rating, emotion, score, primary, rng.random() > 0.05, "test:1",
            "spark",
        ))  # fmt: skip
    return facts


async def insert_facts(pg: asyncpg.Connection, facts: list[tuple[Any, ...]]) -> None:
    await pg.execute(FACT_INSERT, *map(list, zip(*facts, strict=True)))


async def new_catalogue(pg: asyncpg.Connection, unique: str) -> Catalogue:
    base = int(uuid.UUID(int=random.getrandbits(128)).int % 10**9) * 1000 + 10**12
    movie_ids = [base + n for n in range(6)]
    genre_ids = [900_000_000 + random.randrange(10**7) + n for n in range(2)]
    names = [f"Genre {unique} {n}" for n in range(2)]
    for genre_id, name in zip(genre_ids, names, strict=True):
        await pg.execute("INSERT INTO dim_genre (genre_id, name) VALUES ($1, $2)", genre_id, name)
    for n, movie_id in enumerate(movie_ids):
        genres = names[: 1 + n % 2]
        await pg.execute(
            "INSERT INTO dim_movie (movie_id, title, release_year, poster_path, genres, "
            "is_placeholder, source_flag) VALUES ($1, $2, 2001, $3, $4, false, 'tmdb')",
            movie_id, f"Movie {unique} {n}", f"/poster{n}.jpg", ", ".join(genres),
        )  # fmt: skip
        await pg.executemany(
            "INSERT INTO movie_genre (movie_id, genre_id) VALUES ($1, $2)",
            [(movie_id, genre_ids[g]) for g in range(1 + n % 2)],
        )
    # A range of days nobody else writes into: a random fortnight before 2020.
    first_day = date(2001, 1, 1) + timedelta(days=random.randrange(6_500))
    return Catalogue(movie_ids, genre_ids, names, [f"serving-{unique}-{n}" for n in range(4)],
                     first_day)  # fmt: skip


@asynccontextmanager
async def api_client(settings: Settings, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process, asked as the app's backend asks it: with a service token that may
    read any user's statistics, and far below the fair-use limits; `overrides`: settings."""
    token = f"svc_{uuid.uuid4().hex}"
    backend = {"backend": {"token": token, "scopes": ["users:read"]}}
    quiet = settings.model_copy(
        update={
            "run_consumers": False, "run_scheduler": False,
            "service_tokens": SecretStr(json.dumps(backend)),
            "rate_limit_read": "1000000/second", **overrides,
        }
    )  # fmt: skip
    app = create_app(quiet)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://test",
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
    ):
        yield client


async def check_top_movies(
    client: httpx.AsyncClient, pg: asyncpg.Connection, settings: Settings, query: dict[str, Any]
) -> None:
    response = await client.get("/api/top_movies", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    genre = query.get("genre")
    genre_id = await genre_id_of(pg, genre)
    expected = await expected_top_movies(
        pg, date.fromisoformat(query["since"]), date.fromisoformat(query["until"]),
        query.get("metric", "views"), genre_id, int(query.get("limit", 10)),
        settings.serving_min_ratings,
    )  # fmt: skip
    assert [item["movie_id"] for item in body["items"]] == [m["movie_id"] for m in expected]
    for item, movie in zip(body["items"], expected, strict=True):
        for name in ("views", "completions", "comments", "rating_count"):
            assert item[name] == movie[name], (name, item, movie)
        assert close(item["watch_seconds"], movie["watch_seconds"])
        assert close(item["avg_rating"], movie["avg_rating"])


async def check_user_stats(
    client: httpx.AsyncClient, pg: asyncpg.Connection, user_id: str, since: date, until: date
) -> None:
    params = {"since": since.isoformat(), "until": until.isoformat()}
    response = await client.get(f"/api/user_stats/{user_id}", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = await expected_user_stats(pg, user_id, since, until)
    for name in ("events", "movies_watched", "completions", "comments", "sessions"):
        assert body[name] == expected[name], (name, body, expected)
    assert close(body["watch_seconds"], expected["watch_seconds"])
    assert close(body["avg_session_seconds"], expected["avg_session_seconds"])
    assert body["emotions"] == {k: expected[k] for k in ("positive", "negative", "neutral")}
    assert datetime.fromisoformat(body["first_seen"]) == expected["first_seen"]
    assert datetime.fromisoformat(body["last_seen"]) == expected["last_seen"]
    assert [g["genre"] for g in body["top_genres"]] == [g["genre"] for g in expected["top_genres"]]


async def check_emotion_trends(
    client: httpx.AsyncClient, pg: asyncpg.Connection, query: dict[str, Any]
) -> None:
    response = await client.get("/api/emotion_trends", params=query)
    assert response.status_code == 200, response.text
    since, until = date.fromisoformat(query["since"]), date.fromisoformat(query["until"])
    expected = await expected_emotion_buckets(
        pg, since, until, query.get("granularity", "day"), query.get("movie_id"),
        await genre_id_of(pg, query.get("genre")),
    )  # fmt: skip
    buckets = {date.fromisoformat(b["start"]): b for b in response.json()["buckets"]}
    assert set(expected) <= set(buckets)
    for start, bucket in buckets.items():
        want = expected.get(start)
        if want is None:
            assert bucket["comments"] == 0 and bucket["mean_rating"] is None
            continue
        for name in ("positive", "negative", "neutral"):
            assert bucket[name] == want[name], (start, name, bucket, want)
        assert close(bucket["mean_emotion_score"], float(want["mean_emotion_score"]))
        assert close(bucket["mean_rating"], want["mean_rating"])
        assert bucket["primary_emotions"] == {e: want[e] for e in PRIMARY_EMOTIONS}
        total = want["positive"] + want["negative"] + want["neutral"]
        assert close(bucket["positive_share"], want["positive"] / total)


async def genre_id_of(pg: asyncpg.Connection, genre: str | None) -> int | None:
    if genre is None:
        return None
    if genre.isdigit():
        return int(genre)
    return await pg.fetchval("SELECT genre_id FROM dim_genre WHERE name = $1", genre)
