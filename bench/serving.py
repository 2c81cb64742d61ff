"""Serving under load: each `GET /api/*` endpoint against `GET /health` of the same server.

    .venv/bin/python -m bench.serving [--facts 10000000] [--seconds 10] [--connections 32]
        [--commit-seconds 3] [--commit-facts 5000]

1. Creates a scratch database, migrates it, and writes the facts straight into fact_user_event
   (`INSERT ... SELECT` over generate_series, a million rows a statement), then builds their
   rollups once with `rebuild_rollups`, as after a backfill. Movies, genres and sessions too.
2. Runs `python -m app` on it (consumers and scheduler off) and drives every endpoint, then
   `/health`, with wrk from a separate process; the requests vary their users, genres and
   ranges. A table gives req/s, p50 and p99, and each endpoint's ratio to `/health`. Three
   modes: the answer cache on with a model that stands still; on while a writer commits a batch
   of facts every few seconds, as the stream does (`bench/moving_model.py`), which moves
   `as_of`; and the cache off.
3. Times the Spark batch merge's fact insert (`jobs.spark.batch_store.insert_facts_once`, where
   the rollups are kept) over fresh batches, with the rollup trigger and without it.

The scratch database is dropped at the end (`--keep` leaves it for another run: `--reuse NAME`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from alembic import command

from app.access.minting import mint_user_token
from app.bootstrap import token_rules
from app.config import Settings
from app.ops.prestart import alembic_config
from bench.model_freshness import wait_until_healthy
from bench.moving_model import MovingModel, sampled_batch
from bench.processes import BackgroundProcess, free_port, python_module, service_listeners
from bench.wrk import Load, lua_rotating, require_wrk, run_wrk
from jobs.spark.batch_store import insert_facts_once

MOVIES, GENRES, DAYS = 2_000, 19, 90
TRIGGER = "fact_user_event_rollups"
CHUNK = 1_000_000
LOAD_FACTS = """
    INSERT INTO fact_user_event (event_id, event_type, user_id, movie_id, occurred_at,
        received_at, event_date, event_hour, watch_action, watch_seconds, is_completed, rating,
        emotion, emotion_score, primary_emotion, is_valid, rules_version, source_flag)
    SELECT gen_random_uuid(), kind, 'bench-user-' || u, movie, at, at + interval '2 seconds',
        (at AT TIME ZONE 'UTC')::date, extract(hour FROM at AT TIME ZONE 'UTC')::smallint,
        CASE WHEN kind = 'watch' THEN (ARRAY['start', 'progress', 'complete'])[1 + r % 3] END,
        CASE WHEN kind = 'watch' THEN (r % 5400)::float8 END,
        kind = 'watch' AND r % 3 = 2,
        CASE WHEN kind = 'comment' AND r % 4 > 0 THEN (r % 11)::float8 END,
        CASE WHEN kind = 'comment' THEN (ARRAY['positive', 'negative', 'neutral'])[1 + r % 3] END,
        CASE WHEN kind = 'comment' THEN (ARRAY[0.6, -0.4, 0])[1 + r % 3] END,
        CASE WHEN kind = 'comment' THEN (ARRAY['joy', 'anger', 'none', 'surprise'])[1 + r % 4] END,
        r % 50 <> 0, 'bench:1', 'spark'
    FROM (
        SELECT r, n % $3 AS u,
            CASE WHEN r % 10 < 6 THEN 'watch' WHEN r % 10 < 8 THEN 'click'
                 ELSE 'comment' END AS kind,
            1 + ((n % $3) * 7 + r % 23) % $4 AS movie,
            $5::timestamptz - (r % ($6 * 86400)) * interval '1 second' AS at
        FROM (SELECT n, (random() * 2147483647)::bigint AS r
              FROM generate_series($1::bigint, $2::bigint) AS n) numbers
    ) g
"""
LOAD_GENRES = (
    "INSERT INTO dim_genre (genre_id, name) SELECT g, 'Genre ' || g FROM generate_series(1, $1) g"
)
LOAD_MOVIES = """
    INSERT INTO dim_movie (movie_id, title, release_year, poster_path, genres, is_placeholder,
        source_flag)
    SELECT m, 'Movie ' || m, 1950 + m % 75, '/p' || m || '.jpg',
        'Genre ' || (1 + m % $2) || ', Genre ' || (1 + (m * 7) % $2), false, 'tmdb'
    FROM generate_series(1, $1) m
