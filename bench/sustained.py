"""Sustained load: the highest rate the whole pipeline holds, and the stage limiting it.

The service (`python -m app`, scheduler off, consumers on) and the stream (`python -m app.jobs
spark`, a fresh checkpoint starting at the topics' current ends) run as subprocesses. Each rate
is held for `--hold-seconds`: batches of simulated events are POSTed open loop (the n-th
request starts on schedule, answered or not the earlier ones), and every `--sample-seconds`
the bench reads each stage's lag: the messages of the user topics each consumer group has yet
to commit, and those past the stream's committed offsets in `spark_offsets`. A rate is held
when every answer was a 202 and no lag grew over the hold, its first fifth left out as
warm-up. The search multiplies the rate by `--factor` while it holds, then bisects between
the highest rate held and the lowest that failed. The pipeline drains between rates.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from app.config import USER_TOPICS, Settings
from app.consumers.groups import EVENT_TOPICS, GROUPS
from app.model import queries
from app.producers.kafka_admin import cluster_metadata
from bench.model_data import fresh_traffic, starting_offsets_now
from bench.model_freshness import JSON, client_events, percentile, wait_until_healthy
from bench.processes import BackgroundProcess, free_port, python_module, service_listeners

SERVICE, SPARK = "service", "spark"
# The consumer groups the simulated traffic reaches (the backup reads the Segment topic too);
# the movie groups read another topic.
CONSUMER_GROUPS = [name for name, group in GROUPS.items() if set(EVENT_TOPICS) <= set(group.topics)]
STAGES = (*CONSUMER_GROUPS, SPARK)
WARMUP_SHARE = 0.2  # of each hold, left out of the decision: batches and polls settle first
# Lag may move by a micro-batch or a consumer's batch between samples without growing.
MIN_GROWTH = 1000
DRAINED_LAG = 100  # messages behind per stage: a hold starts clean below this
STARTUP_LIMIT_SECONDS = 300  # the JVM and Spark's first micro-batch on a busy machine
WARMUP_EVENTS = 50
LATE_SECONDS = 1.0  # a request not sent by then is one the service did not keep up with


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the hold began
    lags: Mapping[str, int]  # messages behind, per stage


@dataclass(frozen=True)
class Trend:
    stage: str
    start: int  # lag at the first sample after warm-up
    end: int  # lag at the last sample
    slope: float  # messages/s, least squares over the samples after warm-up
    growth: float  # messages: the larger of slope * window and last third's mean - first's
    growing: bool


@dataclass(frozen=True)
class Verdict:
    trends: tuple[Trend, ...]
    limit: str | None  # the stage that did not hold the rate; None if every one did

    @property
    def held(self) -> bool:
        return self.limit is None


def thirds_rise(lags: Sequence[float]) -> float:
    """How far the mean of the last third of a series is above the mean of its first third."""
    third = max(1, len(lags) // 3)
    return statistics.fmean(lags[-third:]) - statistics.fmean(lags[:third])


def trend(stage: str, window: Sequence[Sample], allowance: float) -> Trend:
    seconds = [sample.seconds for sample in window]
    lags = [float(sample.lags[stage]) for sample in window]
    slope = statistics.linear_regression(seconds, lags).slope
    growth = max(slope * (seconds[-1] - seconds[0]), thirds_rise(lags))
    return Trend(stage, round(lags[0]), round(lags[-1]), slope, growth, growth > allowance)


def decide(
    samples: Sequence[Sample], rate: float, sample_seconds: float, warmup_seconds: float,
    failed_requests: int,
) -> Verdict:  # fmt: skip
    """Whether a hold kept up with `rate` (events/s), and if not, which stage limited it.

    Only samples from `warmup_seconds` on count, at least three of them. A stage's lag grows
    when, over that window, its least-squares slope times the window's length, or the rise of
    the last third's mean over the first third's, exceeds max(2 * rate * sample_seconds,
    MIN_GROWTH) messages: what one sampling interval's traffic twice over could account for is
    noise, since consumers commit a batch at a time and Spark a micro-batch at a time. A lag
    that stays high but flat is bounded.

    Any non-202 answer (`failed_requests`) makes the service the limit. Otherwise the limit
    is the stage growing fastest: every stage reads the same events, so the one whose lag grew
    most also falls behind the rate by the largest share.
    """
    window = [sample for sample in samples if sample.seconds >= warmup_seconds]
    if len(window) < 3:
        raise ValueError(f"{len(window)} samples after warm-up; the decision needs three")
    allowance = max(2 * rate * sample_seconds, MIN_GROWTH)
    trends = tuple(trend(stage, window, allowance) for stage in window[0].lags)
    growing = [t for t in trends if t.growing]
    if failed_requests:
        return Verdict(trends, SERVICE)
    if growing:
        return Verdict(trends, max(growing, key=lambda t: t.growth).stage)
    return Verdict(trends, None)


def next_rate(tried: Sequence[tuple[float, bool]], factor: float, refinements: int) -> float | None:
    """The rate to try after `tried` ((rate, held) in order), or None when the search is done.

    Up by `factor` while every rate held (down by it while none did); once both a held and a
    failed rate are known, the midpoint of the highest held and the lowest failed, for
    `refinements` rates beyond the first one that told them apart.
    """
    held = [rate for rate, ok in tried if ok]
    failed = [rate for rate, ok in tried if not ok]
    last = tried[-1][0]
    if not failed:
        return last * factor
    if not held:
        return last / factor
    # The first n rates tried that included both a held and a failed one.
    bracketed = next(n for n in range(2, len(tried) + 1) if len({ok for _, ok in tried[:n]}) == 2)
    if len(tried) - bracketed >= refinements:
        return None
    return (max(held) + min(failed)) / 2


@dataclass
class Tally:
    """The answers of one hold's requests."""

    events: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # status code, or the client's error
    seconds: list[float] = field(default_factory=list)  # each request's round trip

    @property
    def requests(self) -> int:
        return sum(self.answers.values())

    @property
    def failed(self) -> int:
        return self.requests - self.answers["202"]


