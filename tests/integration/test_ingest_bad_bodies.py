"""POST /events with bad bodies, through the real app and Kafka: a clear 4xx, never a 5xx."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from hypothesis import settings

from app.config import Settings
from app.main import create_app
from app.topics import USER_TOPICS

JSON = "application/json"
BEACON = "text/plain;charset=UTF-8"  # what navigator.sendBeacon sends for a string body
FUZZ = settings(max_examples=300, deadline=None, database=None)  # database: write no files


def click(user_id: str = "user-1", **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    event = {"event_type": "click", "user_id": user_id, "occurred_at": now.isoformat()}
    return {**event, "payload": {"element": "play"}, **overrides}


def raw(document: object) -> bytes:
    return orjson.dumps(document)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(run_consumers=False, cors_origins="https://app.example"))
    # raise_app_exceptions=False: a crash shows up as the 500 a real client would get.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield http


async def post(client: httpx.AsyncClient, body: bytes, **headers: str) -> httpx.Response:
    return await client.post("/events", content=body, headers={"content-type": JSON, **headers})


def problem(response: httpx.Response) -> tuple[str, str]:
    """(field, reason) of a refused request, or of the only event of a refused batch."""
    document = response.json()
    if "detail" in document:
        return document["detail"]["field"], document["detail"]["reason"]
    assert document["accepted"] == []
    [rejected] = document["rejected"]
    assert rejected["index"] == 0
    return rejected["field"], rejected["reason"]


def without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name != key}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


XML, GZIP = {"content-type": "application/xml"}, {"content-encoding": "gzip"}
BOMB = gzip.compress(bytes(50 << 20), compresslevel=9)  # 50 MB of zeros in ~50 kB
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC).isoformat()
FAR_AHEAD = (datetime.now(UTC) + timedelta(days=365)).isoformat()
BAD_BODIES = [
    # (id, body, extra headers, status, field, words of the reason)
    ("malformed-json", b'{"user_id": "u",', {}, 400, "body", "not valid JSON"),
    ("invalid-utf8", b'{"user_id": "\xc3\x28"}', {}, 400, "body", "not valid JSON"),
    ("nan", raw(click())[:-1] + b', "x": NaN}', {}, 400, "body", "not valid JSON"),
    ("raw-nul-byte", b'{"user_id": "a\x00b"}', {}, 400, "body", "not valid JSON"),
    ("nested-past-json-limit", nested(5000), {}, 400, "body", "not valid JSON"),
    ("oversize-body", b" " * (1 << 20) + b"{}", {}, 413, "body", "larger than"),
    ("gzip-bomb", BOMB, GZIP, 413, "body", "inflates to more"),
    ("not-gzip", raw(click()), GZIP, 400, "body", "invalid gzip"),
    ("xml", raw(click()), XML, 415, "content-type", "use application/json or text/plain"),
    ("no-type", raw(click()), {"content-type": ""}, 415, "content-type", "not ''"),
    ("brotli", raw(click()), {"content-encoding": "br"}, 415, "content-encoding", "gzip"),
    ("scalar", b"42", {}, 422, "body", "an event"),
    ("empty-batch", b"[]", {}, 422, "body", "no event"),
    ("too-many", raw([click()] * 501), {}, 413, "events", "more than 500"),
    ("movie_id-string", raw(click(movie_id="7")), {}, 422, "movie_id", "valid integer"),
    ("user_id-number", raw(click(user_id=7)), {}, 422, "user_id", "valid string"),
    ("missing-user_id", raw(without(click(), "user_id")), {}, 422, "user_id", "Field required"),
    ("missing-payload", raw(without(click(), "payload")), {}, 422, "payload", "Field required"),
    ("long-user_id", raw(click("u" * 129)), {}, 422, "user_id", "at most 128"),
    ("nul-escape", raw(click("a\x00b")), {}, 422, "user_id", "NUL character"),
    ("ancient", raw(click(occurred_at=LONG_AGO)), {}, 422, "occurred_at", "older than 7"),
    ("far-future", raw(click(occurred_at=FAR_AHEAD)), {}, 422, "occurred_at", "future"),
    ("no-timezone", raw(click(occurred_at="2025-01-01T00:00:00")), {}, 422, "occurred_at", "time"),
    ("year-1-offset", raw(click(occurred_at="0001-01-01T00:00+01:00")), {}, 422, "occurred_at", ""),
    ("nested-in-event", raw(click())[:-1] + b',"x":' + nested(1000) + b"}", {}, 422, "x", "Extra"),
]


@pytest.mark.parametrize("case", BAD_BODIES, ids=lambda case: case[0])
async def test_bad_body_gets_a_clear_4xx(client: httpx.AsyncClient, case: tuple) -> None:
    _, body, headers, status, field, reason_words = case

    response = await post(client, body, **headers)

    assert response.status_code == status, response.text
    assert problem(response)[0] == field
    assert reason_words in problem(response)[1]


async def test_batch_without_a_valid_event_is_422_with_detail_by_index(
    client: httpx.AsyncClient,
) -> None:
    batch = [click(movie_id=True), "click", click(payload={"element": ""})]

    response = await post(client, raw({"events": batch}))

    assert response.status_code == 422
    rejected = response.json()["rejected"]
    expected = [(0, "movie_id"), (1, ""), (2, "payload.element")]
    assert [(r["index"], r["field"]) for r in rejected] == expected
    assert all(r["reason"] for r in rejected)
    assert response.json()["accepted"] == []


async def test_mixed_batch_is_202_and_only_valid_events_reach_kafka(
    client: httpx.AsyncClient, unique: str
) -> None:
    user, given_id = f"mixed-{unique}", str(uuid.uuid4())
    batch = [click(user), click(user, movie_id="x"), click(user, event_id=given_id), None]
    async with tail(USER_TOPICS["click"]) as consumer:
        response = await post(client, raw(batch))
        assert response.status_code == 202, response.text
        accepted = response.json()["accepted"]
        # Kafka acknowledged before the 202, so the end offsets now include the batch.
        published = [e for e in await read_to_end(consumer) if e["user_id"] == user]

    assert [a["index"] for a in accepted] == [0, 2]
    assert accepted[1]["event_id"] == given_id
    rejected = [(r["index"], r["field"]) for r in response.json()["rejected"]]
    assert rejected == [(1, "movie_id"), (3, "")]
    assert [e["event_id"] for e in published] == [a["event_id"] for a in accepted]


@pytest.mark.parametrize("content_type", [BEACON, "text/plain"])
async def test_text_plain_beacon_body_is_accepted(
    client: httpx.AsyncClient, content_type: str, unique: str
) -> None:
    headers = {"content-type": content_type}
    response = await post(client, raw([click(f"beacon-{unique}")]), **headers)

    assert response.status_code == 202, response.text
    assert [a["index"] for a in response.json()["accepted"]] == [0]


@pytest.mark.parametrize(
    ("origin", "allowed"), [("https://app.example", True), ("https://evil.example", False)]
)
async def test_cors_preflight_allows_only_the_configured_origin(
    client: httpx.AsyncClient, origin: str, allowed: bool
) -> None:
    asking = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    response = await client.options("/events", headers={"origin": origin, **asking})

    assert response.status_code == (200 if allowed else 400)
    assert response.headers.get("access-control-allow-origin") == (origin if allowed else None)


@asynccontextmanager
async def tail(topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer of every partition of `topic` (no group), positioned at its current end."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=Settings().kafka_bootstrap_servers)
    await consumer.start()
    try:
        await consumer.seek_to_end()
        for partition in consumer.assignment():  # pin the start before anything is posted
            await consumer.position(partition)
        yield consumer
    finally:
        await consumer.stop()


async def read_to_end(consumer: AIOKafkaConsumer) -> list[dict[str, Any]]:
    """Every record published since `tail` began, up to the end offsets as of now."""
    ends = await consumer.end_offsets(list(consumer.assignment()))
    values: list[dict[str, Any]] = []
    async with asyncio.timeout(15):
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batches = await consumer.getmany(timeout_ms=500)
            values += [orjson.loads(r.value) for records in batches.values() for r in records]
    return values


async def test_the_event_json_schema_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/events/schema")
    assert response.status_code == 200
    schema = response.json()
    assert {"event_type", "user_id", "occurred_at", "payload"} <= set(schema["required"])
    assert len(schema["properties"]["payload"]["oneOf"]) == 3
