"""TMDB sync against a TMDB-shaped server on loopback: staged once, versions kept, limits kept."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from app.bootstrap import build_resources
from app.catalogue.sources import SyncKind
from app.catalogue.sync import SyncCounts, sync_catalogue
from app.catalogue.tmdb_client import TmdbClient
from app.config import Settings
from app.producers.kafka import KafkaPublisher
from tests.fake_tmdb import FakeTmdb
from tests.integration.catalogue_support import movie_consumers, movies_with_fresh_ids, wait_for


@pytest.fixture
def tmdb():
    with FakeTmdb(movies_with_fresh_ids(30)) as fake:
        yield fake


@pytest.fixture
def tmdb_settings(settings, tmdb):
    return settings.model_copy(
        update={"tmdb_api_url": tmdb.base_url, "tmdb_api_token": SecretStr(tmdb.token)}
    )


@pytest.fixture
async def publisher(settings):
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, 10)
    yield publisher
    await publisher.close()


async def run_sync(
    settings: Settings, publisher: KafkaPublisher, kind: SyncKind, pages: int | None = None
) -> SyncCounts:
    """A sync from the movie source these settings choose, as the command runs it."""
    async with build_resources(settings, publisher=publisher) as resources:
        return await sync_catalogue(
            resources.postgres, resources.movie_source, publisher, kind, pages=pages
        )


async def raw_versions(settings, ids: list[int]) -> int:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        return await client[settings.mongo_database].movies.count_documents(
            {"movie_id": {"$in": ids}}
        )
    finally:
        await client.close()


async def test_full_sync_stages_each_movie_once_and_keeps_every_version(
    tmdb, tmdb_settings, publisher, pg, unique
):
    ids = sorted(tmdb.movies)
    gone = ids[0]
    tmdb.gone_ids.add(gone)  # listed as popular, but its details are gone
    tmdb.page_size, tmdb.duplicate_across_pages = 7, True
    tmdb.movies[ids[1]]["release_date"] = ""
    tmdb.movies[ids[2]]["poster_path"] = None
    kept = ids[1:]
    # A full sync also refreshes the placeholders other tests' events left; TMDB knows none.
    placeholders = await pg.fetchval("SELECT count(*) FROM dim_movie WHERE is_placeholder")
    last_run = await pg.fetchval("SELECT coalesce(max(run_id), 0) FROM tmdb_sync_runs")

    async with movie_consumers(tmdb_settings, unique):
        counts = await run_sync(tmdb_settings, publisher, "full", pages=10)
        assert (counts.fetched, counts.gone) == (30 + placeholders, 1 + placeholders)
        await wait_for(
            pg, "SELECT count(*) FROM stg_movies WHERE movie_id = ANY($1)", kept, expected=29
        )
        await wait_for(
            pg, "SELECT count(*) FROM dim_movie WHERE movie_id = ANY($1) AND genres <> ''",
            kept, expected=29,
        )  # fmt: skip
        row = await pg.fetchrow("SELECT * FROM stg_movies WHERE movie_id = $1", ids[1])
        assert row["release_date"] is None and row["title"] == tmdb.movies[ids[1]]["title"]
        assert (
            await pg.fetchval("SELECT poster_path FROM dim_movie WHERE movie_id = $1", ids[2])
            is None
        )
        genres = await pg.fetchval(
            "SELECT count(*) FROM movie_genre WHERE movie_id = ANY($1)", kept
        )
        assert genres == sum(len(tmdb.movies[i]["genres"]) for i in kept)
        assert await raw_versions(tmdb_settings, ids) == 30  # 29 movies and one "gone" marker

        changed = ids[3:5]
        for movie_id in changed:
            tmdb.movies[movie_id]["runtime"] += 1
        counts = await run_sync(tmdb_settings, publisher, "full", pages=10)
        assert counts.changed == 2
        expected_runtime = tmdb.movies[changed[0]]["runtime"]
        await wait_for(
            pg, "SELECT runtime_minutes FROM stg_movies WHERE movie_id = $1", changed[0],
            expected=expected_runtime,
        )  # fmt: skip
        await wait_for(
            pg, "SELECT count(*) FROM stg_movies WHERE runtime_minutes = $2 AND movie_id = $1",
            changed[1], tmdb.movies[changed[1]]["runtime"], expected=1,
        )  # fmt: skip

    assert await pg.fetchval("SELECT count(*) FROM stg_movies WHERE movie_id = ANY($1)", ids) == 29
    assert await raw_versions(tmdb_settings, ids) == 32  # two more versions, no duplicates
    runs = await pg.fetch(
        "SELECT kind, status, movies_changed FROM tmdb_sync_runs WHERE run_id > $1 ORDER BY run_id",
        last_run,
    )
    assert [tuple(r) for r in runs] == [("full", "succeeded", 29), ("full", "succeeded", 2)]


async def test_rate_limits_are_waited_out_and_no_page_above_500_is_asked(tmdb):
    tmdb.advertised_total_pages = 1000
    tmdb.rate_limit_next, tmdb.retry_after_seconds = 2, 1
    client = TmdbClient(tmdb.base_url, tmdb.token, requests_per_second=1000)
    try:
        ids = [movie_id async for movie_id in client.popular_ids(max_pages=600)]
    finally:
        await client.close()
    assert sorted(ids) == sorted(tmdb.movies)
    pages = [int(query["page"]) for query in tmdb.queries("/3/movie/popular")]
    assert max(pages) == 500
    # The two 429s were answered first; each retry waited the second Retry-After asked for.
    first, second, third = tmdb.request_times[:3]
    assert second - first >= 0.95 and third - second >= 0.95


async def test_placeholder_movie_is_filled_in_by_the_next_sync(
    tmdb, tmdb_settings, publisher, pg, unique
):
    unlisted = sorted(tmdb.movies)[-1]
    tmdb.popular_ids.remove(unlisted)  # known only from an event
    await pg.execute(
        "INSERT INTO dim_movie (movie_id, title, is_placeholder, source_flag) "
        "VALUES ($1, $2, true, 'events')",
        unlisted,
        f"Movie {unlisted}",
    )
    async with movie_consumers(tmdb_settings, unique):
        await run_sync(tmdb_settings, publisher, "full", pages=2)
        await wait_for(
            pg, "SELECT is_placeholder FROM dim_movie WHERE movie_id = $1", unlisted,
            expected=False,
        )  # fmt: skip
    assert (
        await pg.fetchval("SELECT title FROM dim_movie WHERE movie_id = $1", unlisted)
        == tmdb.movies[unlisted]["title"]
    )


async def test_changes_sync_refreshes_known_movies_from_its_checkpoint(
    tmdb, tmdb_settings, publisher, pg, unique
):
    ids = sorted(tmdb.movies)
    async with movie_consumers(tmdb_settings, unique):
        await run_sync(tmdb_settings, publisher, "full", pages=2)
        await wait_for(
            pg, "SELECT count(*) FROM stg_movies WHERE movie_id = ANY($1)", ids, expected=30
        )
        tmdb.movies[ids[5]]["title"] = "A new title"
        tmdb.changed_ids = [ids[5], 12345678901]  # the second is no movie of ours
        started = time.monotonic()
        counts = await run_sync(tmdb_settings, publisher, "changes")
        assert counts.fetched == 1 and counts.changed == 1
        await wait_for(
            pg, "SELECT title FROM stg_movies WHERE movie_id = $1", ids[5], expected="A new title"
        )
    windows = tmdb.queries("/3/movie/changes")
    assert windows and all("start_date" in w and "end_date" in w for w in windows)
    assert time.monotonic() - started < 30
    assert await pg.fetchval("SELECT value FROM tmdb_sync_state WHERE name = 'changes'")


async def test_without_a_token_the_sample_catalogue_is_published(settings, publisher, pg, unique):
    no_token = settings.model_copy(update={"tmdb_api_token": None})
    unknown = 987_654_321_000 + int(unique[:6], 16)  # a placeholder the sample does not have
    await pg.execute(
        "INSERT INTO dim_movie (movie_id, title, is_placeholder, source_flag) "
        "VALUES ($1, $2, true, 'events')",
        unknown,
        f"Movie {unknown}",
    )
    started = datetime.now(UTC)
    async with movie_consumers(no_token, unique):
        counts = await run_sync(no_token, publisher, "full")
        assert (counts.fetched, counts.gone) == (40, 0)
        await wait_for(  # staged by this run, not left by an earlier one
            pg, "SELECT count(*) FROM stg_movies WHERE movie_id = ANY($1) AND fetched_at >= $2",
            [550, 603, 372058], started, expected=3,
        )  # fmt: skip
    row = await pg.fetchrow(
        "SELECT kind, status, movies_fetched FROM tmdb_sync_runs ORDER BY run_id DESC LIMIT 1"
    )
    assert tuple(row) == ("sample", "succeeded", 40)
    placeholder = await pg.fetchrow(
        "SELECT is_placeholder, is_gone FROM dim_movie WHERE movie_id = $1", unknown
    )
    assert tuple(placeholder) == (True, False), "absent from the sample is not gone from TMDB"