@dataclass(frozen=True)
class Row:
    rate: float
    tally: Tally
    verdict: Verdict


class LagProbe:
    """Every stage's lag, read with one admin client, one consumer and one PostgreSQL
    connection, made once for the whole run."""

    def __init__(
        self, settings: Settings, stream: str, spark_start: dict[tuple[str, int], int]
    ) -> None:
        self.settings, self.stream, self.spark_start = settings, stream, spark_start
        servers = settings.kafka_bootstrap_servers
        self.admin = AIOKafkaAdminClient(bootstrap_servers=servers)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
        self.partitions: list[TopicPartition] = []
        self.connection: asyncpg.Connection | None = None
        self.exits = AsyncExitStack()

    async def __aenter__(self) -> LagProbe:
        cluster = await cluster_metadata(self.settings.kafka_bootstrap_servers)
        self.partitions = [
            TopicPartition(topic, partition)
            for topic in USER_TOPICS.values()
            for partition in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        await self.admin.start()
        self.exits.push_async_callback(self.admin.close)
        await self.consumer.start()
        self.exits.push_async_callback(self.consumer.stop)
        self.connection = await asyncpg.connect(self.settings.database_url)
        self.exits.push_async_callback(self.connection.close)
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _error: object, _tb: TracebackType | None
    ) -> None:
        await self.exits.aclose()

    async def lags(self) -> dict[str, int]:
        offsets = await self.consumer.end_offsets(self.partitions)
        ends = {(tp.topic, tp.partition): end for tp, end in offsets.items()}
        lags = {}
        for group in CONSUMER_GROUPS:
            committed = await self.admin.list_consumer_group_offsets(group)
            done = {(tp.topic, tp.partition): max(0, m.offset) for tp, m in committed.items()}
            lags[group] = sum(max(0, end - done.get(key, 0)) for key, end in ends.items())
        assert self.connection is not None
        spark_done = await queries.spark_offsets(self.connection, self.stream)
        # Until the stream commits a partition, it is where the stream started: earlier
        # events are not Spark's to read.
        lags[SPARK] = sum(
            max(0, end - spark_done.get(key, self.spark_start.get(key, 0)))
            for key, end in ends.items()
        )
        return lags

    async def has_committed(self) -> bool:
        assert self.connection is not None
        return await queries.last_spark_batch(self.connection, self.stream) is not None


def parse_offsets(spark_json: str) -> dict[tuple[str, int], int]:
    """Spark's startingOffsets JSON ({topic: {partition: offset}}) by (topic, partition)."""
    return {
        (topic, int(partition)): offset
        for topic, partitions in orjson.loads(spark_json).items()
        for partition, offset in partitions.items()
    }


