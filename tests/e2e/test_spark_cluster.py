"""The Spark stream on a real standalone cluster (a master and one worker on 127.0.0.1), set up
only through settings: every event lands exactly once, and the master ran the application."""

from __future__ import annotations

import asyncio

from jobs.rules import load_rules
from jobs.sentiment import read_comment
from tests.e2e.model_support import event_mix, fresh_users, post_all, run_job, starting_offsets_now
from tests.spark_cluster import StandaloneCluster

RULES = load_rules()


async def test_the_stream_runs_on_a_standalone_cluster_and_lands_each_event_once(
    settings, pg, service, tmp_path
):
    cluster = StandaloneCluster(tmp_path / "cluster")
    offsets = await starting_offsets_now(settings)
    users = fresh_users(3)
    await asyncio.to_thread(cluster.start)
    try:
        events = event_mix(users)
        accepted = await post_all(service.base_url, events)
        await asyncio.to_thread(
            run_job, "spark", "--available-now",
            SPARK_MASTER=cluster.url, SPARK_EXECUTOR_MEMORY="512m", SPARK_EXECUTOR_CORES="1",
            SPARK_CHECKPOINT_DIR=str(tmp_path / "checkpoint"), SPARK_STARTING_OFFSETS=offsets,
        )  # fmt: skip
        applications = cluster.state()["completedapps"]
    finally:
        await asyncio.to_thread(cluster.stop)
    assert [(app["name"], app["memoryperexecutor"]) for app in applications] == [
        ("movie-facts", 512)
    ], "the master ran the stream, with the executor memory from the settings"
    facts = await pg.fetch(
        "SELECT event_id::text AS event_id, source_flag FROM fact_user_event "
        "WHERE user_id = ANY($1::text[])",
        users,
    )
    assert sorted(row["event_id"] for row in facts) == sorted(accepted)
    assert {row["source_flag"] for row in facts} == {"spark"}
    sessions = await pg.fetchval(
        "SELECT count(*) FROM dim_session WHERE user_id = ANY($1::text[])", users
    )
    assert sessions >= len(users)
    # The executors read each comment with the reader pickled to them, as Python reads it.
    texts = {e["event_id"]: e["payload"]["text"] for e in events if e["event_type"] == "comment"}
    readings = await pg.fetch(
        "SELECT event_id::text AS event_id, emotion, emotion_score, primary_emotion "
        "FROM fact_user_event WHERE event_id = ANY($1::uuid[])",
        list(texts),
    )
    assert len(readings) == len(texts) > 0
    for row in readings:
        expected = read_comment(texts[row["event_id"]], RULES.sentiment)
        assert (row["emotion"], row["emotion_score"], row["primary_emotion"]) == (
            expected.label, expected.score, expected.primary_emotion,
        )  # fmt: skip
