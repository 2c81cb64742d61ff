"""The audit's cost as the stores grow: a reconciler pass over one minute of 6,000 events (100
events/s), with the stores empty but for that minute, then again with `--events` more (10
million by default) received before it, the ratio large to empty per row.

Rows: a pass over the minute when every stage agrees (counts only); the same minute with one
staged row missing (the anti-join that names it); a scheduled pass (the minute and the ten
before it, re-checked); and the backup count check's read of the backup's ledger. The events
are written straight into the stores by SQL (staging, the facts, the acknowledged and backed-up
ledgers, the triggers counting as in the pipeline), under users named `bench-audit-*`, and
deleted at the end unless `--keep`.

Needs the local stack (`make up`) and nothing else writing to it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import asyncpg

from app.audit.reconciler import MINUTE, floor_minute, reconcile
from app.config import Settings
from app.db.postgres import PostgresPool

PER_MINUTE = 6_000
USERS = "bench-audit-"
# Events `$1` .. `$2` (a series), received one every `$4` seconds back from `$3`.
EVENTS = """
    SELECT md5('bench-audit' || n)::uuid AS event_id,
           (ARRAY['watch', 'click', 'comment'])[1 + n % 3] AS event_type,
           'bench-audit-' || (n % 5000) AS user_id,
           $3::timestamptz - make_interval(secs => n * $4::double precision) AS received_at,
           n
    FROM generate_series($1::bigint, $2::bigint) AS n
"""
FILL = {
    "stg_user_logs": f"""
        INSERT INTO stg_user_logs (event_id, event_type, user_id, movie_id, occurred_at,
            received_at, schema_version, kafka_topic, kafka_partition, kafka_offset)
        SELECT event_id, event_type, user_id, 550, received_at, received_at, 1, 'bench', 0, n
        FROM ({EVENTS}) e""",
    "fact_user_event": f"""
        INSERT INTO fact_user_event (event_id, event_type, user_id, movie_id, occurred_at,
            received_at, event_date, event_hour, is_completed, is_valid, rules_version,
            source_flag)
        SELECT event_id, event_type, user_id, 550, received_at, received_at,
               (received_at AT TIME ZONE 'UTC')::date,
               extract(hour FROM received_at AT TIME ZONE 'UTC'), false, false, 'bench', 'spark'
        FROM ({EVENTS}) e""",
    "audit.acknowledged": f"""
        INSERT INTO audit.acknowledged (event_id, event_type, received_at, user_hash)
        SELECT event_id, event_type, received_at, sha256(convert_to(user_id, 'UTF8'))
        FROM ({EVENTS}) e""",
    "audit.backed_up": f"""
        INSERT INTO audit.backed_up (event_id, event_type, received_at, user_hash)
        SELECT event_id, event_type, received_at, sha256(convert_to(user_id, 'UTF8'))
        FROM ({EVENTS}) e""",
}
CHUNK = 500_000


async def fill(connection: asyncpg.Connection, first: int, last: int, end: datetime,
               spacing: float) -> None:  # fmt: skip
    for start in range(first, last + 1, CHUNK):
        stop = min(start + CHUNK - 1, last)
        for statement in FILL.values():
            await connection.execute(statement, start, stop, end, spacing)
        print(f"  {stop - first + 1:,} of {last - first + 1:,} events written", flush=True)


async def timed(repeats: int, work: Callable[[], Awaitable[object]]) -> float:
    await work()  # the plans and the caches, untimed
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        await work()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


async def measure(pool: PostgresPool, settings: Settings, probe: datetime, repeats: int,
                  gone: str) -> dict[str, float]:  # fmt: skip
    scheduled = [probe - i * MINUTE for i in range(settings.audit_recheck_minutes + 1)]

    async def without_a_staged_row() -> None:
        async with pool.connection() as connection, connection.transaction():
            await connection.execute("DELETE FROM stg_user_logs WHERE event_id = $1::uuid", gone)
            await reconcile_on(connection, [probe])
            raise Undo

    async def reconcile_on(connection: asyncpg.Connection, windows: list[datetime]) -> None:
        await reconcile(SingleConnection(connection), settings, windows=windows)

    async def backup_ledger_count() -> None:
        async with pool.connection() as connection:
            await connection.fetchval("SELECT count(*) FROM audit.backed_up")

    return {
        "a pass over the minute, stages agreeing": await timed(
            repeats, lambda: reconcile(pool, settings, windows=[probe])
        ),
        "the minute with a staged row missing (anti-join)": await timed(
            repeats, lambda: undone(without_a_staged_row())
        ),
        f"a scheduled pass ({len(scheduled)} minutes)": await timed(
            repeats, lambda: reconcile(pool, settings, windows=scheduled)
        ),
        "backup count check: the ledger's count": await timed(repeats, backup_ledger_count),
    }


class Undo(Exception):
    """Rolls a measured change back."""


async def undone(work: Awaitable[None]) -> None:
    with suppress(Undo):
        await work


class SingleConnection:
    """A pool of one connection already in a transaction: the reconciler sees its changes."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    def connection(self) -> SingleConnectionContext:
        return SingleConnectionContext(self._connection)