async def post_batch(
    client: httpx.AsyncClient, batch: list[dict[str, Any]], due: float,
    in_flight: asyncio.Semaphore, tally: Tally,
) -> None:  # fmt: skip
    """Posts the batch once a connection is free, unless that is past LATE_SECONDS after it was
    due: then the service is not keeping up, and the batch counts as `late`, unsent."""
    async with in_flight:
        if time.perf_counter() - due > LATE_SECONDS:
            tally.answers["late"] += 1
            return
        tally.events += len(batch)
        sent = time.perf_counter()
        try:
            response = await client.post("/events", content=orjson.dumps(batch), headers=JSON)
            answer = str(response.status_code)
        except httpx.HTTPError as error:  # a timeout or a refused connection: not held either
            answer = type(error).__name__
        tally.seconds.append(time.perf_counter() - sent)
        tally.answers[answer] += 1


async def post_open_loop(
    client: httpx.AsyncClient, events: Iterator[dict[str, Any]], rate: float, seconds: float,
    batch: int, connections: int, started: float, tally: Tally,
) -> None:  # fmt: skip
    """The n-th request of `batch` events is due at `started` + n * batch / rate, whether or
    not earlier ones were answered; at most `connections` are in flight."""
    in_flight = asyncio.Semaphore(connections)
    async with asyncio.TaskGroup() as posts:
        for n in range(max(1, round(rate * seconds / batch))):
            due = started + n * batch / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            events_of_request = list(islice(events, batch))
            posts.create_task(post_batch(client, events_of_request, due, in_flight, tally))


