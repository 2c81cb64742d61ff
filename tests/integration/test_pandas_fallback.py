"""The pandas fallback on the real PostgreSQL: staged events read as columns, facts inserted a
chunk at a time, and sessions rebuilt from each user's bound with what a rebuild of all their
facts gives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pandas as pd

from jobs.forgotten_users import user_hash
from jobs.model_columns import SESSION_COLUMNS
from jobs.model_store import fact_rows, insert_fact_rows, read_facts_of_users, session_bounds
from jobs.pandas.events_frame import events_frame, staged_frame
from jobs.pandas.fallback import FACTS, SESSIONS, build_fallback, staged_chunks
from jobs.pandas.transforms import build_facts, build_sessions
from jobs.rules import load_rules
from tests.support import partitions_for_days

RULES = load_rules()
GAP = timedelta(seconds=RULES.inactivity_gap_seconds)
COMPARED = [column for column in SESSION_COLUMNS if column != "rules_version"]


def a_moment(unique: str, year: int) -> datetime:
    """A receipt time no other test uses, so a range around it holds only this test's rows."""
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=int(unique, 16) % 10**7)


def click(user: str, occurred_at: datetime, received_at: datetime, **fields: Any) -> dict:
    """A stored click event."""
    return {
        "event_id": str(uuid.uuid4()), "event_type": "click", "user_id": user,
        "session_id": f"s-{user}", "movie_id": 550, "occurred_at": occurred_at.isoformat(),
        "received_at": received_at.isoformat(), "schema_version": 1,
        "context": {"page": "/movie/550", "device": "tv"}, "payload": {"element": "play"},
    } | fields  # fmt: skip


async def stage(pg, events: list[dict]) -> None:
    offsets = iter(range(uuid.uuid4().int % 10**12, 10**13))
    received = [datetime.fromisoformat(e["received_at"]) for e in events]
    await partitions_for_days(pg, min(received), max(received))
    await pg.executemany(
        "INSERT INTO stg_user_logs (event_id, event_type, user_id, session_id, movie_id, "
        "occurred_at, received_at, schema_version, context, payload, kafka_topic, "
        "kafka_partition, kafka_offset) VALUES ($1::uuid, $2, $3, $4, $5, $6::text::timestamptz, "
        "$7::text::timestamptz, $8, $9::jsonb, $10::jsonb, 'user_click_log', 0, $11)",
        [
            (e["event_id"], e["event_type"], e["user_id"], e["session_id"], e["movie_id"],
             e["occurred_at"], e["received_at"], e["schema_version"],
             orjson.dumps(e["context"]).decode(), orjson.dumps(e["payload"]).decode(),
             next(offsets))
            for e in events
        ],
    )  # fmt: skip


async def run_fallback_over(pg, events: list[dict]) -> None:
    """Stage the events and run the fallback over exactly their receipts."""
    await stage(pg, events)
    received = [datetime.fromisoformat(event["received_at"]) for event in events]
    await build_fallback(pg, RULES, min(received), max(received) + timedelta(microseconds=1))


async def stored_sessions(pg, user: str) -> pd.DataFrame:
    rows = await pg.fetch(
        f"SELECT {', '.join(SESSION_COLUMNS)} FROM {SESSIONS} WHERE user_id = $1 "
        "ORDER BY session_start",
        user,
    )
    return pd.DataFrame([tuple(row) for row in rows], columns=list(SESSION_COLUMNS))


async def rebuilt_from_all_facts(pg, user: str) -> pd.DataFrame:
    sessions = build_sessions(await read_facts_of_users(pg, FACTS, [user]), RULES)
    return sessions.sort_values("session_start").reset_index(drop=True)


