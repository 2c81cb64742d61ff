"""The Spark batch merge shares its insert out over connections: every fact of the batch lands
once, those already in stay as they were (a client's retry of them, received an hour later,
included), and the rollups count each new fact once. Of an event's copies in one batch, the
merge keeps the one received first, then the one at the lowest Kafka position."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from jobs.rules import load_rules
from jobs.spark import batch_store
from tests.integration.fact_support import add_fact

RULES = load_rules()


def at_position(topic: str, partition: int, offset: int) -> dict[str, object]:
    return {"kafka_topic": topic, "kafka_partition": partition, "kafka_offset": offset}


async def merge(settings, stream: str) -> tuple[int, datetime | None]:
    connections = [await asyncpg.connect(settings.database_url) for _ in range(2)]
    try:
        return await batch_store.merge_facts(connections, stream, 0, RULES.inactivity_gap_seconds)
    finally:
        for connection in connections:
            await connection.close()


async def share_of(pg: asyncpg.Connection, event_id: uuid.UUID, shares: int) -> int:
    """Which connection's statement inserts the event: the merge shares by event id."""
    for share, condition in enumerate(batch_store.shares_of("event_id", shares)):
        if await pg.fetchval(f"SELECT {condition} FROM (SELECT $1::text AS event_id) e",
                             str(event_id)):  # fmt: skip
            return share
    raise AssertionError(f"{event_id} is in no share")


async def test_a_batch_merged_over_two_connections_lands_once(settings, pg, unique):
    stream = f"merge-{unique}"
    at = datetime(2005, 1, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)
    users = [f"merge-{unique}-{n}" for n in range(10)]
    incoming = {uuid.uuid4(): user for user in users for _ in range(4)}
    assert {await share_of(pg, event_id, 2) for event_id in incoming} == {0, 1}  # both work
    already_in = list(incoming)[::8]  # 5 of them, received first; the batch has their retries
    for event_id in already_in:
        await add_fact(pg, "fact_user_event", incoming[event_id], at, event_id=event_id)
    retried = at + timedelta(hours=1)
    for offset, (event_id, user) in enumerate(incoming.items()):
        await add_fact(pg, "spark_incoming_facts", user, at, retried, event_id=event_id,
                       source_flag="spark", stream=stream, batch_id=0,
                       **at_position("user_click_log", 0, offset))  # fmt: skip
    twice, last = list(incoming)[1], retried + timedelta(seconds=1)  # one event twice in it
    await add_fact(pg, "spark_incoming_facts", incoming[twice], at, last, event_id=twice,
                   source_flag="spark", stream=stream, batch_id=0,
                   **at_position("user_click_log", 1, 0))  # fmt: skip
    try:
        events, latest = await merge(settings, stream)
    finally:
        await batch_store.clear_incoming(pg, stream)

    assert (events, latest) == (len(incoming), last)  # events, not copies
    rows = await pg.fetch(
        "SELECT event_id, source_flag FROM fact_user_event WHERE user_id = ANY($1::text[])", users
    )
    assert sorted(row["event_id"] for row in rows) == sorted(incoming)
    assert {row["event_id"] for row in rows if row["source_flag"] == "pandas"} == set(already_in)
    counted = await pg.fetchval(
        "SELECT count(*) FROM fact_user_event WHERE event_date = $1 AND is_valid", at.date()
    )
    assert await pg.fetchval("SELECT events FROM rollup_day WHERE day = $1", at.date()) == counted


async def test_of_an_events_copies_the_first_received_then_the_lowest_position_lands(
    settings, pg, unique
):
    stream = f"merge-{unique}"
    at = datetime(2005, 2, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)
    tied, earliest = uuid.uuid4(), uuid.uuid4()
    copies = [  # (event, user marking the copy, received, position)
        (tied, f"tied-{unique}-a", at, at_position("user_watch_log", 0, 5)),
        (tied, f"tied-{unique}-b", at, at_position("user_click_log", 2, 9)),
        (tied, f"tied-{unique}-c", at, at_position("user_click_log", 1, 7)),  # the lowest
        (tied, f"tied-{unique}-d", at, at_position("user_click_log", 1, 8)),
        (earliest, f"early-{unique}-a", at + timedelta(seconds=2), at_position("a", 0, 0)),
        (earliest, f"early-{unique}-b", at + timedelta(seconds=1), at_position("z", 9, 99)),
    ]
    for event_id, user, received, position in copies:
        await add_fact(pg, "spark_incoming_facts", user, at, received, event_id=event_id,
                       source_flag="spark", stream=stream, batch_id=0, **position)  # fmt: skip
    try:
        events, _ = await merge(settings, stream)
    finally:
        await batch_store.clear_incoming(pg, stream)

    assert events == 2
    landed = await pg.fetch(
        "SELECT event_id, user_id FROM fact_user_event WHERE event_id = ANY($1::uuid[])",
        [tied, earliest],
    )
    assert len(landed) == 2  # one copy each, though the copies name users of both shares
    assert {row["event_id"]: row["user_id"] for row in landed} == {
        tied: f"tied-{unique}-c", earliest: f"early-{unique}-b",
    }  # fmt: skip