class SingleConnectionContext:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def __aenter__(self) -> asyncpg.Connection:
        return self._connection

    async def __aexit__(self, *_: object) -> None:
        return None


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000, help="in the stores, grown")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the events in the stores")
    args = parser.parse_args()
    settings = Settings(run_consumers=False)
    pool = PostgresPool(settings.database_url)
    probe = floor_minute(datetime.now(UTC)) - 2 * MINUTE
    spacing = 60 / PER_MINUTE
    async with pool.connection() as connection:
        # The probe minute: events 1..6000, received within it.
        await fill(connection, 1, PER_MINUTE, probe + MINUTE - timedelta(microseconds=1), spacing)
        gone = await connection.fetchval(
            "SELECT event_id::text FROM stg_user_logs WHERE user_id LIKE $1 LIMIT 1", USERS + "%"
        )
    try:
        empty = await measure(pool, settings, probe, args.repeats, gone)
        print(f"growing the stores by {args.events:,} events received before the probe minute")
        async with pool.connection() as connection:
            before = probe - timedelta(hours=1)  # beyond the scheduled pass's minutes
            await fill(connection, PER_MINUTE + 1, PER_MINUTE + args.events, before, 0.01)
            # As autovacuum would, soon: not while the passes are timed.
            for table in FILL:
                await connection.execute(f"VACUUM ANALYZE {table}")
        large = await measure(pool, settings, probe, args.repeats, gone)
    finally:
        if not args.keep:
            await clean(pool, [probe - i * MINUTE for i in range(60)])
        await pool.close()
    print(f"\nThe reconciler, {PER_MINUTE:,} events in the minute; stores empty, then with "
          f"{args.events:,} more (median of {args.repeats})\n")  # fmt: skip
    width = max(map(len, empty))
    print(f"| {'what':<{width}} | empty, ms | large, ms | ratio |")
    print(f"|{'-' * (width + 2)}|----------:|----------:|------:|")
    for what, seconds in empty.items():
        print(f"| {what:<{width}} | {seconds * 1000:>9.1f} | {large[what] * 1000:>9.1f} "
              f"| {large[what] / seconds:>5.2f} |")  # fmt: skip


async def clean(pool: PostgresPool, windows: list[datetime]) -> None:
    print("deleting the bench's events", flush=True)
    users = "SELECT 'bench-audit-' || n FROM generate_series(0, 4999) AS n"
    async with pool.connection() as connection:
        for table in ("stg_user_logs", "fact_user_event"):
            await connection.execute(f"DELETE FROM {table} WHERE user_id IN ({users})")
        for table in ("audit.acknowledged", "audit.backed_up"):
            await connection.execute(
                f"DELETE FROM {table} WHERE user_hash IN "
                f"(SELECT sha256(convert_to(u, 'UTF8')) FROM ({users}) AS b (u))"
            )
        for table in ("audit.windows", "audit.findings"):
            await connection.execute(
                f"DELETE FROM {table} WHERE window_start = ANY($1::timestamptz[])", windows
            )


if __name__ == "__main__":
    asyncio.run(main())
