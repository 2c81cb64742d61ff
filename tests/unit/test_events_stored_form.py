"""validate_event on valid events: the stored form sent to Kafka, and the published schema."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app.ingest.event_schema import SCHEMA_VERSION, event_json_schema
from app.ingest.events import EventLimits, EventRejected, validate_event
from jobs.rules import load_rules

# A fixed server clock keeps timestamp checks independent of when the suite runs.
RECEIVED_AT = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
OCCURRED_AT = RECEIVED_AT - timedelta(seconds=30)
LIMITS = EventLimits.from_rules(load_rules())


def watch_event(**overrides: Any) -> dict[str, Any]:
    event = {
        "event_type": "watch",
        "user_id": "user-42",
        "session_id": "session-7",
        "movie_id": 603,
        "occurred_at": OCCURRED_AT.isoformat(),
        "context": {"page": "/movies/603", "locale": "fr-FR"},
        "payload": {"action": "progress", "position_seconds": 125.5, "duration_seconds": 8160},
    }
    return {**event, **overrides}


def test_watch_event_becomes_the_stored_form() -> None:
    stored = validate_event(watch_event(), RECEIVED_AT, "Mozilla/5.0 Test", LIMITS)

    assert stored == {
        "event_id": stored["event_id"],
        "event_type": "watch",
        "user_id": "user-42",
        "session_id": "session-7",
        "movie_id": 603,
        "occurred_at": OCCURRED_AT.isoformat(),
        "received_at": RECEIVED_AT.isoformat(),
        "schema_version": SCHEMA_VERSION,
        "context": {"page": "/movies/603", "locale": "fr-FR", "user_agent": "Mozilla/5.0 Test"},
        "payload": {"action": "progress", "position_seconds": 125.5, "duration_seconds": 8160.0},
    }


def test_click_event_needs_no_movie_and_drops_absent_optionals() -> None:
    click = {
        "event_type": "click",
        "user_id": "user-1",
        "occurred_at": OCCURRED_AT.isoformat(),
        "payload": {"element": "play-button"},
    }

    stored = validate_event(click, RECEIVED_AT, None, LIMITS)

    assert stored["movie_id"] is None
    assert stored["session_id"] is None
    # No user agent header means no user_agent key, not an empty one.
    assert stored["context"] == {}
    assert stored["payload"] == {"element": "play-button"}


def test_comment_event_keeps_text_rating_and_parent() -> None:
    parent = uuid.uuid4()
    comment = watch_event(
        event_type="comment",
        payload={"text": "Brilliant ending", "rating": 9.5, "parent_event_id": str(parent)},
    )

    stored = validate_event(comment, RECEIVED_AT, "UA", LIMITS)

    assert stored["event_type"] == "comment"
    assert stored["payload"] == {
        "text": "Brilliant ending",
        "rating": 9.5,
        "parent_event_id": str(parent),
    }


def test_missing_event_id_gets_a_fresh_uuid7_of_the_receive_time() -> None:
    first = validate_event(watch_event(), RECEIVED_AT, None, LIMITS)
    second = validate_event(watch_event(), RECEIVED_AT, None, LIMITS)

    event_id = uuid.UUID(first["event_id"])
    assert event_id.version == 7
    assert event_id.variant == uuid.RFC_4122
    # UUIDv7 carries the Unix milliseconds in its top 48 bits: here, those of received_at.
    assert event_id.int >> 80 == int(RECEIVED_AT.timestamp() * 1000)
    assert first["event_id"] != second["event_id"]


@pytest.mark.parametrize(
    "sent",
    [
        "0190C5A8-1234-7ABC-8DEF-0123456789AB",
        "{0190c5a8-1234-7abc-8def-0123456789ab}",
        "0190c5a812347abc8def0123456789ab",
        "urn:uuid:0190c5a8-1234-7abc-8def-0123456789ab",
    ],
)
def test_client_event_id_is_kept_in_canonical_form(sent: str) -> None:
    stored = validate_event(watch_event(event_id=sent), RECEIVED_AT, None, LIMITS)

    assert stored["event_id"] == "0190c5a8-1234-7abc-8def-0123456789ab"


def test_client_received_at_is_ignored_for_the_server_clock() -> None:
    forged = watch_event(received_at="2001-01-01T00:00:00Z")

    stored = validate_event(forged, RECEIVED_AT, None, LIMITS)

    assert stored["received_at"] == RECEIVED_AT.isoformat()


def test_occurred_at_with_an_offset_is_stored_in_utc() -> None:
    local = OCCURRED_AT.astimezone(timezone(timedelta(hours=2)))

    stored = validate_event(watch_event(occurred_at=local.isoformat()), RECEIVED_AT, None, LIMITS)

    assert local.isoformat().endswith("+02:00")
    assert stored["occurred_at"] == OCCURRED_AT.isoformat()


def test_user_agent_loses_nul_and_is_truncated_to_the_limit() -> None:
    limits = dataclasses.replace(LIMITS, max_user_agent_length=10)

    stored = validate_event(watch_event(), RECEIVED_AT, "Moz\x00illa/5.0 (X11)", limits)

    assert stored["context"]["user_agent"] == "Mozilla/5."


def test_user_agent_in_the_body_context_is_refused() -> None:
    # The user agent must come from the request header, never from what the client claims.
    with pytest.raises(EventRejected) as caught:
        validate_event(watch_event(context={"user_agent": "forged"}), RECEIVED_AT, "UA", LIMITS)

    assert (caught.value.field, caught.value.kind) == ("context.user_agent", "extra_forbidden")


def test_occurred_at_right_at_the_limits_is_accepted() -> None:
    at_future_edge = RECEIVED_AT + LIMITS.max_future_skew
    at_age_edge = RECEIVED_AT - LIMITS.max_age

    for occurred_at in (at_future_edge, at_age_edge):
        stored = validate_event(
            watch_event(occurred_at=occurred_at.isoformat()), RECEIVED_AT, None, LIMITS
        )
        assert stored["occurred_at"] == occurred_at.isoformat()


def test_json_schema_describes_the_envelope_and_every_payload() -> None:
    schema = event_json_schema()

    assert set(schema["required"]) == {"event_type", "user_id", "occurred_at", "payload"}
    assert schema["additionalProperties"] is False
    assert schema["properties"]["event_type"]["enum"] == ["watch", "click", "comment"]
    variants = schema["properties"]["payload"]["oneOf"]
    assert [variant["title"] for variant in variants] == [
        "WatchPayload",
        "ClickPayload",
        "CommentPayload",
    ]
    assert all(variant["additionalProperties"] is False for variant in variants)
    assert "received_at" not in schema["properties"]
