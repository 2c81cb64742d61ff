"""The Spark stream reads its batch's users' facts in shares, a task each: every user falls in
exactly one share, whatever its id."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from jobs.spark.batch_store import facts_of_stream_users_query, user_shares


async def test_each_user_falls_in_exactly_one_share(pg) -> None:
    users = [f"user-{n}" for n in range(300)] + ["", "ü-ñ", "x" * 200]
    shares = []
    for condition in user_shares(3):
        rows = await pg.fetch(
            f"SELECT user_id FROM unnest($1::text[]) AS users (user_id) WHERE {condition}", users
        )
        shares.append([row["user_id"] for row in rows])
    assert sorted(user for share in shares for user in share) == sorted(users)
    assert all(len(share) > 50 for share in shares)  # the shares are of similar size


async def test_a_share_reads_only_its_users_facts_from_their_bounds(pg, unique) -> None:
    """Each bound user's facts come through the (user_id, occurred_at) index, a probe per user,
    and no other fact is read. As a join, the planner once walked the whole index instead, every
    fact of every user: 3.8 s for 20 users among 2.5M facts."""
    stream = f"shares-{unique}"
    users = [f"shares-{unique}-{n}" for n in range(50)]
    start = datetime(1998, 3, 1, tzinfo=UTC)  # before any other test's days
    facts = [
        (uuid.uuid4(), "click", user, start + timedelta(minutes=minute), start.date(), 0)
        for user in users
        for minute in range(60)
    ]
    await pg.executemany(
        "INSERT INTO fact_user_event (event_id, event_type, user_id, occurred_at, received_at, "
        "event_date, event_hour, is_completed, is_valid, rules_version, source_flag) "
        "VALUES ($1, $2, $3, $4, $4, $5, $6, false, true, 'test:1', 'spark')",
        facts,
    )
    bounded = users[:2]  # 60 facts each, the last 10 minutes of them from the bound on
    await pg.executemany(
        "INSERT INTO spark_session_bounds (stream, batch_id, user_id, lower_bound) "
        "VALUES ($1, 0, $2, $3)",
        [(stream, user, start + timedelta(minutes=50)) for user in bounded],
    )
    await pg.execute("ANALYZE fact_user_event")
    await pg.execute("ANALYZE spark_session_bounds")
    try:
        read = facts_of_stream_users_query(stream)
        async with pg.transaction():
            # What the planner chose on millions of facts, made its first choice here: the
            # read must probe per user whatever the statistics say.
            await pg.execute("SET LOCAL enable_nestloop = off")
            rows = await pg.fetch(f"SELECT * FROM ({read}) AS f")
            [plan] = json.loads(
                await pg.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM ({read}) AS f")
            )
    finally:
        await pg.execute("DELETE FROM spark_session_bounds WHERE stream = $1", stream)
        await pg.execute("DELETE FROM fact_user_event WHERE user_id = ANY($1)", users)
    assert sorted({row["user_id"] for row in rows}) == sorted(bounded) and len(rows) == 20
    assert fact_rows_read(plan["Plan"]) <= len(rows)
    assert fact_scan_loops(plan["Plan"]) == [len(bounded)]  # one probe per bound user


def fact_scan_loops(node: dict) -> list[int]:
    """The loops of each executed scan of fact_user_event's partitions."""
    own = []
    if node.get("Relation Name", "").startswith("fact_user_event") and node["Actual Loops"]:
        own = [node["Actual Loops"]]
    return own + [loops for child in node.get("Plans", []) for loops in fact_scan_loops(child)]


def fact_rows_read(node: dict) -> int:
    """Rows the plan's scans of fact_user_event (its partitions) produced, over all loops."""
    own = 0
    if node.get("Relation Name", "").startswith("fact_user_event"):
        own = node["Actual Rows"] * node["Actual Loops"] + node.get("Rows Removed by Filter", 0)
    return own + sum(fact_rows_read(child) for child in node.get("Plans", []))
