"""The ingest lane: `/events` is served ahead of FastAPI's middleware and routing, yet keeps
CORS, the method check and its place in OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import ClassVar

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.ingest_lane import is_ingest
from app.bootstrap import build_resources
from app.config import Settings
from app.main import Service, create_app
from tests.fakes import InMemoryPublisher

NOWHERE = {  # nothing listens there: a test that reached a real store would fail
    "kafka_bootstrap_servers": "127.0.0.1:9",
    "mongo_url": "mongodb://127.0.0.1:9/",
    "database_url": "postgresql://nobody@127.0.0.1:9/none",
    "auth_hs256_secret": "a-secret-of-these-tests-alone-32-chars",
}
ORIGIN = "https://app.example"


class PathRecorder:
    """A middleware that notes the path of every request it is handed."""

    seen: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            PathRecorder.seen.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
async def service() -> AsyncIterator[tuple[Service, httpx.AsyncClient, InMemoryPublisher]]:
    publisher = InMemoryPublisher()
    settings = Settings(_env_file=None, cors_origins=ORIGIN, **NOWHERE)
    app = create_app(resources=build_resources(settings, publisher=publisher))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield app, client, publisher


def click(user_id: str) -> dict[str, object]:
    return {
        "event_type": "click",
        "user_id": user_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"element": "play"},
    }


async def test_events_are_taken_before_the_framework_middleware_and_other_paths_are_not(service):
    app, client, publisher = service
    PathRecorder.seen = []
    app.add_middleware(PathRecorder)

    posted = await client.post("/events", json=click("ana"))
    health = await client.get("/health")

    assert (posted.status_code, health.status_code) == (202, 200)
    assert len(publisher.events) == 1
    assert PathRecorder.seen == ["/health"]


async def test_another_method_on_events_is_refused_with_405_naming_post(service):
    _app, client, publisher = service

    response = await client.get("/events")

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert publisher.events == []


@pytest.mark.parametrize(("origin", "allowed"), [(ORIGIN, True), ("https://evil.example", False)])
async def test_an_answer_is_readable_by_the_configured_origin_only(service, origin, allowed):
    _app, client, _publisher = service

    response = await client.post("/events", json=click("bo"), headers={"origin": origin})

    assert response.status_code == 202
    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)
    if allowed:
        exposed = response.headers["access-control-expose-headers"]
        assert exposed == "Retry-After, RateLimit, RateLimit-Policy"


async def test_openapi_declares_post_events_with_its_answers(service):
    app, _client, _publisher = service

    post = app.openapi()["paths"]["/events"]["post"]

    assert set(post["responses"]) >= {"202", "400", "408", "413", "415", "422", "503"}
    assert post["operationId"] == "ingest_events_events_post"


@pytest.mark.parametrize(
    ("path", "root_path", "taken"),
    [
        ("/events", "", True),
        ("/pipeline/events", "/pipeline", True),
        ("/events/schema", "", False),
        ("/events/", "", False),
        ("/pipeline/events", "", False),
    ],
)
def test_the_lane_takes_the_path_routing_would_give_to_events(path, root_path, taken):
    assert is_ingest({"type": "http", "path": path, "root_path": root_path}) is taken


@pytest.mark.parametrize("path", ["/events", "/api/top_movies"])
async def test_a_429_is_readable_by_a_page_on_the_allowed_origin(path):
    """Fair use sits inside CORS, on the lane and on the routes alike: a tracker on another
    origin can read how long to wait."""
    limits = {"rate_limit_ingest": "1/minute", "rate_limit_read": "1/minute"}
    settings = Settings(_env_file=None, cors_origins=ORIGIN, **NOWHERE, **limits)
    app = create_app(resources=build_resources(settings, publisher=InMemoryPublisher()))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        headers = {"origin": ORIGIN}
        for _ in range(2):
            answer = await (
                client.post(path, json=click("ana"), headers=headers)
                if path == "/events"
                else client.get(path, headers=headers)
            )
    assert answer.status_code == 429
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    assert "Retry-After" in answer.headers["access-control-expose-headers"]
    assert answer.headers["retry-after"]
