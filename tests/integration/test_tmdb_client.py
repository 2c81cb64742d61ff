"""The TMDB client's retries and discover slicing, against the TMDB-shaped server on loopback."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from app.catalogue.tmdb_client import RetryPolicy, TmdbClient, TmdbUnavailable
from tests.fake_tmdb import FakeTmdb

FAST_RETRIES = RetryPolicy(max_attempts=3, base_delay_seconds=0.01, max_delay_seconds=0.05)


@pytest.fixture
def tmdb():
    with FakeTmdb() as fake:
        yield fake


@pytest.fixture
async def client(tmdb):
    client = TmdbClient(tmdb.base_url, tmdb.token, requests_per_second=1000, retry=FAST_RETRIES)
    yield client
    await client.close()


async def test_server_errors_are_retried_a_bounded_number_of_times(tmdb, client):
    tmdb.fail_next_with_500 = 2
    assert (await client.details(603))["title"] == "The Matrix"
    tmdb.fail_next_with_500 = 3
    with pytest.raises(TmdbUnavailable, match="gave up after 3 attempts"):
        await client.details(603)


async def test_a_discover_range_past_500_pages_is_halved_down_to_days(tmdb, client):
    tmdb.advertised_total_pages = 1000  # every range claims too many pages
    ids = [i async for i in client.discover_ids(date(1999, 3, 28), date(1999, 3, 31), 1)]
    assert 603 in ids  # The Matrix, released on 1999-03-30
    ranges = {
        (q["primary_release_date.gte"], q["primary_release_date.lte"])
        for q in tmdb.queries("/3/discover/movie")
    }
    assert ("1999-03-28", "1999-03-31") in ranges
    assert ("1999-03-30", "1999-03-30") in ranges  # sliced to single days
    assert all(int(q["page"]) <= 500 for q in tmdb.queries("/3/discover/movie"))


async def test_the_genre_list_is_read(client):
    genres = await client.genres()
    assert {"id": 878, "name": "Science Fiction"} in genres


async def test_after_a_429_every_request_waits_not_only_the_one_refused(tmdb):
    # 40 requests at 100/s against a limit of 10 per 0.3 s: each refusal pauses them all, so
    # TMDB refuses about one request per window, not each request sent while it is closed.
    tmdb.rate_window, tmdb.retry_after_seconds = (10, 0.3), 0.3
    client = TmdbClient(tmdb.base_url, tmdb.token, requests_per_second=100, retry=FAST_RETRIES)
    try:
        answers = await asyncio.gather(*(client.details(603) for _ in range(40)))
    finally:
        await client.close()
    assert all(answer["title"] == "The Matrix" for answer in answers)
    assert 1 <= tmdb.rate_limited <= 6
