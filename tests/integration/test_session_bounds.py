"""Where the Spark stream rebuilds a user's sessions from: the run holding the first session the
new events can touch, so max-length cuts stay where they were."""

from __future__ import annotations

from datetime import UTC, datetime

from jobs.spark.batch_store import SESSION_BOUNDS, clear_incoming

GAP_SECONDS = 1800


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


async def add_session(pg, user: str, start: datetime, end: datetime) -> None:
    await pg.execute(
        "INSERT INTO dim_session (session_id, user_id, session_start, session_end, "
        "duration_seconds, event_count, watch_count, click_count, comment_count, "
        "movies_watched, watch_seconds, rules_version, source_flag) "
        "VALUES ($1, $2, $3, $4, 0, 1, 0, 0, 0, 0, 0, 'test', 'spark')",
        f"{user}:{start.timestamp()}", user, start, end,
    )  # fmt: skip


async def add_incoming(pg, stream: str, user: str, occurred_at: datetime) -> None:
    await pg.execute(
        "INSERT INTO spark_incoming_facts (stream, batch_id, event_id, event_type, user_id, "
        "occurred_at, received_at, event_date, event_hour, is_completed, is_valid, "
        "rules_version, source_flag, kafka_topic, kafka_partition, kafka_offset) "
        "VALUES ($1, 0, gen_random_uuid()::text, 'click', $2, $3::timestamptz, $3::timestamptz, "
        "($3::timestamptz)::date, 0, false, true, 'test', 'spark', 'user_click_log', 0, 0)",
        stream, user, occurred_at,
    )  # fmt: skip


async def test_bounds_start_at_the_touched_run(pg, unique):
    stream = f"bounds-{unique}"
    near_piece, before_all, fresh = (f"{name}-{unique}" for name in ("piece", "before", "fresh"))
    # One run cut by the four-hour maximum: 11:00-14:59 and 15:00-15:30; an earlier run 10:00-10:20.
    for user in (near_piece, before_all):
        await add_session(pg, user, at(10), at(10, 20))
        await add_session(pg, user, at(11), at(14, 59))
        await add_session(pg, user, at(15), at(15, 30))
    await add_incoming(pg, stream, near_piece, at(15, 10))  # touches the run's first piece
    await add_incoming(pg, stream, before_all, at(10, 40))  # within the gap of the 10:00 run
    await add_incoming(pg, stream, fresh, at(9))  # a user without sessions
    try:
        await pg.execute(SESSION_BOUNDS, stream, 0, GAP_SECONDS)
        rows = await pg.fetch(
            "SELECT user_id, lower_bound FROM spark_session_bounds WHERE stream = $1", stream
        )
    finally:
        await pg.execute("DELETE FROM spark_session_bounds WHERE stream = $1", stream)
        await pg.execute("DELETE FROM spark_incoming_facts WHERE stream = $1", stream)
        await pg.execute(
            "DELETE FROM dim_session WHERE user_id = ANY($1::text[])", [near_piece, before_all]
        )
    assert {row["user_id"]: row["lower_bound"] for row in rows} == {
        near_piece: at(11),  # the run's start, not the 15:00 piece's
        before_all: at(10),
        fresh: at(9),
    }


async def test_a_stream_reads_the_bounds_of_its_batch_in_flight_only(pg, unique):
    """A batch that died leaves its rows under its own batch id; the next batch, under another
    id, must not rebuild that batch's users from them."""
    stream, other = f"flight-{unique}", f"flight-other-{unique}"
    for name, batch_id in ((stream, 7), (stream, 8), (other, 7)):
        await pg.execute(
            "INSERT INTO spark_session_bounds (stream, batch_id, user_id, lower_bound) "
            "VALUES ($1, $2, $3, $4)",
            name, batch_id, f"left-{batch_id}-{unique}", at(1),
        )  # fmt: skip
    await clear_incoming(pg, stream)
    left = await pg.fetch("SELECT stream FROM spark_session_bounds WHERE stream = ANY($1)",
                          [stream, other])  # fmt: skip
    assert [row["stream"] for row in left] == [other]
    await pg.execute("DELETE FROM spark_session_bounds WHERE stream = $1", other)
