"""The model: Spark's and pandas' throughput over the same events, and Spark's freshness.

`throughput` publishes N simulated events of fresh users to the real user topics (a bare
aiokafka producer) and stages the same events with PostgresStagingSink, then times
`python -m app.jobs spark --available-now` (fresh checkpoint, starting at the offsets noted
before publishing) and `python -m app.jobs fallback` over exactly the staged received_at range,
as subprocesses. Peak memory is the summed RSS of each job's process tree, the JVM included.
`freshness` lives in bench/model_freshness.py.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from app.config import Settings
from bench.model_data import (
    StagedEvents,
    count_rows_of_users,
    fresh_traffic,
    publish_and_stage,
    starting_offsets_now,
)
from bench.model_floor import time_fact_insert
from bench.model_freshness import freshness
from bench.processes import JobRun, python_module, run_job

EMPTY_RANGE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC))


@dataclass(frozen=True)
class JobMeasurement:
    what: str
    events: int
    run: JobRun

    @property
    def events_per_second(self) -> float:
        return self.events / self.run.seconds


def run_spark(checkpoint: Path, starting_offsets: str, max_offsets: int) -> JobRun:
    env = {
        "SPARK_CHECKPOINT_DIR": str(checkpoint),
        "SPARK_STARTING_OFFSETS": starting_offsets,
        "SPARK_MAX_OFFSETS_PER_TRIGGER": str(max_offsets),
    }
    return run_job(python_module("app.jobs", "spark", "--available-now"), env)


def run_fallback(since: datetime, until: datetime) -> JobRun:
    range_args = ("--since", since.isoformat(), "--until", until.isoformat())
    return run_job(python_module("app.jobs", "fallback", *range_args), {})


async def spark_events(connection: asyncpg.Connection, checkpoint: Path) -> tuple[int, int]:
    """Events the stream of this checkpoint wrote, and in how many micro-batches."""
    row = await connection.fetchrow(
        "SELECT coalesce(sum(events), 0) AS events, count(*) AS batches FROM spark_batches "
        "WHERE stream = $1",
        str(checkpoint),
    )
    return row["events"], row["batches"]


async def fallback_events(connection: asyncpg.Connection, since: datetime, until: datetime) -> int:
    return await connection.fetchval(
        "SELECT events FROM fallback_runs WHERE range_start = $1 AND range_end = $2 "
        "AND status = 'succeeded' ORDER BY run_id DESC LIMIT 1",
        since,
        until,
    )


async def time_both_jobs(
    connection: asyncpg.Connection, settings: Settings, staged: StagedEvents, offsets: str,
    max_offsets: int,
) -> tuple[list[JobMeasurement], int]:  # fmt: skip
    """The four runs, and how many micro-batches Spark took over the staged events."""
    assert staged.since is not None and staged.until is not None
    with tempfile.TemporaryDirectory(prefix="bench-model-") as scratch:
        idle_offsets = await starting_offsets_now(settings)
        idle = await asyncio.to_thread(run_spark, Path(scratch, "idle"), idle_offsets, max_offsets)
        checkpoint = Path(scratch, "run")
        spark = await asyncio.to_thread(run_spark, checkpoint, offsets, max_offsets)
        events, batches = await spark_events(connection, checkpoint)
    idle_fallback = await asyncio.to_thread(run_fallback, *EMPTY_RANGE)
    pandas = await asyncio.to_thread(run_fallback, staged.since, staged.until)
    rows = [
        JobMeasurement(f"spark --available-now, up to {max_offsets} offsets/batch", events, spark),
        JobMeasurement(
            "pandas fallback --since --until the staged range",
            await fallback_events(connection, staged.since, staged.until),
            pandas,
        ),
        JobMeasurement("spark --available-now, nothing to read (start-up)", 0, idle),
        JobMeasurement("pandas fallback, empty range (start-up)", 0, idle_fallback),
    ]
    return rows, batches


async def check_rows(connection: asyncpg.Connection, staged: StagedEvents) -> None:
    """Each engine holds exactly one fact per bench event; sessions are printed side by side."""
    assert staged.user_ids is not None
    counts = {
        table: await count_rows_of_users(connection, table, staged.user_ids)
        for table in ("fact_user_event", "fact_user_event_fallback", "dim_session",
                      "dim_session_fallback")
    }  # fmt: skip
    print(f"\nrows of the bench's {len(staged.user_ids)} users (expected facts: {staged.events})")
    for table, count in counts.items():
        print(f"  {table}: {count}")
    facts = ("fact_user_event", "fact_user_event_fallback")
    wrong = [table for table in facts if counts[table] != staged.events]
    if wrong:
        raise SystemExit(f"FAILED: {', '.join(wrong)} do not hold exactly {staged.events} rows")
    if counts["dim_session"] != counts["dim_session_fallback"]:
        print("  WARNING: Spark and pandas disagree on the number of sessions")


def print_job_table(title: str, rows: list[JobMeasurement]) -> None:
    baseline = rows[0].events_per_second
    width = max(len(row.what) for row in rows)
    print(f"\n{title}\n")
    print(f"| {'what':<{width}} | events  | seconds | events/s | peak RSS MiB | ratio |")
    print(f"|{'-' * (width + 2)}|--------:|--------:|---------:|-------------:|------:|")
    for row in rows:
        rate, ratio = "-", "-"
        if row.events:
            rate, ratio = f"{row.events_per_second:.0f}", f"{row.events_per_second / baseline:.2f}"
        print(
            f"| {row.what:<{width}} | {row.events:>7} | {row.run.seconds:>7.1f} | {rate:>8} "
            f"| {row.run.peak_rss_mib:>12.0f} | {ratio:>5} |"
        )


def print_without_startup(rows: list[JobMeasurement]) -> None:
    spark, pandas, spark_idle, pandas_idle = rows
    rates = [rate_without_startup(job, idle)
             for job, idle in ((spark, spark_idle), (pandas, pandas_idle))]  # fmt: skip
    shown = [f"{rate:.0f} events/s" if rate else "- (its start-up took as long)" for rate in rates]
    ratio = f"{rates[1] / rates[0]:.2f}" if rates[0] and rates[1] else "-"
    print(f"\nminus the start-up rows' time: spark {shown[0]}, pandas {shown[1]}, ratio {ratio}")


def rate_without_startup(job: JobMeasurement, idle: JobMeasurement) -> float | None:
    """None where the empty run took as long as the real one: no working time to divide by."""
    working = job.run.seconds - idle.run.seconds
    return job.events / working if working > 0 else None


BATCH_LOG = re.compile(r"batch (\d+): (\d+) events; ([^\"\n]+)")
PHASE = re.compile(r"([a-z ]+?) (\d+\.\d+) s")


Steps = list[tuple[str, float]]


def spark_phases(log: str) -> list[tuple[int, int, Steps]]:
    """Each micro-batch's id, events and seconds per step, from the stream's log lines
    (`Phases.summary` in jobs/spark/stream.py)."""
    return [
        (int(batch), int(events), [(name.strip(), float(sec)) for name, sec in PHASE.findall(rest)])
        for batch, events, rest in BATCH_LOG.findall(log)
    ]


def print_spark_phases(log: str) -> None:
    """Where Spark's time went, batch by batch."""
    batches = spark_phases(log)
    if not batches:
        return
    names = [name for name, _ in batches[0][2]]
    print("\nSpark's micro-batches, seconds per step\n")
    print(f"| batch | events | {' | '.join(names)} |")
    print(f"|---:|---:|{'---:|' * len(names)}")
    for batch, events, phases in batches:
        print(f"| {batch} | {events} | {' | '.join(f'{sec:.2f}' for _, sec in phases)} |")
    totals = [sum(phases[n][1] for _, _, phases in batches) for n in range(len(names))]
    events = sum(events for _, events, _ in batches)
    print(f"| all | {events} | {' | '.join(f'{sec:.2f}' for sec in totals)} |")


