"""Growth: the pipeline's per-window work with its PostgreSQL tables as found, then holding
`--rows` more staged events, facts and audit ledger rows of 30 days past.

Each operation works on fresh events of its own, received now, in both rounds; a row is a ratio,
large to as found. What grows is PostgreSQL: `stg_user_logs`, `fact_user_event` (its rollups
too) and the audit's id ledgers, filled server-side by `INSERT ... SELECT generate_series` in
chunks (not through the API: hours at the API's rate). The MongoDB backup keeps its size (on
FerretDB a fill would take hours): the rows that read it say so. Spark itself is not run here
(`bench.model` measures it); its merge of a batch is, on the round's own events. The rows the
fill leaves are named `growth-user-*` and `kafka_topic = 'growth'`, kept until
`make clean-stack`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.audit.id_ledger import LedgerEntry, record_entries
from app.audit.reconciler import reconcile
from app.config import Settings
from app.consumers.postgres_staging import PostgresStagingSink
from app.db.partitions import PARTITIONED, ensure_partitions
from app.db.postgres import PostgresPool
from bench.common import bench_parser, decoded_events
from bench.model_freshness import wait_until_healthy
from bench.processes import BackgroundProcess, free_port, python_module, run_job, service_listeners
from bench.wrk import lua_rotating, require_wrk, run_wrk
from jobs.rules import load_rules
from jobs.spark import batch_store

RULES = load_rules()
CHUNK = 1_000_000
DAYS = 30
STAGED_EVENTS = 20_000  # a window's worth of fresh events, written by the staging sink
WRITE_BATCH = 500
FILL_STAGED = """
    INSERT INTO stg_user_logs (event_id, event_type, user_id, movie_id, occurred_at, received_at,
        schema_version, context, payload, kafka_topic, kafka_partition, kafka_offset)
    SELECT gen_random_uuid(), t, 'growth-user-' || lpad((n % $3)::text, 7, '0'),
        CASE WHEN t <> 'click' THEN 550 + n % 200 END, r - interval '5 seconds', r, 1,
        '{"locale": "en-GB"}'::jsonb,
        CASE t WHEN 'watch' THEN '{"action": "progress", "position_seconds": 60,
                                   "duration_seconds": 5400}'::jsonb
               WHEN 'click' THEN '{"element": "poster"}'::jsonb
               ELSE '{"text": "Good film", "rating": 8}'::jsonb END,
        'growth', 0, n
    FROM (SELECT n, (ARRAY['watch', 'watch', 'click', 'comment'])[1 + n % 4] AS t,
                 $4::timestamptz + (n % $5) * ($6::double precision / $5) * interval '1 second'
                     AS r
          FROM generate_series($1::bigint, $2::bigint) AS n) AS g
"""
FILL_FACTS = """
    INSERT INTO fact_user_event (event_id, event_type, user_id, movie_id, occurred_at,
        received_at, event_date, event_hour, watch_action, position_seconds, duration_seconds,
        watch_seconds, completion_ratio, is_completed, click_element, locale, rating,
        rating_bucket, is_valid, rules_version, source_flag)
    SELECT event_id, event_type, user_id, movie_id, occurred_at, received_at,
        (occurred_at AT TIME ZONE 'UTC')::date, extract(hour FROM occurred_at AT TIME ZONE 'UTC'),
        payload->>'action', (payload->>'position_seconds')::float8,
        (payload->>'duration_seconds')::float8, (payload->>'position_seconds')::float8,
        (payload->>'position_seconds')::float8 / 5400, false, payload->>'element', 'en-GB',
        (payload->>'rating')::float8, CASE WHEN payload ? 'rating' THEN 'high' END, true,
        'growth', 'spark'
    FROM stg_user_logs WHERE kafka_topic = 'growth' AND kafka_offset BETWEEN $1 AND $2
