"""The PostgreSQL side of a Spark micro-batch, run from the driver with asyncpg.

A batch's facts and sessions arrive in unlogged incoming tables (written by Spark's JDBC
writer); they are merged here, and the batch is recorded in the same transaction as its
sessions, so a replayed batch is recognised and skipped, and a half-done one is redone. The
batch's users' session locks are held from before Spark reads their facts until that commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import asyncpg

from jobs import session_locks
from jobs.forgotten_users import not_forgotten
from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS, SESSION_INPUT_COLUMNS
from jobs.model_store import no_earlier_copy
from jobs.session_bounds import session_bounds_query

T = TypeVar("T")
FACT_NAMES = ", ".join((*FACT_COLUMNS, "source_flag"))
SESSION_NAMES = ", ".join((*SESSION_COLUMNS, "source_flag"))
KAFKA_POSITION = "kafka_topic, kafka_partition, kafka_offset"
BATCH_EARLIEST_NEW = """
    SELECT user_id, min(occurred_at) AS earliest_new FROM spark_incoming_facts
    WHERE stream = $1 AND batch_id = $2 GROUP BY user_id
"""
# Where each user of the batch has its sessions rebuilt from ($1 stream, $2 batch, $3 the gap).
SESSION_BOUNDS = f"""
    INSERT INTO spark_session_bounds (stream, batch_id, user_id, lower_bound)
    SELECT $1, $2, user_id, lower_bound
    FROM ({session_bounds_query("dim_session", BATCH_EARLIEST_NEW)}) AS bounds
"""


class DriverConnection:
    """foreachBatch runs on a plain thread: a loop and connections of its own, kept for a whole
    batch, so the session locks the first one takes last from the read of the facts to the
    commit. The others (`writers` in all) share out the insert of the facts."""

    def __init__(self, dsn: str, writers: int = 1) -> None:
        self._runner = asyncio.Runner()
        self._connections: list[asyncpg.Connection] = []
        try:
            for _ in range(max(writers, 1)):
                self._connections.append(self._runner.run(asyncpg.connect(dsn)))
        except BaseException:
            self._close()
            raise

    def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """On the first connection, the one that holds the batch's session locks."""
        return self._runner.run(work(self._connections[0]))

    def run_on_all(self, work: Callable[[Sequence[asyncpg.Connection]], Awaitable[T]]) -> T:
        return self._runner.run(work(self._connections))

    def __enter__(self) -> DriverConnection:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._close()

    def _close(self) -> None:
        try:
            for connection in self._connections:
                self._runner.run(connection.close())  # also frees the session locks
        finally:
            self._runner.close()