async def sample_lags(
    probe: LagProbe, started: float, seconds: float, every: float,
    processes: list[BackgroundProcess], label: str,
) -> list[Sample]:  # fmt: skip
    samples = []
    for n in range(int(seconds // every) + 1):
        await asyncio.sleep(max(0.0, started + n * every - time.perf_counter()))
        for process in processes:
            process.check_running()
        lags = await probe.lags()
        samples.append(Sample(time.perf_counter() - started, lags))
        behind = ", ".join(f"{stage} {lag}" for stage, lag in lags.items())
        print(f"{label}, {samples[-1].seconds:.0f} s: {behind}", file=sys.stderr, flush=True)
    return samples


async def hold(
    rate: float, args: argparse.Namespace, client: httpx.AsyncClient,
    events: Iterator[dict[str, Any]], probe: LagProbe, processes: list[BackgroundProcess],
) -> Row:  # fmt: skip
    tally, label = Tally(), f"{rate:g} events/s"
    started = time.perf_counter()
    async with asyncio.TaskGroup() as load:
        load.create_task(
            post_open_loop(
                client,
                events,
                rate,
                args.hold_seconds,
                args.batch,
                args.connections,
                started,
                tally,
            )
        )
        samples = await sample_lags(
            probe, started, args.hold_seconds, args.sample_seconds, processes, label
        )
    warmup = WARMUP_SHARE * args.hold_seconds
    return Row(rate, tally, decide(samples, rate, args.sample_seconds, warmup, tally.failed))


async def drain(probe: LagProbe, limit_seconds: float, processes: list[BackgroundProcess]) -> None:
    """Wait until every stage is back near zero, so the next hold starts clean."""
    deadline = time.perf_counter() + limit_seconds
    while max((lags := await probe.lags()).values()) > DRAINED_LAG:
        if time.perf_counter() > deadline:
            print(f"not drained after {limit_seconds:g} s: {lags}", file=sys.stderr)
            return
        for process in processes:
            process.check_running()
        await asyncio.sleep(2)


async def wait_for_stream(
    client: httpx.AsyncClient, events: Iterator[dict[str, Any]], probe: LagProbe,
    processes: list[BackgroundProcess],
) -> None:  # fmt: skip
    """Post a few events and wait for the stream's first micro-batch: the JVM is up and reading."""
    body = orjson.dumps(list(islice(events, WARMUP_EVENTS)))
    response = await client.post("/events", content=body, headers=JSON)
    response.raise_for_status()
    async with asyncio.timeout(STARTUP_LIMIT_SECONDS):
        while not await probe.has_committed():
            for process in processes:
                process.check_running()
            await asyncio.sleep(1)


def lag_cell(trend: Trend) -> str:
    return f"{trend.start} → {trend.end} ({trend.slope:+.1f}/s)"


def print_table(args: argparse.Namespace, rows: list[Row]) -> None:
    print(
        f"\nSustained load: python -m app (consumers on) and python -m app.jobs spark, "
        f"{args.hold_seconds:g} s a rate, batches of {args.batch}, lag sampled every "
        f"{args.sample_seconds:g} s; lag in messages, end of warm-up "
        f"({WARMUP_SHARE * args.hold_seconds:g} s) → end of hold (least-squares slope)\n"
    )
    stages = " | ".join(STAGES)
    print(f"| events/s | events sent | 202 share | POST p99 ms | {stages} | held | limit |")
    print(f"|---:|---:|---:|---:|{'---|' * len(STAGES)}---|---|")
    for row in rows:
        tally, cells = row.tally, " | ".join(map(lag_cell, row.verdict.trends))
        share = tally.answers["202"] / max(tally.requests, 1)
        p99 = 1000 * percentile(tally.seconds, 0.99)
        print(
            f"| {row.rate:>8.0f} | {tally.events:>11} | {share:>9.1%} | {p99:>11.0f} | {cells} "
            f"| {'yes' if row.verdict.held else 'no'} | {row.verdict.limit or '-'} |"
        )


def conclusion(rows: list[Row]) -> str:
    held = [row.rate for row in rows if row.verdict.held]
    best = max(held, default=0.0)
    above = [row for row in rows if not row.verdict.held and row.rate > best]
    if not above:
        return f"highest rate held: {best:.0f} events/s; every rate tried held"
    failed = min(above, key=lambda row: row.rate)
    limited = (
        f"the next one tried, {failed.rate:.0f} events/s, was limited by {failed.verdict.limit}"
    )
    if not held:
        return f"no rate held; {limited}"
    return f"highest rate held: {best:.0f} events/s; {limited}"


async def search(args: argparse.Namespace, rows: list[Row]) -> None:
    """Start the processes, then hold rate after rate, each one's row appended to `rows`."""
    settings, port = Settings(), free_port()
    events = client_events(fresh_traffic(args.users), args.seed)
    offsets = await starting_offsets_now(settings)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sustained-")))
        checkpoint = str(scratch / "checkpoint")
        service_env = {
            **service_listeners(port), "RUN_SCHEDULER": "false", "API_WORKERS": str(args.workers),
        }  # fmt: skip
        stream_env = {"SPARK_CHECKPOINT_DIR": checkpoint, "SPARK_STARTING_OFFSETS": offsets}
        service = stack.enter_context(
            BackgroundProcess("the service", python_module("app"), service_env)
        )
        stream = stack.enter_context(
            BackgroundProcess("the Spark stream", python_module("app.jobs", "spark"), stream_env)
        )
        processes = [service, stream]
        limits = httpx.Limits(max_connections=args.connections)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10, limits=limits)
            as client,
            LagProbe(settings, checkpoint, parse_offsets(offsets)) as probe,
        ):  # fmt: skip
            await wait_until_healthy(client, service)
            await wait_for_stream(client, events, probe, processes)
            rate: float | None = args.start_rate
            while rate is not None and len(rows) < args.max_rates:
                await drain(probe, args.drain_seconds, processes)
                rows.append(await hold(round(rate), args, client, events, probe, processes))
                tried = [(row.rate, row.verdict.held) for row in rows]
                rate = next_rate(tried, args.factor, args.refinements)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--start-rate", type=float, default=500.0, help="events/s of the first hold"
    )
    parser.add_argument("--hold-seconds", type=float, default=300.0, help="how long each rate runs")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="between lag samples")
    parser.add_argument("--factor", type=float, default=1.5, help="next rate while one holds")
    parser.add_argument(
        "--refinements",
        type=int,
        default=1,
        help="bisections between the highest held and the lowest failed",
    )
    parser.add_argument("--max-rates", type=int, default=10, help="rates tried at most")
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=600.0,
        help="at most, for the lags to come back near zero between rates",
    )
    parser.add_argument("--batch", type=int, default=50, help="events per POST")
    parser.add_argument("--connections", type=int, default=32, help="requests in flight at most")
    parser.add_argument("--users", type=int, default=1000, help="distinct simulated users")
    parser.add_argument("--workers", type=int, default=1, help="the service's API_WORKERS")
    parser.add_argument("--seed", type=int, default=1, help="of the simulated traffic")
    return parser


def main() -> None:
    cli = parser()
    args = cli.parse_args()
    if args.factor <= 1 or args.start_rate <= 0 or args.max_rates < 1 or args.batch < 1:
        cli.error("--factor must be above 1, --start-rate, --max-rates and --batch positive")
    if (1 - WARMUP_SHARE) * args.hold_seconds < 3 * args.sample_seconds:
        cli.error("--hold-seconds must leave three samples after its first fifth (warm-up)")
    rows: list[Row] = []
    # SIGTERM stops the run as Ctrl-C does (a shell's background job ignores SIGINT).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(search(args, rows))
    except KeyboardInterrupt:  # the processes were stopped on the way out
        print("interrupted", file=sys.stderr)
    finally:  # the rates tried so far, also when a process died
        if rows:
            print_table(args, rows)
            print("\n" + conclusion(rows))


if __name__ == "__main__":
    main()
