"""The public read API against PostgreSQL: answers agree with SQL over the facts, the rollups
count each fact once, and bad input or a store that is away gets a clear problem."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.integration.serving_support import (
    api_client,
    check_emotion_trends,
    check_top_movies,
    check_user_stats,
    insert_facts,
    new_catalogue,
    random_facts,
)
from tests.support import REPO_ROOT

METRICS = ("views", "watch_seconds", "completions", "comments", "avg_rating")


@pytest.fixture
async def served(pg, unique):
    catalogue = await new_catalogue(pg, unique)
    facts = random_facts(catalogue, 400, seed=len(unique))
    await insert_facts(pg, facts)
    return catalogue, facts


def whole_range(catalogue) -> dict[str, str]:
    last = catalogue.first_day + timedelta(days=13)
    return {"since": catalogue.first_day.isoformat(), "until": last.isoformat()}


async def test_answers_agree_with_sql_over_the_facts(settings, pg, served):
    catalogue, _ = served
    days = whole_range(catalogue)
    async with api_client(settings) as client:
        for metric in METRICS:
            await check_top_movies(client, pg, settings, {**days, "metric": metric})
        await check_top_movies(client, pg, settings, {**days, "genre": catalogue.genre_names[1]})
        await check_top_movies(client, pg, settings, {**days, "genre": str(catalogue.genre_ids[0])})
        await check_top_movies(client, pg, settings, {**days, "limit": 2})
        for user in catalogue.users:
            await check_user_stats(
                client, pg, user, catalogue.first_day, catalogue.first_day + timedelta(days=6)
            )
        for granularity in ("day", "week"):
            await check_emotion_trends(client, pg, {**days, "granularity": granularity})
        await check_emotion_trends(client, pg, {**days, "movie_id": catalogue.movie_ids[0]})
        await check_emotion_trends(client, pg, {**days, "genre": catalogue.genre_names[0]})


async def test_a_fact_inserted_twice_counts_once_and_a_rebuild_changes_nothing(
    settings, pg, served
):
    catalogue, facts = served
    days = whole_range(catalogue)
    before = await pg.fetch(
        "SELECT * FROM rollup_movie_day WHERE movie_id = ANY($1) ORDER BY movie_id, day",
        catalogue.movie_ids,
    )
    await insert_facts(pg, facts)  # a replayed batch, a second promote: already there
    last = catalogue.first_day + timedelta(days=13)
    await pg.execute("SELECT rebuild_rollups($1, $2)", catalogue.first_day, last)
    after = await pg.fetch(
        "SELECT * FROM rollup_movie_day WHERE movie_id = ANY($1) ORDER BY movie_id, day",
        catalogue.movie_ids,
    )
    assert after == before and before
    async with api_client(settings) as client:
        await check_top_movies(client, pg, settings, days)


async def test_an_etag_follows_from_as_of_and_gives_a_304(settings, pg, served):
    catalogue, _ = served
    async with api_client(settings) as client:
        first = await client.get("/api/top_movies", params=whole_range(catalogue))
        again = await client.get(
            "/api/top_movies", params=whole_range(catalogue),
            headers={"If-None-Match": first.headers["etag"]},
        )  # fmt: skip
        other = await client.get(
            "/api/top_movies", params={**whole_range(catalogue), "limit": 3},
            headers={"If-None-Match": first.headers["etag"]},
        )  # fmt: skip
    assert first.status_code == 200 and "as_of" in first.json()
    assert first.headers["cache-control"] == f"max-age={settings.serving_cache_seconds}"
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert other.status_code == 200


async def test_a_moved_model_is_answered_at_once_then_refreshed(settings, pg, served, unique):
    """When the stream commits, the kept answer is served at once, saying its own as_of, while
    one refresh runs behind it; the next answers are the new model's."""
    catalogue, facts = served
    stream, days = f"serving-{unique}", whole_range(catalogue)
    record_batch = (
        "INSERT INTO spark_batches (stream, batch_id, events, unparsed, max_received_at) "
        "VALUES ($1, $2, 1, 0, $3)"
    )
    # Past any promotion the other tests made: as_of is the later of the stream's and theirs.
    first_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    await pg.execute(record_batch, stream, 0, first_at)
    try:
        async with api_client(settings, spark_checkpoint_dir=stream, serving_cache_seconds=60,
                              serving_stale_seconds=60) as client:  # fmt: skip
            first = await client.get("/api/top_movies", params=days)
            await insert_facts(pg, more_views(facts))
            await pg.execute(record_batch, stream, 1, first_at + timedelta(seconds=5))
            await asyncio.sleep(1.1)  # as_of is read at most once a second
            kept = await client.get("/api/top_movies", params=days)
            not_modified = await client.get(
                "/api/top_movies", params=days, headers={"If-None-Match": first.headers["etag"]}
            )
            refreshed = await eventually_as_of(client, days, first_at + timedelta(seconds=5))
            await check_top_movies(client, pg, settings, days)
    finally:
        await pg.execute("DELETE FROM spark_batches WHERE stream = $1", stream)
    assert (
        first.json()["as_of"] == kept.json()["as_of"] == first_at.isoformat().replace("+00:00", "Z")
    )
    assert kept.content == first.content and kept.headers["etag"] == first.headers["etag"]
    assert not_modified.status_code == 304
    assert refreshed.headers["etag"] != first.headers["etag"]
    assert refreshed.json()["items"] != first.json()["items"]


