"""The Segment routes through create_app with an in-memory publisher: no Kafka, no stores."""

from __future__ import annotations

import base64
import gzip
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from app.segment.messages import MESSAGE_ID_NAMESPACE
from app.topics import SEGMENT_TOPIC, USER_TOPICS
from tests.fakes import InMemoryPublisher
from tests.unit.test_ingest_route import client_of

WRITE_KEY = "wk_test_write_key_of_these_tests"
SOURCES = {"web": WRITE_KEY}
BASIC = {"authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
async def client(publisher: InMemoryPublisher) -> AsyncIterator[httpx.AsyncClient]:
    keys = orjson.dumps(SOURCES).decode()
    async with client_of(
        publisher, segment_write_keys=keys, cors_origins="https://app.example"
    ) as http:
        yield http


def now_text(shift: timedelta = timedelta()) -> str:
    return (datetime.now(UTC) + shift).isoformat()


def track(name: str, properties: dict[str, object], **fields: object) -> dict[str, object]:
    return {
        "type": "track", "event": name, "userId": "ana", "messageId": str(uuid.uuid4()),
        "timestamp": now_text(), "properties": properties, **fields,
    }  # fmt: skip


def published(publisher: InMemoryPublisher, topic: str) -> list[dict[str, object]]:
    return [orjson.loads(m.value) for m in publisher.events if m.topic == topic]


async def test_mapped_tracks_become_events_of_their_types(client, publisher):
    watch = track("Video Playback Paused", {"movie_id": "603", "position": 42, "total_length": 90},
                  context={"page": {"url": "https://app.example/m/603"}, "locale": "fr-FR",
                           "userAgent": "Mozilla/5.0 (the browser)"})  # fmt: skip
    click = track("Element Clicked", {"element": "play", "target": "/m/603"})
    comment = track("Comment Posted", {"movie_id": 603, "text": "Superbe", "rating": 9})

    response = await client.post("/v1/batch", json={"batch": [watch, click, comment]},
                                 headers=BASIC)  # fmt: skip

    assert response.status_code == 200 and response.json() == {"success": True}
    [stored_watch] = published(publisher, USER_TOPICS["watch"])
    assert stored_watch["event_id"] == watch["messageId"]
    assert stored_watch["movie_id"] == 603
    assert stored_watch["payload"] == {"action": "pause", "position_seconds": 42,
                                       "duration_seconds": 90}  # fmt: skip
    assert stored_watch["context"] == {
        "page": "https://app.example/m/603", "locale": "fr-FR", "source": "web",
        "client_timestamp": watch["timestamp"], "user_agent": "Mozilla/5.0 (the browser)",
    }  # fmt: skip
    [stored_click] = published(publisher, USER_TOPICS["click"])
    assert stored_click["payload"] == {"element": "play", "target": "/m/603"}
    [stored_comment] = published(publisher, USER_TOPICS["comment"])
    assert stored_comment["payload"] == {"text": "Superbe", "rating": 9}
    [receipt] = publisher.receipts
    assert sorted(entry[0] for entry in orjson.loads(receipt.value)) == sorted(
        m["messageId"] for m in (watch, click, comment)
    )


async def test_messages_not_modelled_are_kept_raw_and_receipted(client, publisher):
    page = {"type": "page", "name": "Home", "anonymousId": "anon-1", "messageId": "ajs-next-1-x",
            "properties": {"path": "/"}, "writeKey": WRITE_KEY}  # fmt: skip
    identify = {"type": "identify", "userId": "ana", "traits": {"email": "ana@example.com"}}
    unmapped = track("Signed Up", {"plan": "free"})
    invalid = track("Video Playback Started", {"position": 0})  # no movie: the events refuse it

    response = await client.post("/v1/b", content=orjson.dumps(
        {"batch": [page, identify, unmapped, invalid], "writeKey": WRITE_KEY}),
        headers={"content-type": "text/plain"})  # fmt: skip

    assert response.status_code == 200
    kept = published(publisher, SEGMENT_TOPIC)
    assert [k["kind"] for k in kept] == ["page", "identify", "track", "track"]
    assert kept[0]["user_id"] == "anon-1" and kept[0]["event_type"] == "segment"
    assert kept[0]["event_id"] == str(
        uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{WRITE_KEY}\najs-next-1-x")
    )
    assert "writeKey" not in orjson.loads(kept[0]["message"])  # no key kept with the data
    assert orjson.loads(kept[1]["message"])["traits"] == {"email": "ana@example.com"}
    assert kept[3]["reason"] == "movie_id: required for watch events"
    assert not published(publisher, USER_TOPICS["watch"])
    [receipt] = publisher.receipts
    assert {entry[1] for entry in orjson.loads(receipt.value)} == {"segment"}


async def test_a_retried_batch_carries_the_same_event_ids(client, publisher):
    batch = {"batch": [{"type": "page", "userId": "ana", "messageId": "node-next-1-abc"},
                       {"type": "page", "userId": "ana", "name": "no id"}]}  # fmt: skip
    for _ in range(2):
        assert (await client.post("/v1/batch", json=batch, headers=BASIC)).status_code == 200
    ids = [k["event_id"] for k in published(publisher, SEGMENT_TOPIC)]
    assert ids[:2] == ids[2:] and len(set(ids)) == 2


async def test_the_clock_of_a_client_an_hour_off_is_corrected_by_its_sent_at(client, publisher):
    skewed = timedelta(hours=1)  # the client's clock runs an hour fast
    message = track("Element Clicked", {"element": "play"},
                    timestamp=now_text(skewed - timedelta(seconds=30)))  # fmt: skip

    response = await client.post("/v1/batch", headers=BASIC,
                                 json={"batch": [message], "sentAt": now_text(skewed)})  # fmt: skip

    assert response.status_code == 200
    [click] = published(publisher, USER_TOPICS["click"])
    occurred_at = datetime.fromisoformat(click["occurred_at"])
    expected = datetime.fromisoformat(click["received_at"]) - timedelta(seconds=30)
    assert abs(occurred_at - expected) < timedelta(seconds=2)
    assert click["context"]["client_timestamp"] == message["timestamp"]


async def test_without_sent_at_an_hour_ahead_is_too_far_in_the_future_and_kept_raw(
    client, publisher
):
    message = track("Element Clicked", {"element": "play"}, timestamp=now_text(timedelta(hours=1)))
    assert (await client.post("/v1/track", json=message, headers=BASIC)).status_code == 200
    [kept] = published(publisher, SEGMENT_TOPIC)
    assert kept["reason"] == "occurred_at: is too far in the future"


@pytest.mark.parametrize(
    "headers, query, body_key, status",
    [
        (BASIC, "", None, 200),
        ({}, "", WRITE_KEY, 200),
        ({}, f"?writeKey={WRITE_KEY}", None, 200),
        ({"authorization": "Basic " + base64.b64encode(b"wrong-key-wrong-key:").decode()}, "",
         WRITE_KEY, 401),
    ],
    ids=["basic auth", "the body", "the query", "a wrong basic key before a right body key"],
)  # fmt: skip
async def test_the_write_key_comes_from_basic_auth_the_body_or_the_query(
    client, publisher, headers, query, body_key, status
):
    batch: dict[str, object] = {"batch": [{"type": "page", "userId": "ana"}]}
    if body_key:
        batch["writeKey"] = body_key
    response = await client.post(f"/beacon/v1/batch{query}", headers=headers,
                                 content=orjson.dumps(batch))  # fmt: skip
    assert response.status_code == status
    assert len(published(publisher, SEGMENT_TOPIC)) == (1 if status == 200 else 0)


async def test_an_unknown_write_key_is_401_with_a_code(client, publisher):
    response = await client.post("/v1/batch", json={"batch": [], "writeKey": "not-a-known-key"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert not publisher.messages


async def test_malformed_messages_are_named_and_the_others_taken(client, publisher):
    batch = [{"userId": "ana"}, {"type": "track", "event": "Signed Up"}, "text",
             {"type": "page", "userId": "ana", "timestamp": "yesterday"},
             {"type": "page", "userId": "ana"}]  # fmt: skip
    response = await client.post("/v1/batch", json={"batch": batch}, headers=BASIC)

    assert response.status_code == 200
    assert [(m["index"], m["field"]) for m in response.json()["malformed"]] == [
        (0, "type (required)"), (1, "userId"), (2, ""), (3, "timestamp")
    ]  # fmt: skip
    assert len(published(publisher, SEGMENT_TOPIC)) == 1


async def test_an_oversized_message_is_400_and_the_rest_of_its_batch_is_taken(client, publisher):
    big = track("Comment Posted", {"movie_id": 1, "text": "x" * 33_000})
    small = track("Element Clicked", {"element": "play"})
    response = await client.post("/v1/batch", json={"batch": [big, small]}, headers=BASIC)
    assert response.status_code == 400
    assert response.json()["code"] == "message_too_large"
    assert [e["event_id"] for e in published(publisher, USER_TOPICS["click"])] == [
        small["messageId"]
    ]


@pytest.mark.parametrize(
    "path, body, code",
    [
        ("/v1/batch", b"{not json", "invalid_json"),
        ("/v1/batch", orjson.dumps({"batch": [{"type": "page", "userId": "a",
                                               "properties": {"p": "x" * 30_000}}] * 18}),
         "request_too_large"),
        ("/v1/track", orjson.dumps({"userId": "a", "properties": {"p": "x" * 33_000}}),
         "request_too_large"),
        ("/v1/batch", b'{"batch": {}}', "invalid_request"),
    ],
    ids=["not json", "a batch over 500 KB", "a single message over 32 KB", "batch not a list"],
)  # fmt: skip
async def test_bodies_segment_refuses_are_400(client, publisher, path, body, code):
    response = await client.post(path, content=body, headers=BASIC)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not publisher.messages


async def test_a_gzipped_batch_is_taken(client, publisher):
    body = gzip.compress(orjson.dumps({"batch": [{"type": "page", "userId": "ana"}]}))
    headers = {**BASIC, "content-encoding": "gzip", "content-type": "application/json"}
    assert (await client.post("/v1/batch", content=body, headers=headers)).status_code == 200
    assert len(published(publisher, SEGMENT_TOPIC)) == 1


async def test_kafka_unavailable_is_503_with_retry_after(client, publisher):
    publisher.unavailable = True
    response = await client.post("/v1/batch", headers=BASIC,
                                 json={"batch": [{"type": "page", "userId": "ana"}]})  # fmt: skip
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["code"] == "unavailable"


async def test_the_browser_sdk_preflight_may_send_its_headers(client):
    response = await client.options("/v1/t", headers={
        "origin": "https://app.example", "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-retry-count",
    })  # fmt: skip
    assert response.status_code == 200
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "x-retry-count"} <= set(allowed.split(", "))


async def test_the_canary_user_is_refused_as_malformed(client, publisher):
    batch = {"batch": [{"type": "page", "userId": "pipeline-canary"}]}
    response = await client.post("/v1/batch", json=batch, headers=BASIC)
    assert response.json()["malformed"][0]["field"] == "userId"
    assert not publisher.messages


async def test_what_the_routes_take_counts_in_ingests_own_counters(client, publisher):
    def sample(name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = {
        "page kept": sample("segment_messages_total", {"kind": "page", "outcome": "kept_raw"}),
        "click": sample("events_accepted_total", {"event_type": "click"}),
        "segment": sample("events_accepted_total", {"event_type": "segment"}),
        "malformed": sample("events_rejected_total", {"reason": "segment_malformed"}),
    }
    batch = [track("Element Clicked", {"element": "play"}), {"type": "page", "userId": "ana"},
             {"type": "page"}]  # fmt: skip
    assert (await client.post("/v1/batch", json={"batch": batch}, headers=BASIC)).status_code == 200
    page_kept = {"kind": "page", "outcome": "kept_raw"}
    assert sample("segment_messages_total", page_kept) == before["page kept"] + 1
    assert sample("events_accepted_total", {"event_type": "click"}) == before["click"] + 1
    assert sample("events_accepted_total", {"event_type": "segment"}) == before["segment"] + 1
    assert (
        sample("events_rejected_total", {"reason": "segment_malformed"}) == before["malformed"] + 1
    )
