"""Ingest: `POST /events` through the real app against a bare idempotent aiokafka producer.

The app runs in process under uvicorn on a free port (consumers off) and is driven over real
HTTP by `--concurrency` clients; the bare producer sends the same events, validated and
serialized beforehand, to the same topics with the same keys. Those are scratch copies of the
user topics, deleted afterwards: consumers of the real ones would stage every bench event.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.config import USER_TOPICS, Settings
from app.ingest.accept import outgoing_message
from app.ingest.events import AcceptedEvent, EventLimits, validate_event
from app.main import create_app
from app.producers.kafka import OutgoingMessage
from bench.common import (
    Measurement,
    bench_parser,
    chunks,
    client_events,
    concurrently,
    print_table,
    timed,
)
from jobs.rules import load_rules

BATCH_SIZE = 100
WARMUP_EVENTS = 200  # connections, metadata and the lazily started producer, untimed
JSON = {"content-type": "application/json"}


def as_messages(events: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """What our ingest would publish for these events: same topic, key and serialization."""
    received_at, limits = datetime.now(UTC), EventLimits.from_rules(load_rules())
    return [
        outgoing_message(AcceptedEvent(index, validate_event(event, received_at, "bench", limits)))
        for index, event in enumerate(events)
    ]


async def send_all(producer: AIOKafkaProducer, messages: Sequence[OutgoingMessage]) -> None:
    deliveries = [await producer.send(m.topic, m.value, key=m.key) for m in messages]
    await asyncio.gather(*deliveries)


async def bare_producer(
    settings: Settings, events: list[dict[str, Any]], concurrency: int
) -> list[Measurement]:
    """All messages in flight at once (the baseline), then in awaited groups like requests."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        await send_all(producer, as_messages(events[:WARMUP_EVENTS]))
        messages = as_messages(events[WARMUP_EVENTS:])
        groups = list(chunks(messages, BATCH_SIZE))
        return [
            await timed(
                "bare aiokafka producer, idempotent, all in flight",
                len(messages),
                lambda: send_all(producer, messages),
            ),
            await timed(
                f"bare producer, {BATCH_SIZE} awaited at a time, {concurrency} at once",
                len(messages),
                lambda: concurrently(groups, concurrency, lambda group: send_all(producer, group)),
            ),
        ]
    finally:
        await producer.stop()


@asynccontextmanager
async def scratch_topics(settings: Settings) -> AsyncIterator[None]:
    """Route the user topics to fresh ones shaped like them, for as long as the bench runs."""
    suffix = uuid.uuid4().hex[:10]
    scratch = {kind: f"bench_{topic}_{suffix}" for kind, topic in USER_TOPICS.items()}
    partitions, replicas = settings.kafka_topic_partitions, settings.kafka_replication_factor
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    real = dict(USER_TOPICS)
    try:
        await admin.create_topics(
            [NewTopic(name, partitions, replicas) for name in scratch.values()]
        )
        try:
            USER_TOPICS.update(scratch)  # the very dict the ingest route reads its topics from
            yield
        finally:
            USER_TOPICS.update(real)
            await admin.delete_topics(list(scratch.values()))
    finally:
        await admin.close()


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app under uvicorn on a free port, and an HTTP client pointed at it."""
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on such sockets, and
    # without it Nagle and delayed ACKs add ~40 ms to every response.
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        while not server.started:
            if serving.done():
                await serving  # raises why it could not start
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await serving


async def post_all(client: httpx.AsyncClient, bodies: list[bytes], concurrency: int) -> None:
    """Each body in one request, `concurrency` at a time; any refusal spoils the run."""

    async def post(body: bytes) -> None:
        response = await client.post("/events", content=body, headers=JSON)
        if response.status_code != 202 or response.json()["rejected"]:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text}")

    await concurrently(bodies, concurrency, post)


async def through_the_app(
    settings: Settings, events: list[dict[str, Any]], concurrency: int
) -> list[Measurement]:
    warmup, timed_events = events[:WARMUP_EVENTS], events[WARMUP_EVENTS:]
    batched = [orjson.dumps(batch) for batch in chunks(timed_events, BATCH_SIZE)]
    single = [orjson.dumps(event) for event in timed_events]
    async with running_service(settings) as client:
        await post_all(client, [orjson.dumps(batch) for batch in chunks(warmup, 10)], concurrency)
        return [
            await timed(
                f"POST /events, batches of {BATCH_SIZE}, {concurrency} clients",
                len(timed_events),
                lambda: post_all(client, batched, concurrency),
            ),
            await timed(
                f"POST /events, one event each, {concurrency} clients",
                len(timed_events),
                lambda: post_all(client, single, concurrency),
            ),
        ]


async def main() -> None:
    parser = bench_parser(__doc__.split("\n")[0], default_events=5000)
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP clients at once")
    args = parser.parse_args()
    settings = Settings(run_consumers=False, run_scheduler=False)  # the ingest path alone
    events = client_events(args.events + WARMUP_EVENTS, args.seed)
    async with scratch_topics(settings):
        bare = await bare_producer(settings, events, args.concurrency)
        ours = await through_the_app(settings, events, args.concurrency)
    title = f"Ingest into Kafka ({settings.kafka_bootstrap_servers}, scratch copies of the topics)"
    print_table(title, [*bare, *ours])


if __name__ == "__main__":
    asyncio.run(main())