def more_views(facts: list[tuple]) -> list[tuple]:
    """Copies of the first facts under new ids: more views of their movies."""
    return [(uuid.uuid4(), *fact[1:]) for fact in facts[:100]]


async def eventually_as_of(client, params: dict[str, str], as_of: datetime):
    for _ in range(50):
        response = await client.get("/api/top_movies", params=params)
        if response.json()["as_of"] == as_of.isoformat().replace("+00:00", "Z"):
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"never answered for as_of {as_of}")


async def test_an_unknown_user_is_a_404_problem(settings):
    async with api_client(settings) as client:
        response = await client.get("/api/user_stats/nobody-ever-seen-7f3a")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["parameter"] == "user_id"


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/top_movies", {"colour": "red"}, "colour"),
        ("/api/top_movies", {"since": "2026-13-01"}, "since"),
        ("/api/top_movies", {"until": "yesterday"}, "until"),
        ("/api/top_movies", {"since": "2026-02-02", "until": "2026-02-01"}, "since"),
        ("/api/top_movies", {"since": "2000-01-01", "until": "2026-01-01"}, "until"),
        ("/api/top_movies", {"limit": "0"}, "limit"),
        ("/api/top_movies", {"limit": "101"}, "limit"),
        ("/api/top_movies", {"limit": "ten"}, "limit"),
        ("/api/top_movies", {"metric": "revenue"}, "metric"),
        ("/api/top_movies", {"genre": "No Such Genre At All"}, "genre"),
        ("/api/emotion_trends", {"granularity": "hour"}, "granularity"),
        ("/api/emotion_trends", {"movie_id": "-3"}, "movie_id"),
        ("/api/emotion_trends", {"movie_id": str(2**64)}, "movie_id"),
        ("/api/user_stats/someone", {"limit": "3"}, "limit"),
    ],
)
async def test_bad_parameters_are_422_problems_naming_the_parameter(
    settings, path, params, parameter
):
    async with api_client(settings) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["parameter"] == parameter
    assert problem["status"] == 422 and problem["type"] and problem["title"] and problem["detail"]


async def test_a_parameter_given_twice_is_refused(settings):
    async with api_client(settings) as client:
        response = await client.get("/api/top_movies?limit=3&limit=4")
    assert response.status_code == 422
    assert response.json()["parameter"] == "limit"


SQL_SHAPED = ["'; DROP TABLE fact_user_event; --", "1 OR 1=1", "views; SELECT pg_sleep(10)",
              "\"movie_id\"", "2026-01-01' --", "$1", "\\x00"]  # fmt: skip