def run_with_connection(dsn: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    with DriverConnection(dsn) as connection:
        return connection.run(work)


async def is_committed(connection: asyncpg.Connection, stream: str, batch_id: int) -> bool:
    found = await connection.fetchval(
        "SELECT 1 FROM spark_batches WHERE stream = $1 AND batch_id = $2", stream, batch_id
    )
    return found is not None


async def clear_incoming(connection: asyncpg.Connection, stream: str) -> None:
    """Leftovers of an attempt at a batch that died before committing. A stream has one batch in
    flight, so the rows of its stream are that batch's alone once these are gone."""
    for table in ("spark_incoming_facts", "spark_incoming_sessions", "spark_session_bounds"):
        await connection.execute(f"DELETE FROM {table} WHERE stream = $1", stream)


async def merge_facts(
    connections: Sequence[asyncpg.Connection],
    stream: str,
    batch_id: int,
    inactivity_gap_seconds: int,
) -> tuple[int, datetime | None]:
    """Insert the batch's facts once per event, lock its users' sessions until `commit_batch`
    (on the first connection), and fix from where each user's sessions are rebuilt; returns the
    batch's events and latest receipt. The bounds are read under the locks, as another rebuild
    may just have moved them."""
    await insert_facts_once(connections, stream, batch_id)
    connection = connections[0]
    batch = await connection.fetchrow(  # one read of the batch for all three
        "SELECT array_agg(DISTINCT user_id) AS users, count(DISTINCT event_id) AS events, "
        "max(received_at) AS latest FROM spark_incoming_facts WHERE stream = $1 AND batch_id = $2",
        stream,
        batch_id,
    )
    await session_locks.lock_for_connection(connection, "dim_session", batch["users"] or [])
    await connection.execute(SESSION_BOUNDS, stream, batch_id, inactivity_gap_seconds)
    # The read of the facts joins the bounds: planned on stale counts (50 bounds where there
    # were 20,000) it probed the facts once per bound, 30 s a million; 20 ms of sampling here.
    await connection.execute("ANALYZE spark_session_bounds")
    return batch["events"], batch["latest"]


def facts_of_stream_users_query(stream: str) -> str:
    """What Spark reads to rebuild a batch's sessions: its users' facts from their bounds. The
    bounds of a stream are those of its batch in flight (`clear_incoming`), so one query serves
    every batch. Spark's JDBC reader takes no parameters, hence the quoted literal.

    Each user's facts are read through the (user_id, occurred_at) index, user by user (OFFSET 0
    keeps the planner from turning the lateral read back into a join): as a join, it walked the
    whole index instead, 3.8 s for 20 users among 2.5M facts, against 2 ms. The user comes from
    the bounds, so `user_shares` picks bounds before any fact is read."""
    columns = ", ".join("b.user_id" if c == "user_id" else
                        "f.event_id::text AS event_id" if c == "event_id" else f"f.{c}"
                        for c in SESSION_INPUT_COLUMNS)  # fmt: skip
    quoted = stream.replace("'", "''")
    return (
        f"SELECT {columns} FROM spark_session_bounds b CROSS JOIN LATERAL "
        "(SELECT * FROM fact_user_event f WHERE f.user_id = b.user_id "
        f"AND f.occurred_at >= b.lower_bound OFFSET 0) f WHERE b.stream = '{quoted}'"
    )


def user_shares(count: int) -> list[str]:
    """Conditions that split users into `count` disjoint shares, one per reading task."""
    return shares_of("user_id", count)


def shares_of(column: str, count: int) -> list[str]:
    """Conditions that split the values of a text column into `count` disjoint shares."""
    share_of = f"mod(hashtext({column})::bigint + 2147483648, {count:d})"  # hashtext is an int4
    return [f"{share_of} = {share:d}" for share in range(count)]


async def insert_facts_once(
    connections: Sequence[asyncpg.Connection], stream: str, batch_id: int
) -> None:
    """Of each event's copies in the batch the first (received first, then at the lowest Kafka
    position), unless fact_user_event has the event or the copy names an erased user. The
    rollups count them in the same statement (a trigger), so a replayed batch counts nothing.

    A share of the events per connection, side by side: 250,000 facts took one statement 5.5 s
    and two 3.8 s, each updating five indexes on a core. Shared by event, so all of an event's
    copies meet in one statement, whatever user each names. The shares' events are disjoint and
    their rollup upserts go in key order, so the statements queue on rollup rows, never in a
    circle."""
    select = FACT_NAMES.replace("event_id", "event_id::uuid", 1)
    earlier = no_earlier_copy("fact_user_event", "i.event_id::uuid", "i.occurred_at")
    first_copies = (
        "SELECT DISTINCT ON (event_id) * FROM spark_incoming_facts "
        "WHERE stream = $1 AND batch_id = $2 AND {share} "
        f"ORDER BY event_id, received_at, {KAFKA_POSITION}"
    )
    statement = (
        f"INSERT INTO fact_user_event ({FACT_NAMES}) SELECT {select} FROM ({first_copies}) i "
        f"WHERE {not_forgotten('i.user_id')} AND {earlier} "
        "ON CONFLICT (event_id, received_at) DO NOTHING"
    )
    shares = shares_of("event_id", len(connections))
    outcomes = await asyncio.gather(
        *(
            connection.execute(statement.format(share=share), stream, batch_id)
            for connection, share in zip(connections, shares, strict=True)
        ),
        return_exceptions=True,  # each statement ends before the batch fails on the first error
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


RECORD_GAP = """
    INSERT INTO spark_offset_gaps (stream, topic, kafka_partition, missing_from, missing_until)
    SELECT stream, topic, kafka_partition, next_offset, $4 FROM spark_offsets
    WHERE stream = $1 AND topic = $2 AND kafka_partition = $3 AND next_offset < $4
"""


async def forget_batches_of_a_new_checkpoint(connection: asyncpg.Connection, stream: str) -> int:
    """A checkpoint that starts afresh numbers its batches from 0 again: the records of the
    old ones would make the new ones look done. Forget them, and say so."""
    async with connection.transaction():
        forgotten = await connection.fetchval(
            "WITH gone AS (DELETE FROM spark_batches WHERE stream = $1 RETURNING 1) "
            "SELECT count(*) FROM gone",
            stream,
        )
        if forgotten:
            await connection.execute(
                "INSERT INTO spark_checkpoint_resets (stream, batches_forgotten) VALUES ($1, $2)",
                stream,
                forgotten,
            )
    return forgotten


async def commit_batch(
    connection: asyncpg.Connection,
    stream: str,
    batch_id: int,
    offsets: dict[tuple[str, int], tuple[int, int]],
    events: int,
    unparsed: int,
    max_received_at: datetime | None,
) -> None:
    """`offsets`: per partition, the batch's first offset and the next one to read."""
    async with connection.transaction():
        await connection.execute(
            "DELETE FROM dim_session s USING spark_session_bounds b "
            "WHERE b.stream = $1 AND b.batch_id = $2 AND s.user_id = b.user_id "
            "AND s.session_start >= b.lower_bound",
            stream,
            batch_id,
        )
        # Sessions Spark built from facts read before an erasure are not written.
        await connection.execute(
            f"INSERT INTO dim_session ({SESSION_NAMES}) SELECT {SESSION_NAMES} "
            "FROM spark_incoming_sessions "
            f"WHERE stream = $1 AND batch_id = $2 AND {not_forgotten('user_id')}",
            stream,
            batch_id,
        )
        # Where a batch starts past where the last one ended, Kafka had lost the records between.
        await connection.executemany(
            RECORD_GAP,
            [(stream, topic, part, first) for (topic, part), (first, _) in offsets.items()],
        )
        await connection.executemany(
            "INSERT INTO spark_offsets (stream, topic, kafka_partition, next_offset) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (stream, topic, kafka_partition) DO UPDATE SET "
            "next_offset = greatest(spark_offsets.next_offset, EXCLUDED.next_offset), "
            "updated_at = now()",
            [(stream, topic, part, next_) for (topic, part), (_, next_) in offsets.items()],
        )
        await connection.execute(
            "INSERT INTO spark_batches (stream, batch_id, events, unparsed, max_received_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            stream, batch_id, events, unparsed, max_received_at,
        )  # fmt: skip
        await clear_incoming(connection, stream)
    await session_locks.unlock_all(connection)
