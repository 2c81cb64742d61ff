"""Ingest: `POST /events` on `python -m app`, driven by wrk, against bare baselines of the run.

The service runs as users run it, in a process of its own with its consumers on (they share
its cores, as they do in production); wrk loads it from another process. Two baselines, from
the same run:
- batched ingest against a bare idempotent aiokafka producer sending the same events, validated
  and serialized beforehand, all in flight, to the same topics with the same keys (a further
  row sends them as the service does, in record batches per partition, for comparison);
- single events at 64 connections against `GET /health` of the same server.
- the same batches as Segment messages on `POST /v1/batch` (write key in Basic auth, message ids
  new in every request, as an SDK's are) against the `POST /events` row.
Each set of rows runs once per `--workers` count (API_WORKERS), 1 and 2 by default.
The events go to the real user topics, from users named `bench-user-*`, and so to the stores.
"""

from __future__ import annotations

import asyncio
import base64
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from app.config import Settings
from app.ingest.accept import outgoing_message
from app.ingest.events import AcceptedEvent, EventLimits, Receipt, validate_and_encode
from app.producers.batching import BatchedSends
from app.producers.kafka import remembering_partitioner
from app.producers.messages import OutgoingMessage
from bench.common import bench_parser, client_events, timed
from bench.model_freshness import wait_until_healthy
from bench.processes import BackgroundProcess, free_port, python_module, service_listeners
from bench.wrk import (
    ID_MARKER,
    Load,
    lua_posting,
    lua_posting_renamed,
    lua_rotating,
    require_wrk,
    run_wrk,
    with_client_ids,
)
from jobs.rules import load_rules

BATCH_SIZE = 100
WARMUP_SECONDS = 2
ROUNDS = 3  # of the batched rows, taken in turns; each row shows its median round
WRITE_KEY = "wk_bench_write_key_of_this_run"
VIDEO_EVENTS = {
    "start": "Video Playback Started",
    "progress": "Video Content Playing",
    "pause": "Video Playback Paused",
    "complete": "Video Playback Completed",
}


@dataclass(frozen=True)
class Row:
    what: str
    unit: str  # events/s or req/s
    rate: float
    p99_ms: float | None
    baseline: str | None  # the row this one is a ratio of


def as_messages(events: list[dict[str, Any]]) -> list[OutgoingMessage]:
    """What our ingest would publish for these events: same topic, key and serialization."""
    limits = EventLimits.from_rules(load_rules())
    receipt = Receipt.of(datetime.now(UTC), "bench", limits)
    return [
        outgoing_message(AcceptedEvent(index, *validate_and_encode(event, receipt)))
        for index, event in enumerate(events)
    ]


async def bare_producer(
    settings: Settings, events: list[dict[str, Any]], in_batches: bool
) -> float:
    """Events/s of an idempotent producer with every message in flight at once, sent one by
    one with `send()`, or `in_batches` as the service sends them."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    batched = BatchedSends(producer, remembering_partitioner)
    try:
        warmup, messages = as_messages(events[:1000]), as_messages(events[1000:])

        async def send_all(batch: list[OutgoingMessage]) -> None:
            if in_batches:
                await batched.send_all(batch)
                return
            deliveries = [await producer.send(m.topic, m.value, key=m.key) for m in batch]
            await asyncio.gather(*deliveries)

        await send_all(warmup)
        measured = await timed("bare producer", len(messages), lambda: send_all(messages))
    finally:
        await producer.stop()
    return measured.events_per_second


def segment_message(event: dict[str, Any], number: int) -> dict[str, Any]:
    """The event as a Segment SDK sends it, mapped back by the rules of transform_rules.json."""
    payload, context = event["payload"], event.get("context", {})
    if event["event_type"] == "watch":
        name = VIDEO_EVENTS[payload["action"]]
        properties = {"movie_id": event["movie_id"], "position": payload["position_seconds"],
                      "total_length": payload.get("duration_seconds")}  # fmt: skip
    elif event["event_type"] == "click":
        name, properties = "Element Clicked", {"element": payload["element"],
                                               "target": payload.get("target")}  # fmt: skip
    else:
        name = "Comment Posted"
        properties = {"movie_id": event["movie_id"], "text": payload["text"],
                      "rating": payload.get("rating")}  # fmt: skip
    return {
        "type": "track", "event": name, "userId": event["user_id"],
        "messageId": f"bench-{ID_MARKER}-{number:05d}", "timestamp": event["occurred_at"],
        "properties": properties,
        "context": {"page": {"url": context.get("page"), "referrer": context.get("referrer")},
                    "locale": context.get("locale"), "library": {"name": "bench"}},
    }  # fmt: skip


def segment_batch(events: list[dict[str, Any]]) -> bytes:
    messages = [segment_message(event, number) for number, event in enumerate(events)]
    return orjson.dumps({"batch": messages, "sentAt": datetime.now(UTC).isoformat()})


def posting_renamed(
    base: str, path: str, body: bytes, headers: dict[str, str], seconds: int, connections: int,
    folder: Path,
) -> Load:  # fmt: skip
    body_file = folder / f"renamed-{path.strip('/').replace('/', '-')}.json"
    body_file.write_bytes(body)
    script = lua_posting_renamed(path, body_file, headers, ID_MARKER)
    run_wrk(base, script, WARMUP_SECONDS, connections)
    return run_wrk(base, script, seconds, connections)


def posting(base: str, body: bytes, seconds: int, connections: int, folder: Path) -> Load:
    body_file = folder / f"body-{len(body)}.json"
    body_file.write_bytes(body)
    script = lua_posting("/events", body_file, "application/json")
    run_wrk(base, script, WARMUP_SECONDS, connections)
    return run_wrk(base, script, seconds, connections)


async def through_the_service(
    events: list[dict[str, Any]],
    seconds: int,
    batch_connections: int,
    consumers: bool,
    workers: int,
) -> tuple[Load, Load, Load, Load]:
    """Batches of 100 on /events and /v1/batch, then /health and single events at 64
    connections, on one service."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Bench events must not start fallback runs: the health check is off.
    env = {**service_listeners(port), "LOG_LEVEL": "WARNING", "SPARK_HEALTH_CRON": "0 0 1 1 *",
           "RUN_CONSUMERS": str(consumers).lower(), "API_WORKERS": str(workers),
           "SEGMENT_WRITE_KEYS": orjson.dumps({"bench": WRITE_KEY}).decode()}  # fmt: skip
    with (
        BackgroundProcess("service", python_module("app"), env) as service,
        tempfile.TemporaryDirectory() as folder,
    ):
        async with httpx.AsyncClient(base_url=base) as client:
            await wait_until_healthy(client, service)
        json_type = {"Content-Type": "application/json"}
        basic = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        segment_headers = {**json_type, "Authorization": f"Basic {basic}"}
        here = Path(folder)
        batch = with_client_ids(events[:BATCH_SIZE])
        segment_body = segment_batch(events[:BATCH_SIZE])
        # In turns, so that a neighbour's load or the consumers' backlog weighs on both alike.
        batched_runs, segment_runs = [], []
        for _ in range(ROUNDS):
            for runs, path, body, headers in (
                (batched_runs, "/events", batch, json_type),
                (segment_runs, "/v1/batch", segment_body, segment_headers),
            ):
                load = posting_renamed(base, path, body, headers, seconds, batch_connections, here)
                runs.append(load)
        batched, segment = median_load(batched_runs), median_load(segment_runs)
        health_script = lua_rotating(["/health"])
        run_wrk(base, health_script, WARMUP_SECONDS, 64)
        health = run_wrk(base, health_script, seconds, 64)
        single = posting(base, orjson.dumps(events[0]), seconds, 64, Path(folder))
        service.check_running()
    for load in (batched, segment, single, health):
        if load.failed:
            raise SystemExit(f"{load.failed} requests were refused: the figures are void")
    return batched, segment, health, single


