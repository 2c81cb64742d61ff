"""`/ready` asks each dependency for real and names the one that is down."""

from __future__ import annotations

import asyncio

import httpx

from app.config import Settings
from app.main import create_app
from tests.support import dependency_states, get_ready, ops_url


async def test_ready_when_everything_is_up(settings):
    response = await get_ready(settings)
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert dependency_states(response) == {"kafka": "up", "mongo": "up", "postgres": "up"}
    spark = response.json()["spark"]
    assert spark["lag_messages"] >= 0 and isinstance(spark["lagging"], bool)


async def test_ready_names_an_unreachable_dependency(settings):
    # A PostgreSQL address where nothing listens: the service must say which dependency failed.
    elsewhere = settings.model_copy(update={"database_url": "postgresql://movies@127.0.0.1:9/x"})
    response = await get_ready(elsewhere)
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert dependency_states(response) == {"kafka": "up", "mongo": "up", "postgres": "down"}
    assert response.json()["dependencies"]["postgres"]["detail"]


async def test_health_needs_no_dependency():
    settings = Settings(
        _env_file=None, kafka_bootstrap_servers="127.0.0.1:9", auth_hs256_secret="x" * 32
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_the_public_listener_tells_readiness_and_nothing_else(settings):
    quiet = settings.model_copy(update={"run_consumers": False, "run_scheduler": False})
    app = create_app(quiet)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as public,
        httpx.AsyncClient(transport=transport, base_url=ops_url(quiet)) as ops,
    ):
        bare, detailed = await public.get("/ready"), await ops.get("/ready")
    assert bare.status_code == detailed.status_code == 200
    assert bare.json() == {"status": "ready"}
    assert set(detailed.json()) >= {"status", "dependencies", "spark"}


async def test_a_down_dependency_is_named_without_its_address(settings):
    elsewhere = settings.model_copy(update={"database_url": "postgresql://movies@127.0.0.1:9/x"})
    response = await get_ready(elsewhere)
    assert response.status_code == 503
    assert "127.0.0.1" not in response.text and ":9" not in response.text
    assert response.json()["dependencies"]["postgres"]["detail"] == "refused or failed"


async def test_a_flood_of_ready_calls_costs_postgres_no_more_connections(settings, pg):
    quiet = settings.model_copy(update={"run_consumers": False, "run_scheduler": False})
    app = create_app(quiet)
    transport = httpx.ASGITransport(app=app)
    backends = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    before = await pg.fetchval(backends)
    peak = before

    async def watch(stop: asyncio.Event) -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, await pg.fetchval(backends))
            await asyncio.sleep(0.01)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=ops_url(settings)) as client,
    ):
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        for _ in range(3):
            answers = await asyncio.gather(*(client.get("/ready") for _ in range(200)))
            assert {answer.status_code for answer in answers} == {200}
        stop.set()
        await watcher
    assert peak - before <= 2, f"{peak - before} more PostgreSQL backends during the flood"
