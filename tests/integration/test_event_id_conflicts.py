"""One event_id is one event: a copy with other content is kept apart, counted and logged;
an identical re-send is simply a duplicate."""

from __future__ import annotations

import uuid

import orjson
from prometheus_client import REGISTRY

from app.consumers.postgres_staging import PostgresStagingSink
from app.consumers.records import DecodedEvent, SourceRecord, decode_event
from app.db.postgres import PostgresPool
from tests.event_factory import new_event

OFFSETS = iter(range(10**9, 2 * 10**9))


def decoded(event: dict) -> DecodedEvent:
    stored = {**event, "received_at": event["occurred_at"], "schema_version": 1}
    source = SourceRecord("user_click_log", 0, next(OFFSETS), b"k", orjson.dumps(stored))
    return decode_event(source)


def conflicts_counted() -> float:
    return REGISTRY.get_sample_value("event_id_conflicts_total") or 0.0


async def test_a_reused_event_id_with_other_content_is_kept_apart(settings, pg, unique):
    pool = PostgresPool(settings.database_url)
    sink = PostgresStagingSink(pool)
    shared_id = str(uuid.uuid4())
    first = new_event("click", f"ana-{unique}", event_id=shared_id)
    other_user = new_event("click", f"bo-{unique}", event_id=shared_id)
    before = conflicts_counted()
    try:
        assert await sink.write([decoded(first)]) == {}
        assert await sink.write([decoded(dict(first))]) == {}  # the same event, sent again
        assert conflicts_counted() == before
        assert await sink.write([decoded(other_user)]) == {}
        assert await sink.write([decoded(other_user)]) == {}  # redelivered: recorded once
    finally:
        await pool.close()

    staged = await pg.fetchval(
        "SELECT user_id FROM stg_user_logs WHERE event_id = $1", uuid.UUID(shared_id)
    )
    assert staged == f"ana-{unique}", "the first copy stays the event"
    kept = await pg.fetch(
        "SELECT user_id FROM event_id_conflicts WHERE event_id = $1", uuid.UUID(shared_id)
    )
    assert [row["user_id"] for row in kept] == [f"bo-{unique}"]
    assert conflicts_counted() == before + 1
