"""Freshness: how long after `POST /events` answers its event's fact row is visible.

The service (`python -m app`, scheduler off, consumers on) and the stream (`python -m app.jobs
spark`, a processing-time trigger, a fresh checkpoint starting at the topics' current ends) run
as subprocesses. Once both are up (the service healthy with its consumers caught up, the stream
past warm-up events), single events are posted at a steady rate, open loop, and
`fact_user_event` is polled by event_id until every row is there.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

from app.config import Settings
from app.consumers.groups import EVENT_TOPICS, GROUPS
from app.simulation.traffic import TrafficModel, generate_events
from bench.model_data import consumer_lag, fresh_traffic, starting_offsets_now
from bench.processes import BackgroundProcess, free_port, python_module, service_listeners

POLL_SECONDS = 0.1
WARMUP_EVENTS = 20
DRAIN_LIMIT_SECONDS = 1800
# The service's consumers of the user topics, whose backlog is drained before measuring.
CONSUMER_GROUPS = [name for name, group in GROUPS.items() if group.topics == EVENT_TOPICS]
JSON = {"content-type": "application/json"}


@dataclass
class Sample:
    sent_at: float  # wall-clock seconds, comparable with PostgreSQL's now()
    answered_at: float
    visible_at: float | None = None  # start of the first poll that saw the row
    processed_at: float | None = None  # fact_user_event.processed_at: when its insert began


@dataclass
class Tracker:
    """Posted events by id, and a poller marking when each one's fact row shows up."""

    samples: dict[str, Sample] = field(default_factory=dict)

    def pending(self) -> list[str]:
        return [event_id for event_id, s in self.samples.items() if s.visible_at is None]

    async def poll_once(self, connection: asyncpg.Connection) -> None:
        if not (pending := self.pending()):
            return
        started = time.time()
        rows = await connection.fetch(
            "SELECT event_id::text, processed_at FROM fact_user_event "
            "WHERE event_id = ANY($1::uuid[])",
            pending,
        )
        for row in rows:
            sample = self.samples[row["event_id"]]
            sample.visible_at, sample.processed_at = started, row["processed_at"].timestamp()


def client_events(traffic: TrafficModel, seed: int) -> Iterator[dict[str, Any]]:
    return generate_events(random.Random(seed), lambda: datetime.now(UTC), traffic)


async def post_one(client: httpx.AsyncClient, event: dict[str, Any], tracker: Tracker) -> None:
    sent_at = time.time()
    response = await client.post("/events", content=orjson.dumps(event), headers=JSON)
    answered_at = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.text}")
    event_id = response.json()["accepted"][0]["event_id"]
    tracker.samples[event_id] = Sample(sent_at, answered_at)


async def post_steadily(
    client: httpx.AsyncClient, events: Iterator[dict[str, Any]], rate: float, count: int,
    tracker: Tracker,
) -> None:  # fmt: skip
    """Open loop: the n-th POST starts at n / rate seconds, whether or not earlier ones answered."""
    started = time.perf_counter()
    async with asyncio.TaskGroup() as posts:
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
            posts.create_task(post_one(client, next(events), tracker))


async def wait_until_visible(
    connection: asyncpg.Connection, tracker: Tracker, processes: list[BackgroundProcess],
    limit_seconds: float,
) -> None:  # fmt: skip
    async with asyncio.timeout(limit_seconds):
        while tracker.pending():
            for process in processes:
                process.check_running()
            await tracker.poll_once(connection)
            await asyncio.sleep(POLL_SECONDS)


async def poll_while(
    connection: asyncpg.Connection, tracker: Tracker, sending: asyncio.Task[None]
) -> None:
    while not sending.done():
        await tracker.poll_once(connection)
        await asyncio.sleep(POLL_SECONDS)


async def wait_until_healthy(client: httpx.AsyncClient, service: BackgroundProcess) -> None:
    async with asyncio.timeout(60):
        while True:
            service.check_running()
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


