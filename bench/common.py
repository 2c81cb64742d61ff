"""What every bench shares: simulated events in the form each component takes, timing, the table.

Each bench runs our component and a bare baseline in the same process on the same data and
prints one table; ratio is a row's throughput over the baseline's (the first row).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

import orjson

from app.consumers.records import DecodedEvent, SourceRecord
from app.ingest.events import EventLimits, validate_event
from app.simulation.traffic import TrafficModel, generate_events
from app.topics import USER_TOPICS
from jobs.rules import load_rules

T = TypeVar("T")
BENCH_USERS = TrafficModel(user_prefix="bench-user")  # bench rows are easy to tell apart


@dataclass(frozen=True)
class Measurement:
    what: str
    events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


def bench_parser(description: str, default_events: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=default_events, help="events per run")
    parser.add_argument("--seed", type=int, default=1, help="of the simulated traffic")
    return parser


def client_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Events as the frontend sends them (`POST /events` bodies)."""
    now = datetime.now(UTC)
    return list(islice(generate_events(random.Random(seed), lambda: now, BENCH_USERS), count))


def stored_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Events as Kafka holds them, each with a fresh UUIDv7 id so stores really insert them."""
    received_at, limits = datetime.now(UTC), EventLimits.from_rules(load_rules())
    return [
        validate_event(event, received_at, "bench", limits) for event in client_events(count, seed)
    ]


def decoded_events(count: int, seed: int) -> list[DecodedEvent]:
    """Events as a consumer hands them to a sink, with made-up but plausible Kafka offsets."""
    offsets: Counter[str] = Counter()
    decoded = []
    for event in stored_events(count, seed):
        topic = USER_TOPICS[event["event_type"]]
        value = orjson.dumps(event)
        source = SourceRecord(topic, 0, offsets[topic], event["user_id"].encode(), value)
        offsets[topic] += 1
        decoded.append(DecodedEvent(source, event))
    return decoded


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def concurrently(
    jobs: Iterable[T], workers: int, handle: Callable[[T], Awaitable[object]]
) -> None:
    """Handle every job, `workers` at a time, as that many independent clients would."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await handle(job)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())


async def timed(what: str, events: int, action: Callable[[], Awaitable[object]]) -> Measurement:
    started = time.perf_counter()
    await action()
    return Measurement(what, events, time.perf_counter() - started)


def print_table(title: str, rows: list[Measurement]) -> None:
    baseline = rows[0].events_per_second
    width = max(len(row.what) for row in rows)
    print(f"\n{title}\n")
    print(f"| {'what':<{width}} | events | seconds | events/s | ratio |")
    print(f"|{'-' * (width + 2)}|-------:|--------:|---------:|------:|")
    for row in rows:
        print(
            f"| {row.what:<{width}} | {row.events:>6} | {row.seconds:>7.2f} "
            f"| {row.events_per_second:>8.0f} | {row.events_per_second / baseline:>5.2f} |"
        )


async def timed_sink_writes(
    what: str, sink: Any, warmup: list[Any], batches: list[Sequence[Any]]
) -> Measurement:
    """A sink's writes of every batch, after one untimed warm-up write."""
    await sink.write(warmup)

    async def write_all() -> None:
        for batch in batches:
            if failures := await sink.write(list(batch)):
                raise RuntimeError(f"the sink refused events: {failures}")

    return await timed(what, sum(map(len, batches)), write_all)
