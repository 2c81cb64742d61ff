"""Sustained load: the highest rate the whole pipeline holds, and the stage limiting it.

The service (`python -m app`, scheduler off, consumers beside the API, or with `--consumers
apart` in a `python -m app.consumers` of their own) and the stream (`python -m app.jobs spark`,
a fresh checkpoint starting at the topics' current ends) run as subprocesses. Each rate is held
for `--hold-seconds`: wrk POSTs batches of simulated events at the rate (`bench.paced_load`),
and every `--sample-seconds`
the bench reads each stage's lag: the messages of the user topics each consumer group has yet
to commit, and those past the stream's committed offsets in `spark_offsets`. A rate is held
when every answer was a 202 and no lag grew over the hold, its first fifth left out as
warm-up. The search multiplies the rate by `--factor` while it holds, then bisects between
the highest rate held and the lowest that failed. The pipeline drains between rates.
Each process's CPU time over the hold after warm-up is printed per 1,000 events (`bench.cpu`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.config import Settings
from bench.cpu import CpuMeter, store_roots
from bench.lags import CONSUMER_GROUPS, SPARK, LagProbe, parse_offsets
from bench.model_data import fresh_traffic, starting_offsets_now
from bench.model_freshness import JSON, client_events, wait_until_healthy
from bench.paced_load import PacedWrk, script_for
from bench.processes import BackgroundProcess, free_port, python_module, service_listeners
from bench.sustained_report import Row, conclusion, print_cpu_table, print_table
from bench.sustained_verdict import SERVICE, WARMUP_SHARE, Sample, decide, next_rate
from bench.wrk import ID_MARKER, with_client_ids

CONSUMERS = "consumers"
DRAINED_LAG = 100  # messages behind per stage: a hold starts clean below this
STARTUP_LIMIT_SECONDS = 300  # the JVM and Spark's first micro-batch on a busy machine
WARMUP_EVENTS = 50
LATE_SECONDS = 1.0  # a request not sent by then is one the service did not keep up with
POOL_REQUESTS = 400  # distinct simulated batches wrk takes in turn (their ids new each time)
LOAD_GENERATOR = "wrk"


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


async def measure_cpu(meter: CpuMeter, started: float, warmup_seconds: float) -> None:
    await asyncio.sleep(max(0.0, started + warmup_seconds - time.perf_counter()))
    meter.start()


async def hold(
    rate: float, args: argparse.Namespace, base_url: str, folder: Path, bodies: list[bytes],
    probe: LagProbe, processes: list[BackgroundProcess], meter: CpuMeter,
) -> Row:  # fmt: skip
    script = script_for(folder, bodies, ID_MARKER, rate, args.batch, 1000 * LATE_SECONDS)
    # wrk runs a second past the hold, so its CPU time is still readable when the hold ends.
    wrk = PacedWrk(base_url, script, args.hold_seconds + 1, args.connections)
    meter.roots[LOAD_GENERATOR] = await wrk.start()
    warmup = WARMUP_SHARE * args.hold_seconds
    started = time.perf_counter()
    async with asyncio.TaskGroup() as load:
        load.create_task(measure_cpu(meter, started, warmup))
        samples = await sample_lags(
            probe, started, args.hold_seconds, args.sample_seconds, processes, f"{rate:g} events/s"
        )
    cpu = meter.read()
    answers = await wrk.result()
    verdict = decide(samples, rate, args.sample_seconds, warmup, answers.failed)
    return Row(rate, answers, verdict, cpu)


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


async def search(args: argparse.Namespace, rows: list[Row]) -> None:
    """Start the processes, then hold rate after rate, each one's row appended to `rows`."""
    settings, port = Settings(), free_port()
    events = client_events(fresh_traffic(args.users), args.seed)
    # Made before the processes start: the simulator's cost is kept off the measured holds.
    bodies = [with_client_ids(list(islice(events, args.batch))) for _ in range(POOL_REQUESTS)]
    offsets = await starting_offsets_now(settings)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sustained-")))
        checkpoint = str(scratch / "checkpoint")
        apart = args.consumers == "apart"
        service_env = {
            **service_listeners(port), "RUN_SCHEDULER": "false", "API_WORKERS": str(args.workers),
            "RUN_CONSUMERS": str(not apart).lower(),
        }  # fmt: skip
        stream_env = {"SPARK_CHECKPOINT_DIR": checkpoint, "SPARK_STARTING_OFFSETS": offsets}
        running = {
            SERVICE: stack.enter_context(
                BackgroundProcess("the service", python_module("app"), service_env)
            ),
            SPARK: stack.enter_context(
                BackgroundProcess(
                    "the Spark stream", python_module("app.jobs", "spark"), stream_env
                )
            ),
        }
        if apart:
            running[CONSUMERS] = stack.enter_context(
                BackgroundProcess("the consumers", python_module("app.consumers"), {})
            )
        for number, group in enumerate(args.extra_consumers, start=2):
            command = python_module("app.consumers", group)
            running[f"{group} {number}"] = stack.enter_context(
                BackgroundProcess(f"consumers of {group}", command, {})
            )
        processes = list(running.values())
        meter = CpuMeter(
            {name: process.process.pid for name, process in running.items()}
            | store_roots(store_urls(settings)),
            alone={"bench": os.getpid()},  # the lag probe, without the processes above
        )
        base_url = f"http://127.0.0.1:{port}"
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=10) as client,
            LagProbe(settings, checkpoint, parse_offsets(offsets)) as probe,
        ):  # fmt: skip
            await wait_until_healthy(client, running[SERVICE])
            await wait_for_stream(client, events, probe, processes)
            rate: float | None = args.start_rate
            while rate is not None and len(rows) < args.max_rates:
                await drain(probe, args.drain_seconds, processes)
                row = await hold(
                    round(rate), args, base_url, scratch, bodies, probe, processes, meter
                )
                rows.append(row)
                tried = [(row.rate, row.verdict.held) for row in rows]
                rate = next_rate(tried, args.factor, args.refinements)


def store_urls(settings: Settings) -> dict[str, str]:
    return {
        "postgres": settings.database_url,
        "kafka": settings.kafka_bootstrap_servers,
        "mongodb": settings.mongo_url,
    }


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
    parser.add_argument(
        "--consumers",
        choices=("beside", "apart"),
        default="beside",
        help="in the service's process (RUN_CONSUMERS), or a python -m app.consumers of their own",
    )
    parser.add_argument(
        "--extra-consumers",
        action="append",
        default=[],
        choices=CONSUMER_GROUPS,
        metavar="GROUP",
        help="a further python -m app.consumers GROUP, sharing the group's partitions; repeatable",
    )
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
            print_cpu_table(args, rows)
            print("\n" + conclusion(rows))


if __name__ == "__main__":
    main()