def median_load(loads: list[Load]) -> Load:
    ranked = sorted(loads, key=lambda load: load.requests_per_second)
    middle = ranked[len(ranked) // 2]
    return replace(middle, failed=sum(load.failed for load in loads))


def print_rows(title: str, rows: list[Row]) -> None:
    rates = {row.what: row.rate for row in rows}
    print(f"\n{title}\n")
    print("| what | rate | p99 ms | ratio |")
    print("|---|---:|---:|---:|")
    for row in rows:
        ratio = row.rate / rates[row.baseline] if row.baseline else 1.0
        p99 = f"{row.p99_ms:.1f}" if row.p99_ms is not None else ""
        print(f"| {row.what} | {row.rate:,.0f} {row.unit} | {p99} | {ratio:.2f} |")


async def main() -> None:
    parser = bench_parser(__doc__.split("\n")[0], default_events=20_000)
    parser.add_argument("--seconds", type=int, default=10, help="of load per row")
    parser.add_argument("--connections", type=int, default=8, help="for the batched rows")
    parser.add_argument(
        "--without-consumers", action="store_true", help="the ingest path alone, consumers off"
    )
    parser.add_argument(
        "--workers", default="1,2", help="API_WORKERS of each set of rows, comma-separated"
    )
    args = parser.parse_args()
    require_wrk()
    settings = Settings()
    events = client_events(args.events + 1000, args.seed)
    consumers = not args.without_consumers
    producer = "bare aiokafka producer, idempotent, all in flight"
    rows = []
    for workers in (int(count) for count in args.workers.split(",")):
        batched, segment, health, single = await through_the_service(
            events, args.seconds, args.connections, consumers, workers
        )
        on = f"{workers} worker{'s' if workers > 1 else ''}"
        health_row = f"GET /health, wrk -c64, {on}"
        events_row = f"POST /events, batches of {BATCH_SIZE}, wrk -c{args.connections}, {on}"
        rows += [
            Row(events_row, "events/s", batched.requests_per_second * BATCH_SIZE,
                batched.p99_ms, producer),
            Row(f"POST /v1/batch, the same as Segment tracks, wrk -c{args.connections}, {on}",
                "events/s", segment.requests_per_second * BATCH_SIZE, segment.p99_ms,
                events_row),
            Row(health_row, "req/s", health.requests_per_second, health.p99_ms, None),
            Row(f"POST /events, one event per request, wrk -c64, {on}", "req/s",
                single.requests_per_second, single.p99_ms, health_row),
        ]  # fmt: skip
    # Last, on a broker the service rows have warmed up, as they found it.
    rows.insert(
        0, Row(producer, "events/s", await bare_producer(settings, events, False), None, None)
    )
    batches = (
        "bare aiokafka producer, idempotent, record batches per partition as the service sends"
    )
    rows.insert(
        1, Row(batches, "events/s", await bare_producer(settings, events, True), None, producer)
    )
    how = "with its consumers" if consumers else "consumers off"
    print_rows(f"Ingest, python -m app {how}, wrk -t2 -d{args.seconds}s", rows)


if __name__ == "__main__":
    asyncio.run(main())
