"""Segment's own SDKs against the service, as installed by `make test-sdks`:
segment-analytics-python 2.3 (the write key in the body only), 2.4 (Basic auth) and
analytics-node. Each SDK's tracks land once in the backup, staging and the model as the events
they map to; its pages and identifies are kept raw in the backup only; every message is
receipted and backed up once. A batch whose answer is lost after Kafka took it is sent again by
the SDK and still lands once; a client clock an hour fast is corrected by the SDK's `sentAt`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import asyncpg
import httpx
import pytest
from pymongo import AsyncMongoClient

from app.config import Settings
from app.segment.messages import MESSAGE_ID_NAMESPACE
from app.topics import KEPT_RAW_TYPE
from tests.e2e.audit_support import until
from tests.e2e.model_support import run_job
from tests.support import REPO_ROOT, ServiceProcess

SOURCE = "sdk-tests"
WRITE_KEY = f"wk_sdk_tests_{uuid.uuid4().hex}"
SDK_DIR = REPO_ROOT / "tests" / "sdk"
SDK_COMMANDS = {
    "python-2.3": (str(REPO_ROOT / ".sdk/python-2.3/bin/python"), str(SDK_DIR / "send_python.py")),
    "python-2.4": (str(REPO_ROOT / ".sdk/python-2.4/bin/python"), str(SDK_DIR / "send_python.py")),
    "node": ("node", str(SDK_DIR / "node" / "send.mjs")),
}
SDK_INSTALLED = {
    "python-2.3": REPO_ROOT / ".sdk/python-2.3/.installed",
    "python-2.4": REPO_ROOT / ".sdk/python-2.4/.installed",
    "node": SDK_DIR / "node/node_modules/.installed",
}
SDKS = tuple(SDK_COMMANDS)
MOVIE = 603
LENGTH = 5400.0
WATCH_ACTIONS = {
    "Video Playback Started": "start",
    "Video Content Playing": "progress",
    "Video Playback Paused": "pause",
    "Video Playback Completed": "complete",
}
PAGE_URL = f"https://app.example/movie/{MOVIE}"
FACT_CHECKED = (
    "event_id::text, event_type, user_id, movie_id, watch_action, position_seconds, "
    "duration_seconds, click_element, click_target, page, locale, rating, is_valid"
)


@pytest.fixture(scope="module")
def service(own_mongo_database: str) -> Iterator[ServiceProcess]:
    """`python -m app` with its consumers and one Segment source, shared by the module."""
    process = ServiceProcess(SEGMENT_WRITE_KEYS=json.dumps({SOURCE: WRITE_KEY}))
    process.start()
    yield process
    process.stop()


# What the tests send, and how the SDKs send it.


def track(user: str, event: str, properties: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"method": "track", "user_id": user, "event": event, "properties": properties,
            **fields}  # fmt: skip


def journey(user: str) -> list[dict[str, Any]]:
    """A viewer's visit as a backend reports it: a film watched to its end, a click, a comment,
    a page view before signing in and the sign-in's identify."""
    video = {"movie_id": str(MOVIE), "total_length": LENGTH}  # a digit string, as players send
    return [
        track(user, "Video Playback Started", {**video, "position": 0}),
        track(user, "Video Content Playing", {**video, "movie_id": MOVIE, "position": 60.5}),
        track(user, "Video Playback Paused", {**video, "position": 125}),
        track(user, "Video Playback Completed", {**video, "position": LENGTH}),
        track(user, "Element Clicked", {"element": "trailer-button", "target": "/trailer"},
              context={"page": {"url": PAGE_URL}, "locale": "de-DE"}),
        track(user, "Comment Posted", {"movie_id": MOVIE, "text": "Gripping to the very end",
                                       "rating": 8.5}),
        {"method": "page", "anonymous_id": f"{user}-anonymous", "name": "Movie",
         "properties": {"path": f"/movie/{MOVIE}"}},
        {"method": "identify", "user_id": user, "traits": {"plan": "premium"}},
    ]  # fmt: skip


async def send_with(sdk: str, host: str, calls: list[dict[str, Any]], **options: Any) -> dict:
    """The SDK's driver in a process of its own, as a backend runs the SDK; its result."""
    assert SDK_INSTALLED[sdk].exists(), f"{sdk} is not installed: run `make test-sdks`"
    plan = {"host": host, "write_key": WRITE_KEY, "max_retries": 3, "calls": calls, **options}
    process = await asyncio.create_subprocess_exec(
        *SDK_COMMANDS[sdk], cwd=REPO_ROOT, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate(json.dumps(plan).encode())
    finally:
        if process.returncode is None:  # timed out: no driver outlives its test
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()[-3000:]
    return json.loads(out)


def event_id(message: dict[str, Any]) -> str:
    """The event id the service gives a message: its messageId when that is a UUID (Python's),
    else a UUIDv5 of the write key and the id (analytics-node's `node-next-…`)."""
    try:
        return str(uuid.UUID(message["messageId"]))
    except ValueError:
        return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, f"{WRITE_KEY}\n{message['messageId']}"))


