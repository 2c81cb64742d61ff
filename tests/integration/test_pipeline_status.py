"""`GET /status` on the real stack: what the page at `/` shows, and what it says when a store
is down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from app.config import FallbackMode, Settings
from app.consumers.groups import GROUPS
from app.main import create_app
from app.model import queries
from tests.event_factory import new_event
from tests.support import ops_url


@asynccontextmanager
async def service(settings: Settings, refresh_seconds: float) -> AsyncIterator[httpx.AsyncClient]:
    quiet = settings.model_copy(
        update={
            "run_consumers": False,
            "run_scheduler": False,
            "status_refresh_seconds": refresh_seconds,
        }
    )
    app = create_app(quiet)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=ops_url(quiet)) as client,
    ):
        yield client


async def get_status(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/status")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    return response.json()


async def test_status_counts_this_services_events_and_reads_the_stores(settings, pg, unique):
    # The latest run to end, by an hour: then the status must report this one.
    run_id = await pg.fetchval(
        "INSERT INTO tmdb_sync_runs (kind, started_at, finished_at, status, movies_fetched, "
        "movies_changed) VALUES ('changes', now(), now() + interval '1 hour', 'succeeded', $1, 3) "
        "RETURNING run_id",
        4242,
    )
    try:
        after, before = await post_and_read_status(settings, unique)
    finally:
        await pg.execute("DELETE FROM tmdb_sync_runs WHERE run_id = $1", run_id)

    assert after["unavailable"] == []
    assert after["ingest"]["accepted"] - before["ingest"]["accepted"] == 2
    rejected = {
        reason: count - before["ingest"]["rejected"].get(reason, 0)
        for reason, count in after["ingest"]["rejected"].items()
    }
    assert sum(rejected.values()) == 1
    assert after["ingest"]["accepted_per_second"] > 0
    assert before["ingest"]["accepted_per_second"] is None  # no interval yet

    assert set(after["consumer_lag"]) == set(GROUPS)
    # Nothing consumes in this test, so the staging group is behind by at least our two.
    assert after["consumer_lag"]["postgres-staging"] >= 2

    assert after["catalogue"]["movies_fetched"] == 4242
    assert after["catalogue"]["kind"] == "changes"
    movies = "SELECT count(*) FROM dim_movie WHERE NOT is_placeholder AND NOT is_gone"
    assert after["catalogue"]["movies"] == await pg.fetchval(movies)

    waiting = await queries.count_awaiting_promotion(pg, None, None)
    assert after["fallback"]["awaiting_promotion"] == waiting
    assert after["fallback"]["mode"] in {mode.value for mode in FallbackMode}
    assert after["spark"]["lag_messages"] >= 0


async def post_and_read_status(
    settings: Settings, unique: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status after two accepted events and one rejected, and the one before them."""
    async with service(settings, refresh_seconds=0.2) as client:
        before = await get_status(client)
        user = f"status-{unique}"
        events = [new_event("watch", user), new_event("click", user)]
        too_long = {**new_event("click", user), "element": "x" * 100_000}
        response = await client.post(
            "/events", content=orjson.dumps([*events, too_long]),
            headers={"content-type": "application/json"},
        )  # fmt: skip
        assert response.status_code == 202
        await asyncio.sleep(0.3)
        return await get_status(client), before


async def test_callers_within_the_interval_share_one_reading(settings):
    async with service(settings, refresh_seconds=60) as client:
        readings = await asyncio.gather(*(get_status(client) for _ in range(20)))
    assert len({reading["measured_at"] for reading in readings}) == 1


async def test_with_postgres_down_the_status_says_so_and_keeps_the_rest(settings):
    elsewhere = settings.model_copy(update={"database_url": "postgresql://movies@127.0.0.1:9/x"})
    async with service(elsewhere, refresh_seconds=0.2) as client:
        status = await get_status(client)
    assert status["unavailable"] == ["postgres"]
    assert status["fallback"] is None and status["catalogue"] is None and status["spark"] is None
    assert set(status["consumer_lag"]) == set(GROUPS)
    assert status["ingest"]["accepted"] >= 0
