"""Replay's range over the backup, whatever offset the operator's times carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from app.ops.replay import backup_filter, published_form


def test_bounds_are_written_in_utc_as_the_api_writes_received_at():
    paris = timezone(timedelta(hours=1))
    chosen = backup_filter(
        datetime(2026, 12, 1, 13, 0, tzinfo=paris), datetime(2026, 12, 1, 14, 0, tzinfo=paris), []
    )
    assert chosen == {
        "received_at": {"$gte": "2026-12-01T12:00:00+00:00", "$lt": "2026-12-01T13:00:00+00:00"}
    }


def test_types_narrow_the_range_when_given():
    since = datetime(2026, 12, 1, tzinfo=UTC)
    chosen = backup_filter(since, since + timedelta(hours=1), ["watch", "comment"])
    assert chosen["event_type"] == {"$in": ["watch", "comment"]}


def test_the_published_form_is_the_event_without_what_the_backup_added():
    document = {
        "_id": "e1", "event_id": "e1", "event_type": "click", "user_id": "u-1",
        "received_at": "2026-12-01T12:00:00+00:00", "payload": {"element": "x"},
        "kafka": {"topic": "user_click_log", "partition": 0, "offset": 7},
        "ingested_at": datetime(2026, 12, 1, tzinfo=UTC),
    }  # fmt: skip
    message = published_form(document)
    assert (message.topic, message.key) == ("user_click_log", b"u-1")
    assert message.value == (
        b'{"event_id":"e1","event_type":"click","user_id":"u-1",'
        b'"received_at":"2026-12-01T12:00:00+00:00","payload":{"element":"x"}}'
    )
