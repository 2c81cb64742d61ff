"""The automatic fallback waits out a start-up grace: a Spark stream started with the service
has committed nothing yet, and its whole topic reads as lag."""

from __future__ import annotations

import time

from app.config import FallbackMode
from app.db.postgres import PostgresPool
from app.ingest.accept import publish_accepted, validate_all
from app.ingest.events import EventLimits
from app.model import queries
from app.model.health import check_spark_health, measure_spark_lag
from app.producers.kafka import KafkaPublisher
from jobs.rules import load_rules
from tests.event_factory import new_event


async def test_a_lagging_spark_within_the_grace_starts_no_fallback(settings, pg, unique):
    # A stream that never committed, so every message of the user topics is its lag.
    fresh = settings.model_copy(
        update={"spark_checkpoint_dir": f"/nowhere/{unique}", "spark_lag_threshold_messages": 0}
    )
    limits = EventLimits.from_rules(load_rules())
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, settings.publish_timeout_seconds)
    try:
        validated = validate_all([new_event("click", f"grace-{unique}")], limits, None)
        await publish_accepted(publisher, validated.accepted)
    finally:
        await publisher.close()
    previous = await queries.fallback_mode(pg, settings.fallback_mode)
    await queries.set_fallback_mode(pg, FallbackMode.AUTO)
    runs = "SELECT count(*) FROM fallback_runs"
    before = await pg.fetchval(runs)
    pool = PostgresPool(settings.database_url)
    try:
        assert (await measure_spark_lag(pool, fresh)).lag_messages > 0
        ran = await check_spark_health(pool, fresh, fallback_from=time.monotonic() + 600)
    finally:
        await pool.close()
        await queries.set_fallback_mode(pg, previous)
    assert not ran
    assert await pg.fetchval(runs) == before
