"""`python -m app.jobs forget-user` on a running pipeline: every trace of the user goes, the
rollups follow, the audit holds no id in clear, and neither their events sent again through
Kafka, nor a replay, nor a new fallback run and promotion bring them back. (Spark reading their
events from Kafka: tests/integration/test_erasure_writers.py.)"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from pymongo import AsyncMongoClient

from app.ops.erasure import AUDIT_TABLES, USER_TABLES
from jobs.forgotten_users import user_hash
from tests.e2e.model_support import run_job
from tests.e2e.stores import wait_until_landed
from tests.event_factory import new_event


def activity(user: str) -> list[dict]:
    watch = {"action": "start", "position_seconds": 0.0, "duration_seconds": 5400.0}
    return [
        new_event("watch", user, payload=watch),
        new_event("click", user),
        new_event("comment", user, payload={"text": "Loved every minute.", "rating": 9}),
    ]


async def post(base_url: str, events: list[dict]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        response = await client.post("/events", json=events)
    assert response.status_code == 202, response.text


async def rows_of(pg, user: str) -> dict[str, int]:
    return {
        table: await pg.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", user)
        for table in USER_TABLES
    }


async def audit_rows_of(pg, user: str) -> dict[str, int]:
    return {
        table: await pg.fetchval(
            f"SELECT count(*) FROM {table} WHERE user_hash = $1", user_hash(user)
        )
        for table in AUDIT_TABLES
    }


async def backups_of(settings, user: str) -> int:
    client: AsyncMongoClient = AsyncMongoClient(settings.mongo_url)
    try:
        return await client[settings.mongo_database].user_logs.count_documents({"user_id": user})
    finally:
        await client.close()


async def day_totals(pg, day) -> tuple[int, int]:
    return tuple(await pg.fetchrow("SELECT events, comments FROM rollup_day WHERE day = $1", day))


async def dropped_by_staging(base_url: str) -> float:
    async with httpx.AsyncClient(base_url=base_url) as client:
        metrics = (await client.get("/metrics")).text
    found = re.search(r'erased_user_events_dropped_total\{sink="postgres_staging"\} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


async def test_forget_user_removes_every_trace_and_nothing_brings_it_back(settings, pg, service):
    started = datetime.now(UTC)
    gone, kept = f"erase-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"
    gone_events, kept_events = activity(gone), activity(kept)
    await post(service.base_url, gone_events + kept_events)
    landed = await wait_until_landed(
        settings, [e["event_id"] for e in gone_events + kept_events], 2
    )
    assert (landed.mongo, landed.staged) == (6, 6)
    window = ("--since", started.isoformat(),
              "--until", (datetime.now(UTC) + timedelta(seconds=1)).isoformat())  # fmt: skip
    run_job("fallback", *window)
    run_job("promote", "--since", started.isoformat())
    held = await rows_of(pg, gone)
    for table in ("stg_user_logs", "stg_comments", "fact_user_event", "fact_user_event_fallback",
                  "dim_session", "dim_session_fallback", "rollup_user_day"):  # fmt: skip
        assert held[table] > 0, f"the test's user has no rows in {table} to erase"
    today = started.date()
    events_before, comments_before = await day_totals(pg, today)
    valid, comments = await pg.fetchrow(
        "SELECT count(*) FILTER (WHERE is_valid), count(*) FILTER (WHERE is_valid AND "
        "event_type = 'comment') FROM fact_user_event WHERE user_id = $1",
        gone,
    )
    assert valid == 3
    assert await audit_rows_of(pg, gone) == dict.fromkeys(AUDIT_TABLES, 3)

    dry = run_job("forget-user", gone, "--dry-run").stdout
    assert "would remove" in dry and gone not in dry
    assert await rows_of(pg, gone) == held, "a dry run removes nothing"

    erased = run_job("forget-user", gone, "--requested-by", "privacy-team").stdout
    assert gone not in erased, "the output names the user only by digest"
    assert await rows_of(pg, gone) == dict.fromkeys(USER_TABLES, 0)
    assert await audit_rows_of(pg, gone) == dict.fromkeys(AUDIT_TABLES, 0)
    assert await backups_of(settings, gone) == 0
    assert await day_totals(pg, today) == (events_before - valid, comments_before - comments)
    audit = await pg.fetchrow(
        "SELECT requested_by, finished_at, rows_removed::text AS removed FROM erasures "
        "WHERE user_hash = $1",
        user_hash(gone),
    )
    assert audit["requested_by"] == "privacy-team" and audit["finished_at"] is not None
    assert gone not in audit["removed"]
    kept_rows = await rows_of(pg, kept)
    assert (kept_rows["stg_user_logs"], kept_rows["fact_user_event"]) == (3, 3)

    # Their events come again (a client resending, a dead letter redriven), with a marker of
    # the other user that shows the consumers have read past them.
    dropped_before = await dropped_by_staging(service.ops_url)
    marker = new_event("click", kept)
    await post(service.base_url, [*gone_events, marker])
    landed = await wait_until_landed(settings, [marker["event_id"]], 0)
    assert (landed.mongo, landed.staged) == (1, 1)
    assert await dropped_by_staging(service.ops_url) - dropped_before == len(gone_events)

    replayed = run_job("replay", *window[:2], "--until", datetime.now(UTC).isoformat()).stdout
    assert "replay: 4 of 4 events published again" in replayed, (
        "the other user's, and none of theirs"
    )
    run_job("fallback", "--since", started.isoformat(), "--until", datetime.now(UTC).isoformat())
    run_job("promote", "--since", started.isoformat())

    assert await audit_rows_of(pg, gone) == dict.fromkeys(AUDIT_TABLES, 0)
    assert await rows_of(pg, gone) == dict.fromkeys(USER_TABLES, 0)
    assert await backups_of(settings, gone) == 0