def message_user(message: dict[str, Any]) -> str:
    return message.get("userId") or message["anonymousId"]


def expected_event(message: dict[str, Any]) -> dict[str, Any] | None:
    """The event a message maps to, as staged (type, movie, payload); None: kept raw."""
    name, properties = message.get("event"), message.get("properties", {})
    if message["type"] != "track":
        return None
    if name in WATCH_ACTIONS:
        payload = {"action": WATCH_ACTIONS[name], "position_seconds": properties["position"],
                   "duration_seconds": properties["total_length"]}  # fmt: skip
        return {"event_type": "watch", "movie_id": MOVIE, "payload": payload}
    if name == "Element Clicked":
        payload = {"element": properties["element"], "target": properties["target"],
                   "page": PAGE_URL}  # fmt: skip
        return {"event_type": "click", "movie_id": None, "payload": payload}
    if name == "Comment Posted":
        payload = {"text": properties["text"], "rating": properties["rating"]}
        return {"event_type": "comment", "movie_id": MOVIE, "payload": payload}
    return None


def expected_fact(message: dict[str, Any]) -> tuple[Any, ...]:
    """The model's row of a mapped message, in FACT_CHECKED's columns."""
    event = expected_event(message)
    assert event is not None
    payload, locale = event["payload"], message.get("context", {}).get("locale")
    return (
        event_id(message), event["event_type"], message["userId"], event["movie_id"],
        payload.get("action"), payload.get("position_seconds"), payload.get("duration_seconds"),
        payload.get("element"), payload.get("target"), payload.get("page"), locale,
        payload.get("rating"), True,
    )  # fmt: skip


# The stores, read back.


async def backed_up(settings: Settings, users: list[str]) -> list[dict[str, Any]]:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        cursor = client[settings.mongo_database].user_logs.find({"user_id": {"$in": users}})
        return await cursor.to_list()
    finally:
        await client.close()


async def staged(pg: asyncpg.Connection, users: list[str]) -> list[asyncpg.Record]:
    return await pg.fetch(
        "SELECT event_id::text, event_type, user_id, movie_id, occurred_at, received_at, "
        "context, payload FROM stg_user_logs WHERE user_id = ANY($1::text[])",
        users,
    )


async def audited(pg: asyncpg.Connection, table: str, ids: list[str]) -> dict[str, str]:
    """Each of these events' type in an audit table (its key is the event id: once at most)."""
    rows = await pg.fetch(
        f"SELECT event_id::text, event_type FROM {table} WHERE event_id = ANY($1::uuid[])", ids
    )
    return {row[0]: row[1] for row in rows}


async def everywhere(settings: Settings, pg: asyncpg.Connection, sent: list[dict]) -> bool:
    """Every message in the backup and both audit tables, every mapped one staged."""
    users = sorted({message_user(m) for m in sent})
    ids = [event_id(m) for m in sent]
    mapped = sum(1 for m in sent if expected_event(m) is not None)
    return (
        len(await backed_up(settings, users)) >= len(sent)
        and len(await staged(pg, users)) >= mapped
        and len(await audited(pg, "audit.acknowledged", ids)) == len(ids)
        and len(await audited(pg, "audit.backed_up", ids)) == len(ids)
    )


async def check_landed_once(settings: Settings, pg: asyncpg.Connection, sent: list[dict]) -> None:
    """Each message once in the backup as what it is, each mapped one once in staging with its
    fields, the rest nowhere else, and each receipted and backed up once."""
    users = sorted({message_user(m) for m in sent})
    by_id = {event_id(m): m for m in sent}
    assert len(by_id) == len(sent), "one event per message"
    mapped = {i: m for i, m in by_id.items() if expected_event(m) is not None}

    documents = await backed_up(settings, users)
    assert sorted(d["_id"] for d in documents) == sorted(by_id)
    for document in documents:
        message = by_id[document["_id"]]
        assert document["user_id"] == message_user(message)
        if (event := expected_event(message)) is None:
            assert document["event_type"] == KEPT_RAW_TYPE
            assert (document["kind"], document["name"]) == (message["type"], message.get("name"))
            assert document["source"] == SOURCE
            kept = json.loads(document["message"])
            assert kept["messageId"] == message["messageId"] and "writeKey" not in kept
        else:
            assert document["event_type"] == event["event_type"]
            assert document["movie_id"] == event["movie_id"]
            assert document["payload"] == event["payload"]
            assert document["context"]["source"] == SOURCE

    rows = await staged(pg, users)
    assert sorted(row["event_id"] for row in rows) == sorted(mapped)
    for row in rows:
        message = mapped[row["event_id"]]
        event = expected_event(message)
        assert event is not None
        assert (row["event_type"], row["user_id"], row["movie_id"]) == (
            event["event_type"], message["userId"], event["movie_id"]
        )  # fmt: skip
        assert json.loads(row["payload"]) == event["payload"]
        context = json.loads(row["context"])
        assert context["source"] == SOURCE
        assert context["client_timestamp"] == message["timestamp"]
        assert context.get("locale") == message.get("context", {}).get("locale")

    types = {i: (expected_event(m) or {"event_type": KEPT_RAW_TYPE})["event_type"]
             for i, m in by_id.items()}  # fmt: skip
    assert await audited(pg, "audit.acknowledged", list(by_id)) == types
    assert await audited(pg, "audit.backed_up", list(by_id)) == types