"""
LOAD_MOVIE_GENRES = """
    INSERT INTO movie_genre (movie_id, genre_id)
    SELECT m, 1 + m % $2 FROM generate_series(1, $1) m
    UNION SELECT m, 1 + (m * 7) % $2 FROM generate_series(1, $1) m
"""
LOAD_SESSIONS = """
    INSERT INTO dim_session (session_id, user_id, session_start, session_end, duration_seconds,
        event_count, watch_count, click_count, comment_count, movies_watched, watch_seconds,
        rules_version, source_flag)
    SELECT 'bench-user-' || u || ':' || d, 'bench-user-' || u,
        $2::timestamptz - d * interval '1 day', $2::timestamptz - d * interval '1 day'
        + interval '40 minutes', 2400, 12, 8, 3, 1, 2, 3600, 'bench:1', 'spark'
    FROM generate_series(0, $1 - 1) u, generate_series(0, 29, 3) d
"""


def scratch_url(database_url: str, name: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


async def administer(settings: Settings, statement: str) -> None:
    """CREATE or DROP DATABASE, which no transaction may hold."""
    connection = await asyncpg.connect(settings.database_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def load(url: str, facts: int, users: int, now: datetime) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(LOAD_GENRES, GENRES)
        await connection.execute(LOAD_MOVIES, MOVIES, GENRES)
        await connection.execute(LOAD_MOVIE_GENRES, MOVIES, GENRES)
        # A bulk load counts once at the end, as rebuild-rollups would after a backfill.
        await connection.execute(f"ALTER TABLE fact_user_event DISABLE TRIGGER {TRIGGER}")
        for start in range(0, facts, CHUNK):
            last = min(facts, start + CHUNK) - 1
            await connection.execute(LOAD_FACTS, start, last, users, MOVIES, now, DAYS)
            print(f"  facts: {last + 1:,} of {facts:,}", file=sys.stderr, flush=True)
        await connection.execute(f"ALTER TABLE fact_user_event ENABLE TRIGGER {TRIGGER}")
        await connection.execute(
            "SELECT rebuild_rollups(min(event_date), max(event_date)) FROM fact_user_event"
        )
        await connection.execute(LOAD_SESSIONS, users, now)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


def endpoint_paths(users: int, today: datetime) -> dict[str, list[str]]:
    week = f"since={(today - timedelta(days=6)).date()}&until={today.date()}"
    month = f"since={(today - timedelta(days=29)).date()}&until={today.date()}"
    return {
        "GET /health": ["/health"],
        "GET /api/top_movies": [
            "/api/top_movies", f"/api/top_movies?{month}&metric=watch_seconds",
            "/api/top_movies?metric=avg_rating&genre=Genre%203",
            f"/api/top_movies?{week}&genre=7&limit=50",
        ],
        "GET /api/user_stats/{id}": [f"/api/user_stats/{user}?{month}" for user in asked(users)],
        "GET /api/emotion_trends": [
            "/api/emotion_trends", f"/api/emotion_trends?{month}&granularity=week",
            f"/api/emotion_trends?{month}&movie_id=17", "/api/emotion_trends?genre=Genre%205",
        ],
    }  # fmt: skip


def asked(users: int) -> list[str]:
    """The users whose stats the bench asks for, in turn."""
    return [f"bench-user-{(n * 7919) % users}" for n in range(200)]


def authorizations(what: str, users: int) -> list[str] | None:
    """Each user's stats are asked with that user's own bearer token, as the app's pages do."""
    if "user_stats" not in what:
        return None
    settings = Settings()
    secret, rules = settings.secret("auth_hs256_secret"), token_rules(settings)
    lifetime = timedelta(hours=2)
    return [f"Bearer {mint_user_token(secret, rules, user, lifetime)}" for user in asked(users)]


