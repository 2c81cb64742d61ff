"""Staging partitioned by receive day keeps one row per event id: a redelivered batch, a client's
retry received anew (another day's partition), and two copies in one batch each stage once;
a batch received where no partition is yet gets one at write time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson

from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import DecodedEvent, SourceRecord, decode_event
from app.db.postgres import PostgresPool
from tests.event_factory import new_event

OFFSETS = iter(range(3 * 10**9, 4 * 10**9))


def received(event: dict, at: datetime, topic: str = "user_comment_log") -> DecodedEvent:
    stored = {**event, "received_at": at.isoformat(), "schema_version": 1}
    return decode_event(SourceRecord(topic, 0, next(OFFSETS), b"k", orjson.dumps(stored)))


async def staged(pg, table: str, event_id: str) -> list[datetime]:
    rows = await pg.fetch(
        f"SELECT received_at FROM {table} WHERE event_id = $1", uuid.UUID(event_id)
    )
    return [row[0] for row in rows]


async def test_copies_of_an_event_stage_once_whenever_they_are_received(settings, pg, unique):
    now = datetime.now(UTC)
    first_seen, retried = now - timedelta(days=1), now
    comment = new_event("comment", f"ana-{unique}", occurred_at=first_seen.isoformat())
    pair = new_event("click", f"ana-{unique}")
    sink = PostgresStagingSink(PostgresPool(settings.database_url))
    try:
        assert await sink.write([received(comment, first_seen)]) == {}
        assert await sink.write([received(comment, first_seen)]) == {}  # redelivered
        assert await sink.write([received(comment, retried)]) == {}  # the client's retry
        both = [received(pair, now), received(pair, now + timedelta(seconds=3))]
        assert await sink.write(both) == {}  # two copies in one batch
    finally:
        await sink._pool.close()

    assert await staged(pg, "stg_user_logs", comment["event_id"]) == [first_seen]
    assert await staged(pg, "stg_comments", comment["event_id"]) == [first_seen]
    assert await staged(pg, "stg_user_logs", pair["event_id"]) == [now]
    conflicts = await pg.fetchval(
        "SELECT count(*) FROM event_id_conflicts WHERE event_id = ANY($1::uuid[])",
        [uuid.UUID(comment["event_id"]), uuid.UUID(pair["event_id"])],
    )
    assert conflicts == 0, "a copy with the same content is no conflict"


async def test_a_day_without_a_partition_gets_one_when_written(settings, pg, unique):
    # Received past the partitions added ahead, as if the scheduler had stopped for years.
    later = datetime(2031, 3, 5, 12, tzinfo=UTC)
    event = new_event("click", f"bo-{unique}", occurred_at=later.isoformat())
    sink = PostgresStagingSink(PostgresPool(settings.database_url))
    try:
        assert await sink.write([received(event, later, "user_click_log")]) == {}
    finally:
        await sink._pool.close()
    try:
        assert await staged(pg, "stg_user_logs", event["event_id"]) == [later]
        partition = await pg.fetchval(
            "SELECT tableoid::regclass::text FROM stg_user_logs WHERE event_id = $1",
            uuid.UUID(event["event_id"]),
        )
        assert partition == "stg_user_logs_20310305"
    finally:
        await pg.execute("DELETE FROM stg_user_logs WHERE received_at >= '2031-03-05'")
        await pg.execute("DROP TABLE IF EXISTS stg_user_logs_20310305, stg_comments_20310305")