# Every SDK's journey, delivered once for the module's tests.


@dataclass(frozen=True)
class Delivery:
    user: str
    sent: list[dict[str, Any]]  # the messages as the SDK built them
    errors: list[dict[str, Any]]  # what the SDK reported as failed


@pytest.fixture(scope="module")
def deliveries(service: ServiceProcess) -> dict[str, Delivery]:
    """The SDKs' journeys sent at once, awaited in the stores, then modelled by one run of the
    pandas fallback over the minutes they were received in (the cheapest model there is)."""
    started = datetime.now(UTC)
    delivered = asyncio.run(deliver_journeys(service))
    until_ = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    run_job("fallback", "--since", started.isoformat(), "--until", until_, timeout=120)
    return delivered


async def deliver_journeys(service: ServiceProcess) -> dict[str, Delivery]:
    users = {sdk: f"sdk-{sdk}-{uuid.uuid4().hex[:8]}" for sdk in SDKS}
    results = await asyncio.gather(
        *(send_with(sdk, service.base_url, journey(users[sdk])) for sdk in SDKS)
    )
    delivered = {
        sdk: Delivery(users[sdk], result["sent"], result["errors"])
        for sdk, result in zip(SDKS, results, strict=True)
    }
    settings = Settings()
    every = [message for delivery in delivered.values() for message in delivery.sent]
    pg = await asyncpg.connect(settings.database_url)
    try:
        await until(lambda: everywhere(settings, pg, every), 60, "the SDKs' messages landed")
    finally:
        await pg.close()
    return delivered


@pytest.mark.parametrize("sdk", SDKS)
async def test_an_sdks_tracks_land_once_as_events_and_the_rest_is_kept_raw(
    sdk: str, deliveries: dict[str, Delivery], settings: Settings, pg: asyncpg.Connection
) -> None:
    delivery = deliveries[sdk]
    assert delivery.errors == []
    assert len(delivery.sent) == len(journey(delivery.user))

    await check_landed_once(settings, pg, delivery.sent)

    mapped = [m for m in delivery.sent if expected_event(m) is not None]
    facts = await pg.fetch(
        f"SELECT {FACT_CHECKED} FROM fact_user_event_fallback WHERE user_id = $1 ORDER BY event_id",
        delivery.user,
    )
    assert [tuple(row) for row in facts] == sorted(expected_fact(m) for m in mapped)
    comment = next(m for m in mapped if m["event"] == "Comment Posted")
    stored = await pg.fetchrow(
        "SELECT movie_id, comment_text, rating::float FROM stg_comments WHERE event_id = $1",
        uuid.UUID(event_id(comment)),
    )
    properties = comment["properties"]
    assert tuple(stored) == (MOVIE, properties["text"], properties["rating"])


# A lost answer: the SDK sends the batch again.


@dataclass
class Attempt:
    headers: dict[str, str]
    upstream_status: int  # what the service answered; the first attempt's client got a 503


