"""Replay from the raw backup after Kafka lost a topic's data and staging lost the rows: the
events come back with their ids and receive times, once each, and the model built from them
is row for row the one built before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from app.consumers.lag import consumer_lags
from app.producers.kafka_admin import end_offsets
from app.topics import USER_TOPICS
from tests.e2e.model_support import (
    FACT_COMPARED,
    SESSION_COMPARED,
    event_mix,
    fresh_users,
    model_rows,
    post_all,
    run_job,
)
from tests.e2e.stores import Landed, count_landed


async def landed_when(settings, ids: list[str], staged: int) -> Landed:
    async with asyncio.timeout(90):
        while True:
            landed = await count_landed(settings, ids)
            if landed.staged == staged:
                return landed
            await asyncio.sleep(0.5)


async def caught_up(settings) -> None:
    """Both event groups have committed all they read, so deleting the logs costs them
    nothing."""
    async with asyncio.timeout(60):
        while True:
            lags = await consumer_lags(settings.kafka_bootstrap_servers)
            if lags["mongo-backup"] == lags["postgres-staging"] == 0:
                return
            await asyncio.sleep(0.5)


async def lose_the_topics(settings) -> None:
    """As retention or a broker's loss would: every record of the user topics gone."""
    ends = await end_offsets(settings.kafka_bootstrap_servers, list(USER_TOPICS.values()))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_records(
            {TopicPartition(topic, p): RecordsToDelete(end) for (topic, p), end in ends.items()}
        )
    finally:
        await admin.close()


def model_built(since: datetime) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    run_job("fallback", "--since", since.isoformat(), "--until", until)


async def test_a_replay_rebuilds_staging_and_the_model_row_for_row(settings, service, pg):
    users = fresh_users(2)
    since = datetime.now(UTC) - timedelta(seconds=1)
    ids = sorted(await post_all(service.base_url, event_mix(users)))
    await landed_when(settings, ids, staged=len(ids))
    await caught_up(settings)
    model_built(since)
    facts = await model_rows(pg, "fact_user_event_fallback", FACT_COMPARED, users)
    sessions = await model_rows(pg, "dim_session_fallback", SESSION_COMPARED, users)
    assert len(facts) == len(ids) and sessions

    await lose_the_topics(settings)
    for table in ("stg_comments", "stg_user_logs", "fact_user_event_fallback",
                  "dim_session_fallback"):  # fmt: skip
        await pg.execute(f"DELETE FROM {table} WHERE user_id = ANY($1::text[])", users)
    until = datetime.now(UTC).isoformat()
    dry = run_job("replay", "--since", since.isoformat(), "--until", until, "--dry-run").stdout
    assert f"{len(ids)} events in the range would be published" in dry
    replayed = run_job("replay", "--since", since.isoformat(), "--until", until).stdout
    assert f"replay: {len(ids)} of {len(ids)} events published again" in replayed

    landed = await landed_when(settings, ids, staged=len(ids))
    assert (landed.mongo, landed.staged_distinct) == (len(ids), len(ids))
    model_built(since)
    assert await model_rows(pg, "fact_user_event_fallback", FACT_COMPARED, users) == facts
    assert await model_rows(pg, "dim_session_fallback", SESSION_COMPARED, users) == sessions