@pytest.mark.parametrize("value", SQL_SHAPED)
async def test_sql_shaped_values_are_answered_like_any_bad_value(settings, pg, value):
    async with api_client(settings) as client:
        for path, name in [
            ("/api/top_movies", "since"), ("/api/top_movies", "until"),
            ("/api/top_movies", "metric"), ("/api/top_movies", "limit"),
            ("/api/top_movies", "genre"), ("/api/emotion_trends", "granularity"),
            ("/api/emotion_trends", "movie_id"), ("/api/emotion_trends", "genre"),
        ]:  # fmt: skip
            response = await client.get(path, params={name: value})
            assert response.status_code == 422, (path, name, response.text)
            assert response.json()["parameter"] == name
        response = await client.get(f"/api/user_stats/{value}")
        assert response.status_code in (404, 422)
    assert await pg.fetchval("SELECT to_regclass('fact_user_event') IS NOT NULL")


PARAMETER_NAMES = st.sampled_from(
    ["since", "until", "metric", "genre", "limit", "offset", "granularity", "movie_id", "x"]
)


async def answer_status(settings, path: str, params: dict[str, str]) -> tuple[int, str]:
    async with api_client(settings) as client:
        response = await client.get(path, params=params)
    return response.status_code, response.text


@hypothesis_settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(
    path=st.sampled_from(["/api/top_movies", "/api/emotion_trends", "/api/user_stats/u-1"]),
    params=st.dictionaries(PARAMETER_NAMES, st.text(max_size=40), max_size=4),
)
def test_fuzzed_parameters_never_give_a_5xx(settings, path, params):
    status, text = asyncio.run(answer_status(settings, path, params))
    assert status < 500, (params, text)


@hypothesis_settings(max_examples=60, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(user_id=st.text(min_size=1, max_size=200))
def test_fuzzed_user_ids_never_give_a_5xx(settings, user_id):
    path = f"/api/user_stats/{quote(user_id, safe='')}"
    status, text = asyncio.run(answer_status(settings, path, {}))
    assert status < 500, (user_id, text)


async def test_a_store_that_is_down_gives_a_503_with_retry_after(settings):
    away = settings.model_copy(update={"database_url": "postgresql://movies@127.0.0.1:9/movies"})
    async with api_client(away) as client:
        response = await client.get("/api/top_movies")
        health = await client.get("/health")
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.json()["type"] == "/problems/unavailable"
    assert "127.0.0.1" not in response.text
    assert health.status_code == 200


async def test_a_store_that_never_answers_gives_a_503_within_the_timeout(settings):
    silent = socket.socket()  # accepts connections and says nothing
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    hung = settings.model_copy(
        update={
            "database_url": f"postgresql://movies@127.0.0.1:{port}/movies",
            "serving_timeout_seconds": 0.5,
        }
    )
    try:
        async with api_client(hung) as client:
            async with asyncio.timeout(3):
                response = await client.get("/api/emotion_trends")
    finally:
        silent.close()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_every_endpoint_is_documented_with_an_example(settings):
    async with api_client(settings) as client:
        document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    for path, model in [
        ("/api/top_movies", "TopMovies"),
        ("/api/user_stats/{user_id}", "UserStats"),
        ("/api/emotion_trends", "EmotionTrends"),
    ]:
        answer = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert answer["application/json"]["schema"]["$ref"].endswith(model)
        assert schemas[model]["example"]
        assert "422" in document["paths"][path]["get"]["responses"]


async def test_rebuild_rollups_restores_them_from_the_facts(settings, pg, served):
    catalogue, _ = served
    last = catalogue.first_day + timedelta(days=13)
    rows = "SELECT * FROM rollup_movie_day WHERE movie_id = ANY($1) ORDER BY movie_id, day"
    counted = await pg.fetch(rows, catalogue.movie_ids)
    await pg.execute(
        "UPDATE rollup_movie_day SET views = views + 1000 WHERE movie_id = ANY($1)",
        catalogue.movie_ids,
    )
    await pg.execute("DELETE FROM rollup_user_day WHERE user_id = $1", catalogue.users[0])

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.jobs", "rebuild-rollups",
         "--since", catalogue.first_day.isoformat(), "--until", last.isoformat()],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "rebuild-rollups: 14 days rebuilt" in result.stdout
    assert "days [" in result.stderr and "14/14" in result.stderr  # the progress bar
    assert await pg.fetch(rows, catalogue.movie_ids) == counted
    async with api_client(settings) as client:
        await check_user_stats(client, pg, catalogue.users[0], catalogue.first_day, last)