class LostFirstAnswer:
    """An HTTP proxy on loopback in front of the service: it forwards every request, but the
    client of the first POST is answered 503 with Retry-After: 1, as when the answer is lost
    on its way back after Kafka took the batch. The SDK must send it again."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.attempts: list[Attempt] = []
        self.url = ""
        self._tasks: set[asyncio.Task] = set()

    async def __aenter__(self) -> LostFirstAnswer:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        await self._client.aclose()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (request := await read_request(reader)) is not None:
                method, target, headers, body = request
                forwarded = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
                answer = await self._client.request(method, target, headers=forwarded,
                                                    content=body)  # fmt: skip
                if method == "POST":
                    self.attempts.append(Attempt(headers, answer.status_code))
                if method == "POST" and len(self.attempts) == 1:
                    lost = b'{"success":false,"code":"unavailable","message":"try again"}'
                    writer.write(http_response(503, lost, {"retry-after": "1"}))
                else:
                    writer.write(http_response(answer.status_code, answer.content))
                await writer.drain()
        except ConnectionError:
            pass  # the SDK went away
        finally:
            writer.close()
            self._tasks.discard(task)


HOP_BY_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding"}


async def read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request off a kept-alive connection; None once the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += await reader.readexactly(size)
            await reader.readline()
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return method, target, headers, body


def http_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@pytest.mark.parametrize("sdk", ["python-2.4", "node"])
async def test_a_batch_whose_answer_was_lost_is_sent_again_and_lands_once(
    sdk: str, service: ServiceProcess, settings: Settings, pg: asyncpg.Connection
) -> None:
    user = f"sdk-retry-{sdk}-{uuid.uuid4().hex[:8]}"
    calls = [c for c in journey(user) if c.get("event") != "Video Playback Paused"]

    async with LostFirstAnswer(service.base_url) as proxy:
        result = await send_with(sdk, proxy.url, calls, max_retries=3)

    assert result["errors"] == [], "the SDK's second attempt succeeded"
    assert len(proxy.attempts) >= 2
    assert proxy.attempts[0].upstream_status == 200, "the first attempt reached Kafka"
    assert all(a.headers["authorization"].startswith("Basic ") for a in proxy.attempts)
    await until(lambda: everywhere(settings, pg, result["sent"]), 30, "the messages landed")
    await check_landed_once(settings, pg, result["sent"])


# A client clock an hour fast.


async def test_a_client_clock_an_hour_fast_is_corrected_by_the_sdks_sent_at(
    service: ServiceProcess, settings: Settings, pg: asyncpg.Connection
) -> None:
    user = f"sdk-skew-{uuid.uuid4().hex[:8]}"
    click = track(user, "Element Clicked", {"element": "play", "target": "/play"}, seconds_ago=30)

    sent_from = datetime.now(UTC)
    result = await send_with("python-2.4", service.base_url, [click], clock_skew_seconds=3600)

    assert result["errors"] == []
    [message] = result["sent"]
    stamped = datetime.fromisoformat(message["timestamp"])
    assert timedelta(minutes=59) < stamped - sent_from < timedelta(minutes=60), "an hour ahead"
    await until(lambda: everywhere(settings, pg, [message]), 30, "the click was staged")
    [row] = await staged(pg, [user])
    assert abs(row["occurred_at"] - (row["received_at"] - timedelta(seconds=30))) < timedelta(
        seconds=2
    )
    assert json.loads(row["context"])["client_timestamp"] == message["timestamp"]


# Bad input at the running service: answered as Segment does, and nothing else lost.


async def test_a_batch_with_bad_messages_keeps_its_good_ones(
    service: ServiceProcess, settings: Settings, pg: asyncpg.Connection
) -> None:
    user = f"sdk-bad-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).isoformat()
    good = [
        {"type": "track", "event": "Element Clicked", "userId": user,
         "messageId": str(uuid.uuid4()), "timestamp": now,
         "properties": {"element": "play", "target": "/"},
         "context": {"page": {"url": PAGE_URL}}},
        {"type": "page", "userId": user, "messageId": str(uuid.uuid4()), "name": "Home"},
    ]  # fmt: skip
    oversized = {"type": "page", "userId": user, "properties": {"blob": "x" * 33_000}}
    untyped = {"userId": user, "messageId": str(uuid.uuid4())}
    basic = httpx.BasicAuth(WRITE_KEY, "")
    async with httpx.AsyncClient(base_url=service.base_url, auth=basic) as client:
        unknown = await client.post("/v1/batch", json={"batch": good}, auth=httpx.BasicAuth(
            "wk_not_a_source_of_ours", ""))  # fmt: skip
        not_json = await client.post("/v1/batch", content=b"{batch: [")
        too_big = await client.post("/v1/batch", json={"batch": [oversized] * 16})
        answer = await client.post("/v1/batch", json={"batch": [oversized, untyped, *good]})

    assert (unknown.status_code, unknown.json()["code"]) == (401, "invalid_write_key")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_json")
    assert (too_big.status_code, too_big.json()["code"]) == (400, "request_too_large")
    assert (answer.status_code, answer.json()["code"]) == (400, "message_too_large")
    assert [(m["index"], m["field"]) for m in answer.json()["malformed"]] == [
        (0, ""), (1, "type (required)")
    ]  # fmt: skip
    await until(lambda: everywhere(settings, pg, good), 30, "the good messages landed")
    await check_landed_once(settings, pg, good)
