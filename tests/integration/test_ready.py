"""`/ready` asks each dependency for real and names the one that is down."""

from __future__ import annotations

import httpx

from app.config import Settings
from app.main import create_app
from tests.support import dependency_states, get_ready


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
    settings = Settings(_env_file=None, kafka_bootstrap_servers="127.0.0.1:9")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