async def wait_for_consumers(settings: Settings, service: BackgroundProcess) -> float:
    """Let the service's consumers drain a backlog (an earlier bench's events) before measuring."""
    started = time.perf_counter()
    async with asyncio.timeout(DRAIN_LIMIT_SECONDS):
        while (lag := await consumer_lag(settings, CONSUMER_GROUPS)) > 100:
            service.check_running()
            print(f"waiting for the service's consumers: {lag} records behind", file=sys.stderr)
            await asyncio.sleep(10)
    return time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_latencies(title: str, rows: list[tuple[str, list[float]]]) -> None:
    width = max(len(what) for what, _ in rows)
    print(f"\n{title}\n")
    print(f"| {'what':<{width}} | events | p50 s | p95 s | max s | mean s |")
    print(f"|{'-' * (width + 2)}|-------:|------:|------:|------:|-------:|")
    for what, values in rows:
        print(
            f"| {what:<{width}} | {len(values):>6} | {percentile(values, 0.5):>5.2f} "
            f"| {percentile(values, 0.95):>5.2f} | {max(values):>5.2f} "
            f"| {statistics.fmean(values):>6.2f} |"
        )


async def micro_batches(connection: asyncpg.Connection, checkpoint: Path, since: float) -> str:
    rows = await connection.fetch(
        "SELECT events, extract(epoch FROM processed_at) AS at FROM spark_batches "
        "WHERE stream = $1 AND processed_at >= to_timestamp($2) ORDER BY batch_id",
        str(checkpoint),
        since,
    )
    if len(rows) < 2:
        return f"{len(rows)} micro-batch(es) while measuring"
    period = (float(rows[-1]["at"]) - float(rows[0]["at"])) / (len(rows) - 1)
    per_batch = statistics.fmean(row["events"] for row in rows)
    return (
        f"{len(rows)} micro-batches while measuring: one committed every {period:.2f} s "
        f"on average, {per_batch:.1f} events each"
    )


def report(args: argparse.Namespace, tracker: Tracker, notes: list[str]) -> None:
    samples = list(tracker.samples.values())
    title = (
        f"Freshness: Spark stream, processing-time trigger {args.trigger_seconds:g} s, "
        f"{args.rate:g} single-event POSTs/s for {args.seconds:g} s "
        f"(fact_user_event polled every {POLL_SECONDS} s)"
    )
    print_latencies(title, [
        ("fact row visible - POST answered", [s.visible_at - s.answered_at for s in samples]),
        ("fact processed_at (insert began) - POST answered",
         [s.processed_at - s.answered_at for s in samples]),
        ("POST /events round trip", [s.answered_at - s.sent_at for s in samples]),
    ])  # fmt: skip
    print("\n" + "; ".join(notes))


async def freshness(args: argparse.Namespace) -> None:
    settings, traffic, port = Settings(), fresh_traffic(args.users), free_port()
    events = client_events(traffic, args.seed)
    offsets = await starting_offsets_now(settings)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fresh-")))
        service_env = {**service_listeners(port), "RUN_SCHEDULER": "false"}
        service = stack.enter_context(
            BackgroundProcess("the service", python_module("app"), service_env)
        )
        checkpoint = scratch / "checkpoint"
        stream_env = {"SPARK_CHECKPOINT_DIR": str(checkpoint), "SPARK_STARTING_OFFSETS": offsets,
                      "SPARK_TRIGGER_SECONDS": str(args.trigger_seconds)}  # fmt: skip
        stream = stack.enter_context(
            BackgroundProcess("the Spark stream", python_module("app.jobs", "spark"), stream_env)
        )
        connection = await asyncpg.connect(settings.database_url)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_until_healthy(client, service)
                drained = await wait_for_consumers(settings, service)
                warmup = Tracker()
                await post_steadily(client, events, 5.0, WARMUP_EVENTS, warmup)
                await wait_until_visible(connection, warmup, [service, stream], 300)
                print("service and stream are up; measuring", file=sys.stderr)
                tracker, measuring_since = Tracker(), time.time()
                count = round(args.rate * args.seconds)
                sending = asyncio.create_task(
                    post_steadily(client, events, args.rate, count, tracker)
                )
                await poll_while(connection, tracker, sending)
                await sending
                await wait_until_visible(connection, tracker, [service, stream], 120)
                batches = await micro_batches(connection, checkpoint, measuring_since)
        finally:
            await connection.close()
        stream.stop()
        service.stop()
        memory = (
            f"peak RSS: Spark stream's tree {stream.peak_rss_mib:.0f} MiB, "
            f"the service's {service.peak_rss_mib:.0f} MiB"
        )
    report(args, tracker, [batches, memory, f"consumers' backlog drained in {drained:.0f} s"])
