"""`POST /events` through create_app with an in-memory publisher: no Kafka, no stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from app.bootstrap import build_resources
from app.config import Settings
from app.main import create_app
from tests.fakes import InMemoryPublisher

NOWHERE = {  # nothing listens there: a test that reached a real store would fail
    "kafka_bootstrap_servers": "127.0.0.1:9",
    "mongo_url": "mongodb://127.0.0.1:9/",
    "database_url": "postgresql://nobody@127.0.0.1:9/none",
    "auth_hs256_secret": "a-secret-of-these-tests-alone-32-chars",
}


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@asynccontextmanager
async def client_of(
    publisher: InMemoryPublisher, **settings: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The service on these settings (its stores nowhere) and this publisher, in process."""
    configured = Settings(
        _env_file=None, run_consumers=False, run_scheduler=False, **NOWHERE, **settings
    )
    app = create_app(resources=build_resources(configured, publisher=publisher))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield http


@pytest.fixture
async def client(publisher: InMemoryPublisher) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(publisher) as http:
        yield http


def comment(user_id: str, **overrides: object) -> dict[str, object]:
    return {
        "event_type": "comment",
        "user_id": user_id,
        "movie_id": 550,
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"text": "Loved it", "rating": 9},
        **overrides,
    }


async def test_accepted_events_are_published_to_their_topic_keyed_by_user(client, publisher):
    event_id = str(uuid.uuid4())
    batch = [comment("ana", event_id=event_id), {"event_type": "click", "user_id": "bo"}]

    response = await client.post("/events", json=batch, headers={"user-agent": "tests"})

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == [{"index": 0, "event_id": event_id}]
    assert [r["index"] for r in body["rejected"]] == [1]
    [message] = publisher.events
    assert (message.topic, message.key) == ("user_comment_log", b"ana")
    stored = orjson.loads(message.value)
    assert stored["event_id"] == event_id
    assert stored["context"] == {"user_agent": "tests"}
    assert stored["payload"] == {"text": "Loved it", "rating": 9}
    [receipt] = publisher.receipts  # after the events, naming only the accepted one
    assert publisher.messages.index(receipt) > publisher.messages.index(message)
    assert orjson.loads(receipt.value) == [
        [event_id, "comment", stored["received_at"], "ana", stored["occurred_at"]]
    ]


async def test_the_canarys_user_is_reserved(client, publisher):
    response = await client.post("/events", json=comment("pipeline-canary"))

    assert response.status_code == 422
    [rejected] = response.json()["rejected"]
    assert (rejected["field"], rejected["reason"]) == (
        "user_id",
        "is reserved for the pipeline's canary",
    )
    assert publisher.messages == []


async def test_the_rules_validity_window_decides_what_is_too_old(client, publisher):
    eight_days_ago = (datetime.now(UTC) - timedelta(days=8)).isoformat()

    response = await client.post("/events", json=comment("ana", occurred_at=eight_days_ago))

    assert response.status_code == 422
    [rejected] = response.json()["rejected"]
    assert rejected["field"] == "occurred_at"
    assert rejected["reason"] == "is older than 7 days"
    assert publisher.events == []


async def test_a_publisher_that_cannot_store_makes_a_503_and_no_202(client, publisher):
    publisher.unavailable = True

    response = await client.post("/events", json=comment("ana"))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert publisher.events == []


async def test_a_beacon_body_is_read_as_json(client, publisher):
    body = orjson.dumps({"events": [comment("cy")]})

    response = await client.post(
        "/events", content=body, headers={"content-type": "text/plain;charset=UTF-8"}
    )

    assert response.status_code == 202
    assert len(publisher.events) == 1


async def test_the_lifespan_closes_what_the_root_built(publisher):
    settings = Settings(_env_file=None, run_consumers=False, run_scheduler=False, **NOWHERE)
    app = create_app(resources=build_resources(settings, publisher=publisher))
    async with app.router.lifespan_context(app):
        assert not publisher.closed
    assert publisher.closed


async def test_a_client_that_goes_away_mid_upload_gets_a_4xx_not_a_crash(publisher):
    settings = Settings(_env_file=None, run_consumers=False, run_scheduler=False, **NOWHERE)
    app = create_app(resources=build_resources(settings, publisher=publisher))
    incoming = [
        {"type": "http.request", "body": b'[{"event_type": "cli', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return incoming.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/events", "raw_path": b"/events", "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    [start] = [message for message in sent if message["type"] == "http.response.start"]
    assert start["status"] == 400
    assert publisher.events == []
