"""A model that moves while the read API is measured: a writer committing Spark-like batches.

Every `every_seconds` it merges a batch of fresh facts through the stream's own insert
(`insert_facts_once`, so the rollup trigger counts them) and records the batch in
`spark_batches` for the service's stream, which moves `as_of` and with it every answer's ETag.
The facts are copies of sampled ones under new ids, happening within the last hour, as a live
stream's are.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field

import asyncpg

from jobs.spark.batch_store import insert_facts_once

SAMPLE = (
    "INSERT INTO spark_incoming_facts SELECT $1, $2, f.*, 'bench', 0, 0 FROM fact_user_event f "
    "TABLESAMPLE SYSTEM (1) LIMIT $3"
)
NEW_IDS = (
    "UPDATE spark_incoming_facts SET event_id = gen_random_uuid()::text "
    "WHERE stream = $1 AND batch_id = $2"
)
# Within the last hour, as a live stream's facts are; the day and hour follow in a second
# statement, as an UPDATE's expressions see the row as it was.
NOW = """
    UPDATE spark_incoming_facts SET
        occurred_at = now() - random() * interval '1 hour', received_at = now()
    WHERE stream = $1 AND batch_id = $2
"""
DATE_AND_HOUR = """
    UPDATE spark_incoming_facts SET event_date = (occurred_at AT TIME ZONE 'UTC')::date,
        event_hour = extract(hour FROM occurred_at AT TIME ZONE 'UTC')::smallint
    WHERE stream = $1 AND batch_id = $2
"""
RECORD = """
    INSERT INTO spark_batches (stream, batch_id, events, unparsed, max_received_at)
    VALUES ($1, $2, $3, 0, now())
"""


@dataclass
class MovingModel:
    """Commits batches until stopped; `commits` and `seconds_writing` say what it did."""

    url: str
    stream: str  # the service's SPARK_CHECKPOINT_DIR, whose batches its `as_of` reads
    every_seconds: float
    per_batch: int
    commits: int = 0
    seconds_writing: float = 0.0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def __aenter__(self) -> MovingModel:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        connection = await asyncpg.connect(self.url)
        # Its own numbering: the service's stream may already have batches from an earlier mode.
        first = await connection.fetchval(
            "SELECT coalesce(max(batch_id) + 1, 0) FROM spark_batches WHERE stream = $1",
            self.stream,
        )
        incoming = f"bench-moving-{uuid.uuid4().hex[:8]}"
        try:
            for batch in itertools.count(first):
                started = time.perf_counter()
                await self._commit(connection, incoming, batch)
                elapsed = time.perf_counter() - started
                self.commits += 1
                self.seconds_writing += elapsed
                await asyncio.sleep(max(0.0, self.every_seconds - elapsed))
        finally:
            await connection.close()

    async def _commit(self, connection: asyncpg.Connection, incoming: str, batch: int) -> None:
        await sampled_batch(connection, incoming, batch, self.per_batch)
        await connection.execute(NOW, incoming, batch)
        await connection.execute(DATE_AND_HOUR, incoming, batch)
        await insert_facts_once([connection], incoming, batch)
        async with connection.transaction():
            await connection.execute(RECORD, self.stream, batch, self.per_batch)
            await connection.execute("DELETE FROM spark_incoming_facts WHERE stream = $1", incoming)


async def sampled_batch(
    connection: asyncpg.Connection, stream: str, batch: int, count: int
) -> None:
    """An incoming batch of `count` facts sampled from fact_user_event, under new ids."""
    await connection.execute(SAMPLE, stream, batch, count)
    await connection.execute(NEW_IDS, stream, batch)