async def merge_rate(url: str, batches: int, per_batch: int, with_rollups: bool) -> float:
    """Events/s of the Spark merge's fact insert over fresh incoming batches."""
    connection = await asyncpg.connect(url)
    stream = f"bench-{uuid.uuid4().hex[:8]}"
    trigger = "ENABLE" if with_rollups else "DISABLE"
    try:
        await connection.execute(
            f"ALTER TABLE fact_user_event {trigger} TRIGGER fact_user_event_rollups"
        )
        elapsed = 0.0
        for batch in range(batches):
            await sampled_batch(connection, stream, batch, per_batch)
            started = time.perf_counter()
            await insert_facts_once([connection], stream, batch)
            elapsed += time.perf_counter() - started
        return batches * per_batch / elapsed
    finally:
        await connection.execute(
            "ALTER TABLE fact_user_event ENABLE TRIGGER fact_user_event_rollups"
        )
        await connection.close()


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=10, help="of load per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--keep", action="store_true", help="leave the scratch database")
    parser.add_argument("--reuse", help="a scratch database a --keep run left")
    parser.add_argument("--commit-seconds", type=float, default=3.0,
                        help="between the moving model's batches")  # fmt: skip
    parser.add_argument("--commit-facts", type=int, default=5_000, help="facts per batch")
    args = parser.parse_args()
    require_wrk()
    settings = Settings(_env_file=None)
    name = args.reuse or f"bench_serving_{uuid.uuid4().hex[:8]}"
    url = scratch_url(settings.database_url, name)
    now = datetime.now(UTC).replace(microsecond=0)
    if not args.reuse:
        await administer(settings, f'CREATE DATABASE "{name}"')
        print(f"scratch database {name}", file=sys.stderr)
    try:
        if not args.reuse:
            config = alembic_config(settings_for(url).sqlalchemy_database_url)
            await asyncio.to_thread(command.upgrade, config, "head")  # Alembic runs its own loop
            started = time.perf_counter()
            await load(url, args.facts, args.users, now)
            print(f"loaded {args.facts:,} facts in {time.perf_counter() - started:.0f}s",
                  file=sys.stderr)  # fmt: skip
        results = {
            "on, model still": await measure(url, args, now, cache_size="2048"),
            "on, model moving": await measure(url, args, now, cache_size="2048", moving=True),
            "off, model still": await measure(url, args, now, cache_size="0"),
        }
        with_rollups = await merge_rate(url, 10, 5_000, with_rollups=True)
        without = await merge_rate(url, 10, 5_000, with_rollups=False)
    finally:
        if not args.keep:
            await administer(settings, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print_tables(args, results, with_rollups, without)


async def measure(
    url: str, args: argparse.Namespace, now: datetime, cache_size: str, moving: bool = False
) -> dict[str, Load]:
    """Every endpoint, then /health, on one service process; `moving`: while a writer commits
    batches of facts that move `as_of`."""
    port = free_port()
    stream = f"bench-serving-{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": url, **service_listeners(port), "RUN_CONSUMERS": "false",
           "RUN_SCHEDULER": "false", "LOG_LEVEL": "WARNING", "SPARK_CHECKPOINT_DIR": stream,
           "SERVING_ANSWER_CACHE_SIZE": cache_size}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Load] = {}
    with BackgroundProcess("service", python_module("app"), env) as service:
        async with httpx.AsyncClient(base_url=base) as client:
            await wait_until_healthy(client, service)
        for what, paths in endpoint_paths(args.users, now).items():
            script = lua_rotating(paths, authorizations(what, args.users))
            run_wrk(base, script, 2, args.connections)  # warm the pool (and the cache, if on)
            model = MovingModel(url, stream, args.commit_seconds, args.commit_facts)
            async with model if moving else contextlib.nullcontext():
                results[what] = await asyncio.to_thread(
                    run_wrk, base, script, args.seconds, args.connections
                )
            if moving:
                print(f"  {what}: the model committed {model.commits} batches of "
                      f"{args.commit_facts:,} facts ({model.seconds_writing:.1f} s writing)",
                      file=sys.stderr)  # fmt: skip
    return results


def print_tables(
    args: argparse.Namespace, results: dict[str, dict[str, Load]], merged: float, bare: float
) -> None:
    print(f"\nServing, {args.facts:,} facts, wrk -t2 -c{args.connections} -d{args.seconds}s\n")
    print(
        f"Moving model: a batch of {args.commit_facts:,} facts committed every "
        f"{args.commit_seconds:g} s\n"
    )
    print("| what | answer cache | req/s | p50 ms | p99 ms | ratio to /health |")
    print("|---|---|---:|---:|---:|---:|")
    for cache, rows in results.items():
        health = rows["GET /health"].requests_per_second
        for what, load_ in rows.items():
            print(f"| {what} | {cache} | {load_.requests_per_second:,.0f} | {load_.p50_ms:.2f} "
                  f"| {load_.p99_ms:.2f} | {load_.requests_per_second / health:.2f} |")  # fmt: skip
    print("\nSpark batch merge (its fact insert), 10 batches of 5,000 facts\n")
    print("| what | events/s | ratio |")
    print("|---|---:|---:|")
    print(f"| merge without the rollup trigger (baseline) | {bare:,.0f} | 1.00 |")
    print(f"| merge with the rollup trigger | {merged:,.0f} | {merged / bare:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