def assert_same_sessions(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert stored[COMPARED].to_dict("records") == expected[COMPARED].to_dict("records")


async def test_staged_chunks_read_as_events_frame_reads_the_stored_events(pg, unique):
    received = a_moment(unique, 2005)
    user = f"columns-{unique}"
    events = [
        click(user, received - timedelta(minutes=1), received),
        click(user, received, received + timedelta(seconds=1), movie_id=None, session_id=None,
              context={}, payload={"element": "Zoë 🍿", "target": None}),
        click(user, received, received + timedelta(seconds=2), movie_id=2**60 + 1,
              payload={"rating": 7, "element": {"nested": [1, 2.5]}}),
    ]  # fmt: skip
    await stage(pg, events)
    chunks = [
        staged_frame(chunk)
        async for chunk in staged_chunks(pg, received, received + timedelta(seconds=3), 2)
    ]
    read = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(read, events_frame(events))
    assert read.loc[2, "movie_id"] == 2**60 + 1  # whole, not through a float


async def test_each_insert_in_one_transaction_goes_over_its_own_rows_only(pg, unique):
    received = a_moment(unique, 2006)
    user = f"insert-{unique}"
    first, second = (
        build_facts(events_frame([click(user, received, received)]), RULES) for _ in range(2)
    )
    async with pg.transaction():
        assert await insert_fact_rows(pg, fact_rows(first, "pandas"), FACTS) == 1
        assert await insert_fact_rows(pg, fact_rows(first, "pandas"), FACTS) == 0  # already in
        assert await insert_fact_rows(pg, fact_rows(second, "pandas"), FACTS) == 1
        assert await pg.fetchval(f"SELECT count(*) FROM incoming_{FACTS}") == 0


async def test_a_retried_event_received_anew_makes_one_fact(pg, unique):
    """The fact tables' key holds the receive time: the writer's look-back keeps the retry out,
    received in another month, and of two copies in one batch keeps the first."""
    occurred = a_moment(unique, 2011).replace(month=1, day=31, hour=23)
    user = f"retry-{unique}"
    event = click(user, occurred, occurred)
    retried = {**event, "received_at": (occurred + timedelta(hours=2)).isoformat()}
    rows = fact_rows(build_facts(events_frame([event]), RULES), "pandas")
    again = fact_rows(build_facts(events_frame([retried]), RULES), "pandas")
    pair = click(user, occurred, occurred)
    both = [pair, {**pair, "received_at": (occurred + timedelta(seconds=5)).isoformat()}]
    twice = fact_rows(build_facts(events_frame(both), RULES), "pandas")
    async with pg.transaction():
        assert await insert_fact_rows(pg, rows, FACTS) == 1
        assert await insert_fact_rows(pg, again, FACTS) == 0  # the next day, the next month
        assert await insert_fact_rows(pg, twice, FACTS) == 1
        kept = await pg.fetch(
            f"SELECT received_at FROM {FACTS} WHERE user_id = $1 ORDER BY received_at", user
        )
        assert [row[0] for row in kept] == [occurred, occurred]
        await pg.execute(f"DELETE FROM {FACTS} WHERE user_id = $1", user)


async def add_session(pg, user: str, start: datetime, end: datetime) -> None:
    await pg.execute(
        f"INSERT INTO {SESSIONS} (session_id, user_id, session_start, session_end, "
        "duration_seconds, event_count, watch_count, click_count, comment_count, "
        "movies_watched, watch_seconds, rules_version, source_flag) "
        "VALUES ($1, $2, $3, $4, 0, 1, 0, 1, 0, 0, 0, 'test', 'pandas')",
        f"{user}:{start.timestamp()}", user, start, end,
    )  # fmt: skip


async def test_bounds_start_at_the_run_holding_the_first_touched_session(pg, unique):
    def at(hour: int, minute: int = 0) -> datetime:
        return a_moment(unique, 2007).replace(hour=hour, minute=minute)

    near_piece, before_all, fresh = (f"{name}-{unique}" for name in ("piece", "before", "fresh"))
    # One run cut by the four-hour maximum: 11:00-14:59 and 15:00-15:30; an earlier run 10:00-10:20.
    for user in (near_piece, before_all):
        await add_session(pg, user, at(10), at(10, 20))
        await add_session(pg, user, at(11), at(14, 59))
        await add_session(pg, user, at(15), at(15, 30))
    earliest_new = {
        near_piece: at(15, 10),  # touches the run's second piece
        before_all: at(10, 40),  # within the gap of the 10:00 run
        fresh: at(9),  # a user without sessions
    }
    bounds = await session_bounds(pg, SESSIONS, earliest_new, RULES.inactivity_gap_seconds)
    assert bounds == {near_piece: at(11), before_all: at(10), fresh: at(9)}


async def test_a_late_event_merges_sessions_and_earlier_ones_are_kept(pg, unique):
    user = f"late-{unique}"
    start = a_moment(unique, 2008)
    received = start + timedelta(days=1)
    minutes = (-300, 0, 10, 50, 60)  # -300 alone; then 0-10 and 50-60, 40 minutes apart
    await run_fallback_over(
        pg, [click(user, start + timedelta(minutes=m), received) for m in minutes]
    )
    assert len(await stored_sessions(pg, user)) == 3
    # The lone session lies before any bound: it is kept as it is, never rebuilt.
    earliest = start + timedelta(minutes=-300)
    await pg.execute(
        f"UPDATE {SESSIONS} SET rules_version = 'kept' WHERE user_id = $1 AND session_start = $2",
        user, earliest,
    )  # fmt: skip
    late = click(user, start + timedelta(minutes=30), received + timedelta(hours=1))
    await run_fallback_over(pg, [late])
    stored = await stored_sessions(pg, user)
    assert list(stored["event_count"]) == [1, 5]
    assert_same_sessions(stored, await rebuilt_from_all_facts(pg, user))
    assert list(stored["rules_version"]) == ["kept", RULES.version]


async def test_a_late_event_keeps_the_cuts_of_the_run_it_extends(pg, unique):
    """Cut from the run's first event, not from the piece the late events touch: 485 minutes
    in is past the second cut (480), not within 240 minutes of the second piece (250)."""
    user = f"cuts-{unique}"
    start = a_moment(unique, 2009)
    received = start + timedelta(days=1)
    await run_fallback_over(
        pg, [click(user, start + timedelta(minutes=m), received) for m in range(0, 400, 25)]
    )
    later = (400, 425, 450, 475, 485)
    await run_fallback_over(
        pg,
        [click(user, start + timedelta(minutes=m), received + timedelta(hours=1)) for m in later],
    )
    stored = await stored_sessions(pg, user)
    assert list(stored["session_start"]) == [start + timedelta(minutes=m) for m in (0, 250, 485)]
    assert_same_sessions(stored, await rebuilt_from_all_facts(pg, user))


async def test_the_fallback_writes_nothing_of_a_listed_user(pg, unique):
    gone, kept = f"gone-{unique}", f"kept-{unique}"
    received = a_moment(unique, 2010)
    await pg.execute("INSERT INTO forgotten_users (user_hash) VALUES ($1)", user_hash(gone))
    await run_fallback_over(pg, [click(user, received, received) for user in (gone, kept)])
    for table in (FACTS, SESSIONS):
        rows = await pg.fetch(
            f"SELECT user_id FROM {table} WHERE user_id = ANY($1::text[])", [gone, kept]
        )
        assert [row["user_id"] for row in rows] == [kept], table