def print_floor(rows: list[JobMeasurement], facts: int, seconds: float) -> None:
    """PostgreSQL's one insert of the facts, against Spark's time without its start-up."""
    spark, _pandas, spark_idle, _pandas_idle = rows
    working = spark.run.seconds - spark_idle.run.seconds
    print(
        f"\nPostgreSQL alone, the same {facts} facts into fact_user_event in one INSERT "
        f"(indexes and rollup trigger, rolled back): {seconds:.1f} s, {facts / seconds:.0f} "
        f"facts/s; Spark without start-up took {working:.1f} s, "
        f"{working / seconds:.2f} times this floor"
    )


async def throughput(args: argparse.Namespace) -> None:
    settings = Settings()
    traffic = fresh_traffic(args.users or max(200, args.events // 50))
    offsets = await starting_offsets_now(settings)
    span = timedelta(hours=args.span_hours)
    staged = await publish_and_stage(settings, args.events, args.seed, traffic, span)
    print("timing the jobs", file=sys.stderr)
    connection = await asyncpg.connect(settings.database_url)
    try:
        timed = await time_both_jobs(connection, settings, staged, offsets, args.max_offsets)
        rows, batches = timed
        title = (
            f"Model throughput, {staged.events} events: Spark (local[2], baseline) against the "
            "pandas fallback; ratio = events/s over Spark's"
        )
        print_job_table(title, rows)
        print_spark_phases(rows[0].run.stderr)
        print_without_startup(rows)
        print_floor(rows, *await time_fact_insert(connection, staged.user_ids or set()))
        print(
            f"{staged.events} events ({staged.comments / staged.events:.1%} comments) of "
            f"{len(staged.user_ids or ())} users {traffic.user_prefix}-*, occurred over the last "
            f"{args.span_hours:g} h, received [{staged.since}, {staged.until}); Spark took "
            f"{batches} micro-batch(es)"
        )
        await check_rows(connection, staged)
    finally:
        await connection.close()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    benches = parser.add_subparsers(dest="bench", required=True)
    rate = benches.add_parser("throughput", help="Spark and pandas over the same N events")
    rate.add_argument("--events", type=int, default=1_000_000, help="events to publish and stage")
    rate.add_argument("--users", type=int, help="distinct users (default: events / 50)")
    rate.add_argument("--seed", type=int, default=1, help="of the simulated traffic")
    rate.add_argument("--span-hours", type=float, default=72.0,
                      help="occurred_at spread over this many hours up to now")  # fmt: skip
    rate.add_argument("--max-offsets", type=int, default=250_000,
                      help="SPARK_MAX_OFFSETS_PER_TRIGGER")  # fmt: skip
    fresh = benches.add_parser("freshness", help="POST answered → fact row visible, streaming")
    fresh.add_argument("--rate", type=float, default=20.0, help="single-event POSTs per second")
    fresh.add_argument("--seconds", type=float, default=30.0, help="how long to post")
    fresh.add_argument("--trigger-seconds", type=float, default=1.0, help="SPARK_TRIGGER_SECONDS")
    fresh.add_argument("--users", type=int, default=50, help="distinct users")
    fresh.add_argument("--seed", type=int, default=1, help="of the simulated traffic")
    return parser


def main() -> None:
    args = parser().parse_args()
    if args.bench == "throughput":
        asyncio.run(throughput(args))
    else:
        asyncio.run(freshness(args))


if __name__ == "__main__":
    main()