"""
# The merge's input: staged events as Spark's batch writes them, before they are merged.
INCOMING_FACTS = (
    FILL_FACTS.replace("INSERT INTO fact_user_event (", "INSERT INTO spark_incoming_facts (stream, "
                       "batch_id, kafka_topic, kafka_partition, kafka_offset, ")
    .replace("SELECT event_id,",
             "SELECT $1, 0, kafka_topic, kafka_partition, kafka_offset, event_id::text,")
    .replace("WHERE kafka_topic = 'growth' AND kafka_offset BETWEEN $1 AND $2",
             "WHERE event_id = ANY($2::uuid[])")
)  # fmt: skip
FILL_LEDGER = """
    INSERT INTO {} (event_id, event_type, received_at, user_hash)
    SELECT event_id, event_type, received_at, sha256(convert_to(user_id, 'UTF8'))
    FROM stg_user_logs WHERE kafka_topic = 'growth' AND kafka_offset BETWEEN $1 AND $2
"""


@dataclass(frozen=True)
class Measured:
    what: str
    seconds: float


async def fill(settings: Settings, rows: int, users: int) -> None:
    """`rows` more events of the last DAYS days (but the last two hours, the rounds' own),
    chunk by chunk, each chunk into every table in one transaction."""
    connection = await asyncpg.connect(settings.database_url)
    try:
        first = (await connection.fetchval(
            "SELECT coalesce(max(kafka_offset) + 1, 0) FROM stg_user_logs "
            "WHERE kafka_topic = 'growth'"))  # fmt: skip
        start = datetime.now(UTC) - timedelta(days=DAYS)
        for table in PARTITIONED:  # as the scheduler would have added them day by day
            await ensure_partitions(connection, table, start, datetime.now(UTC))
        span = (timedelta(days=DAYS) - timedelta(hours=2)).total_seconds()
        started = time.perf_counter()
        for low in range(first, first + rows, CHUNK):
            high = min(low + CHUNK, first + rows) - 1
            async with connection.transaction():
                await connection.execute(FILL_STAGED, low, high, users, start, rows, span)
                await connection.execute(FILL_FACTS, low, high)
                for ledger in ("audit.acknowledged", "audit.backed_up"):
                    await connection.execute(FILL_LEDGER.format(ledger), low, high)
            done = high + 1 - first
            rate = done / (time.perf_counter() - started)
            print(f"  filled {done:,} of {rows:,} ({rate:,.0f} events/s)", flush=True)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def a_round(settings: Settings, seed: int, read_seconds: int) -> list[Measured]:
    measured: list[Measured] = []
    events = decoded_events(STAGED_EVENTS, seed)  # fresh UUIDv7 ids, received now
    erased = f"growth-erased-{uuid.uuid4().hex[:12]}"  # a user of this round alone
    for event in events[-20:]:
        event.event["user_id"] = erased
    events[0].event["user_id"] = f"growth-traced-{uuid.uuid4().hex[:12]}"  # never one erased
    postgres = PostgresPool(settings.database_url, 4)
    try:
        sink = PostgresStagingSink(postgres)
        started = time.perf_counter()
        for low in range(0, len(events), WRITE_BATCH):
            await sink.write(events[low : low + WRITE_BATCH])
        measured.append(Measured(f"staging writes, {len(events):,} events", since(started)))
        entries = [
            LedgerEntry(e.event_id, e.event["event_type"],
                        datetime.fromisoformat(e.event["received_at"]), e.user_id,
                        datetime.fromisoformat(e.event["occurred_at"]))
            for e in events
        ]  # fmt: skip
        async with postgres.connection() as connection:
            for ledger in ("audit.acknowledged", "audit.backed_up"):
                started = time.perf_counter()
                await record_entries(connection, ledger, entries)
                measured.append(Measured(f"{ledger} writes", since(started)))
        measured.append(await spark_merge(settings, postgres, [e.event_id for e in events]))
        received = entries[0].received_at.replace(second=0, microsecond=0)
        started = time.perf_counter()
        await reconcile(postgres, settings, windows=[received])
        measured.append(Measured("the audit's minute (counts, then anti-joins)", since(started)))
    finally:
        await postgres.close()
    since_text = (received - timedelta(minutes=1)).isoformat()
    until_text = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    for what, command in (
        ("fallback over the fresh events' hour (a process)",
         ["fallback", "--since", since_text, "--until", until_text]),
        ("trace one event (a process; MongoDB as found)", ["trace", events[0].event_id]),
        ("forget-user of a user with 20 events (a process; MongoDB as found)",
         ["forget-user", erased, "--requested-by", "bench"]),
        ("replay one hour, dry run (a process; MongoDB as found)",
         ["replay", "--since", since_text, "--until", until_text, "--dry-run"]),
    ):  # fmt: skip
        measured.append(Measured(what, run_job(python_module("app.jobs", *command), {}).seconds))
    measured.append(Measured("read API p99 (s), wrk -c16", await read_p99(read_seconds)))
    return measured


async def spark_merge(settings: Settings, postgres: PostgresPool, ids: list[str]) -> Measured:
    """Spark's merge of a batch, as its driver runs it: the round's staged events as the batch's
    facts (the look-back for their copies included), over two connections, then the sessions'
    bounds."""
    stream = f"growth-merge-{uuid.uuid4().hex[:12]}"
    async with postgres.connection() as connection:
        await connection.execute(INCOMING_FACTS, stream, ids)
    connections = [await asyncpg.connect(settings.database_url) for _ in range(2)]
    try:
        started = time.perf_counter()
        await batch_store.merge_facts(connections, stream, 0, RULES.inactivity_gap_seconds)
        return Measured(f"Spark's merge of a batch of {STAGED_EVENTS:,} facts", since(started))
    finally:
        for other in connections:
            await other.close()
        async with postgres.connection() as connection:
            await batch_store.clear_incoming(connection, stream)


async def read_p99(seconds: int) -> float:
    """The public reads under wrk, the service's answer cache off so every request is read."""
    port = free_port()
    env = {**service_listeners(port), "LOG_LEVEL": "WARNING", "RUN_CONSUMERS": "false",
           "RUN_SCHEDULER": "false", "SERVING_ANSWER_CACHE_SIZE": "0"}  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    today = datetime.now(UTC).date()
    month = (today - timedelta(days=DAYS)).isoformat()
    paths = ["/api/top_movies", f"/api/top_movies?since={month}&metric=watch_seconds",
             f"/api/emotion_trends?since={month}", "/api/top_movies?metric=avg_rating"]  # fmt: skip
    with BackgroundProcess("service", python_module("app"), env) as service:
        async with httpx.AsyncClient(base_url=base) as client:
            await wait_until_healthy(client, service)
        script = lua_rotating(paths)
        run_wrk(base, script, 2, 16)
        return run_wrk(base, script, seconds, 16).p99_ms / 1000


def since(started: float) -> float:
    return time.perf_counter() - started


def print_table(rows: int, before: list[Measured], after: list[Measured], found: int) -> None:
    print(f"\nGrowth: {found:,} staged events as found, then {rows:,} more\n")
    print("| what | as found, s | large, s | ratio |")
    print("|---|---:|---:|---:|")
    for small, large in zip(before, after, strict=True):
        ratio = large.seconds / small.seconds if small.seconds else float("nan")
        print(f"| {small.what} | {small.seconds:.3f} | {large.seconds:.3f} | {ratio:.2f} |")


async def staged_count(settings: Settings) -> int:
    connection = await asyncpg.connect(settings.database_url)
    try:
        # The planner's estimate: a count(*) of a large table is itself a walk.
        estimate = (
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'stg_user_logs'::regclass"
        )
        return int(await connection.fetchval(estimate))
    finally:
        await connection.close()


async def main() -> None:
    parser = bench_parser(__doc__.split("\n")[0], default_events=STAGED_EVENTS)
    parser.add_argument("--rows", type=int, default=50_000_000, help="events the fill adds")
    parser.add_argument("--users", type=int, default=500_000, help="users of the fill")
    parser.add_argument("--read-seconds", type=int, default=10, help="of wrk on the reads")
    args = parser.parse_args()
    require_wrk()
    settings = Settings()
    found = await staged_count(settings)
    await a_round(settings, args.seed + 2, args.read_seconds)  # warms caches and processes up
    before = await a_round(settings, args.seed, args.read_seconds)
    await fill(settings, args.rows, args.users)
    after = await a_round(settings, args.seed + 1, args.read_seconds)
    print_table(args.rows, before, after, max(found, 0))


if __name__ == "__main__":
    asyncio.run(main())
