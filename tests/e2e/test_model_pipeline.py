"""The model end to end: Spark and the pandas fallback agree; Spark survives a kill; in `auto`
a stopped Spark is covered by the fallback, which an admin promotes exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from datetime import UTC, datetime, timedelta

from app.consumers.groups import GROUPS
from tests.e2e.model_support import (
    FACT_COMPARED,
    SESSION_COMPARED,
    event_mix,
    fresh_users,
    model_rows,
    post_all,
    run_job,
    spawn_job,
    starting_offsets_now,
)
from tests.e2e.stores import wait_until_landed
from tests.integration.serving_support import (
    api_client,
    check_emotion_trends,
    check_top_movies,
    check_user_stats,
)
from tests.support import ServiceProcess


async def count_facts(pg, table: str, users: list[str]) -> tuple[int, int]:
    row = await pg.fetchrow(
        f"SELECT count(*), count(DISTINCT event_id) FROM {table} WHERE user_id = ANY($1::text[])",
        users,
    )
    return row[0], row[1]


async def wait_for_spark_batch(pg, checkpoint: str, process: subprocess.Popen) -> None:
    async with asyncio.timeout(120):
        while not await pg.fetchval("SELECT 1 FROM spark_batches WHERE stream = $1", checkpoint):
            assert process.poll() is None, "the Spark stream exited early"
            await asyncio.sleep(0.5)


async def check_public_api(settings, pg, users: list[str]) -> None:
    """The read API agrees with SQL over fact_user_event and dim_session."""
    today = datetime.now(UTC).date()
    since = today - timedelta(days=1)
    days = {"since": since.isoformat(), "until": today.isoformat()}
    async with api_client(settings) as client:
        for metric in ("views", "watch_seconds", "comments", "avg_rating"):
            await check_top_movies(client, pg, settings, {**days, "metric": metric})
        for user in users:
            await check_user_stats(client, pg, user, since, today)
        await check_emotion_trends(client, pg, {**days, "movie_id": 550})
        await check_emotion_trends(client, pg, {**days, "granularity": "week"})


async def test_spark_survives_a_kill_and_agrees_with_the_fallback(service, settings, pg, tmp_path):
    users = fresh_users(4)
    offsets = await starting_offsets_now(settings)
    before = datetime.now(UTC)
    events = event_mix(users)
    accepted = await post_all(service.base_url, events)
    comments = {e["event_id"] for e in events if e["event_type"] == "comment"} & accepted
    landed = await wait_until_landed(settings, accepted, len(comments), limit_seconds=60)
    assert (landed.staged, landed.comments) == (len(accepted), len(comments)), landed
    after = datetime.now(UTC) + timedelta(seconds=1)

    checkpoint = str(tmp_path / "checkpoint")
    env = {"SPARK_CHECKPOINT_DIR": checkpoint, "SPARK_STARTING_OFFSETS": offsets,
           "SPARK_MAX_OFFSETS_PER_TRIGGER": "30", "SPARK_TRIGGER_SECONDS": "1"}  # fmt: skip
    stream = spawn_job("spark", **env)
    try:
        await wait_for_spark_batch(pg, checkpoint, stream)
    finally:
        stream.send_signal(signal.SIGKILL)
        stream.wait()
    await asyncio.to_thread(run_job, "spark", "--available-now", **env)

    assert await count_facts(pg, "fact_user_event", users) == (len(accepted), len(accepted))
    assert await pg.fetchval(
        "SELECT count(*) FROM dim_session WHERE user_id = ANY($1::text[])", users
    ) >= 2 * len(users)
    await check_public_api(settings, pg, users)

    await asyncio.to_thread(
        run_job, "fallback", "--since", before.isoformat(), "--until", after.isoformat()
    )
    await check_public_api(settings, pg, users)  # fallback facts count once promoted, not before
    spark_facts = await model_rows(pg, "fact_user_event", FACT_COMPARED, users)
    pandas_facts = await model_rows(pg, "fact_user_event_fallback", FACT_COMPARED, users)
    assert spark_facts == pandas_facts
    spark_sessions = await model_rows(pg, "dim_session", SESSION_COMPARED, users)
    pandas_sessions = await model_rows(pg, "dim_session_fallback", SESSION_COMPARED, users)
    assert spark_sessions == pandas_sessions


async def test_auto_fallback_covers_a_stopped_spark_and_promotion_is_exact(settings, pg, tmp_path):
    users = fresh_users(3)
    offsets = await starting_offsets_now(settings)
    before = datetime.now(UTC)
    previous_mode = run_job("fallback-mode").stdout.split()[-1]
    run_job("fallback-mode", "auto")
    watcher = ServiceProcess(
        SPARK_HEALTH_CRON="*/2 * * * * *",
        SPARK_STARTUP_GRACE_SECONDS="0",
        SPARK_LAG_THRESHOLD_MESSAGES="10",
        FALLBACK_SETTLE_SECONDS="1",
        FALLBACK_MAX_LOOKBACK_SECONDS="60",
    )
    watcher.start()
    try:
        accepted = await post_all(watcher.base_url, event_mix(users))
        expected = (len(accepted), len(accepted))
        async with asyncio.timeout(90):  # Spark is not running: the fallback must step in
            while True:
                if await count_facts(pg, "fact_user_event_fallback", users) == expected:
                    break
                await asyncio.sleep(1)
    finally:
        watcher.stop()
        run_job("fallback-mode", previous_mode)
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM fallback_runs WHERE trigger = 'auto' AND range_end > $1", before
        )
        >= 1
    )
    assert await count_facts(pg, "fact_user_event", users) == (0, 0), "never merged on its own"

    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    window = ("--since", before.isoformat(), "--until", until)
    dry = run_job("promote", *window, "--dry-run").stdout
    assert f"{len(accepted)} fallback facts would be promoted" in dry
    assert f"promote: {len(accepted)} facts promoted" in run_job("promote", *window).stdout
    assert await count_facts(pg, "fact_user_event", users) == (len(accepted), len(accepted))
    sessions = await pg.fetchval(
        "SELECT count(*) FROM dim_session WHERE user_id = ANY($1::text[]) "
        "AND source_flag = 'pandas'",
        users,
    )
    assert sessions >= 2 * len(users)
    await check_public_api(settings, pg, users)
    assert "promote: 0 facts promoted" in run_job("promote", *window).stdout
    await check_public_api(settings, pg, users)
    status = run_job("status").stdout
    assert "spark lag:" in status and "fallback run" in status and "awaiting promotion" in status
    lag_line = next(line for line in status.splitlines() if line.startswith("consumer lag: "))
    assert all(f"{group} " in lag_line for group in GROUPS)

    env = {"SPARK_CHECKPOINT_DIR": str(tmp_path / "checkpoint"), "SPARK_STARTING_OFFSETS": offsets}
    await asyncio.to_thread(run_job, "spark", "--available-now", **env)
    assert await count_facts(pg, "fact_user_event", users) == (len(accepted), len(accepted))
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM fact_user_event WHERE user_id = ANY($1::text[]) "
            "AND source_flag <> 'pandas'",
            users,
        )
        == 0
    ), "Spark's restart adds nothing to the promoted events"
    await check_public_api(settings, pg, users)
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM promotions WHERE promoted_at > $1 AND events_promoted > 0", before
        )
        == 1
    )
