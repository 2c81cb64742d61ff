"""validate_event on invalid events: each refusal names the field and a bounded `kind`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.ingest.events import EventLimits, EventRejected, validate_event
from jobs.rules import load_rules

RECEIVED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = EventLimits.from_rules(load_rules())
DROP = object()  # marks a key to leave out of the event


def event(event_type: str = "watch", **overrides: Any) -> dict[str, Any]:
    payloads = {
        "watch": {"action": "start", "position_seconds": 0},
        "click": {"element": "play-button"},
        "comment": {"text": "Loved it", "rating": 8},
    }
    base = {
        "event_type": event_type,
        "user_id": "user-42",
        "movie_id": 603,
        "occurred_at": (RECEIVED_AT - timedelta(minutes=1)).isoformat(),
        "payload": payloads.get(event_type, {}),
    }
    return {key: value for key, value in {**base, **overrides}.items() if value is not DROP}


def rejection(raw: object) -> tuple[str, str]:
    with pytest.raises(EventRejected) as caught:
        validate_event(raw, RECEIVED_AT, "UA", LIMITS)
    assert caught.value.reason, "a refusal always says why"
    return caught.value.field, caught.value.kind


def test_the_base_event_of_this_module_is_valid() -> None:
    # Guards every test below: each one changes exactly one thing of a valid event.
    for event_type in ("watch", "click", "comment"):
        assert validate_event(event(event_type), RECEIVED_AT, None, LIMITS)["user_id"] == "user-42"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(event(user_id=DROP), ("user_id", "missing"), id="missing-user_id"),
        pytest.param(event(payload=DROP), ("payload", "missing"), id="missing-payload"),
        pytest.param(event(occurred_at=DROP), ("occurred_at", "missing"), id="missing-occurred_at"),
        pytest.param(event(movie_id="603"), ("movie_id", "int_type"), id="movie_id-string"),
        pytest.param(event(movie_id=True), ("movie_id", "int_type"), id="movie_id-bool"),
        pytest.param(event(movie_id=6.5), ("movie_id", "int_type"), id="movie_id-float"),
        pytest.param(event(movie_id=0), ("movie_id", "greater_than"), id="movie_id-zero"),
        pytest.param(event(movie_id=2**63), ("movie_id", "less_than"), id="movie_id-over-int64"),
        pytest.param(event(user_id=42), ("user_id", "string_type"), id="user_id-number"),
        pytest.param(event(user_id=""), ("user_id", "string_too_short"), id="user_id-empty"),
        pytest.param(
            event(user_id="u" * 129), ("user_id", "string_too_long"), id="user_id-129-chars"
        ),
        pytest.param(event(payload=[1]), ("payload", "dict_type"), id="payload-array"),
        pytest.param(event(context="web"), ("context", "dict_type"), id="context-string"),
        pytest.param(event(event_id="not-a-uuid"), ("event_id", "uuid_parsing"), id="bad-event_id"),
        pytest.param(event(schema_version=2), ("schema_version", "literal_error"), id="schema-v2"),
    ],
)
def test_envelope_errors_name_the_field(raw: dict[str, Any], expected: tuple[str, str]) -> None:
    assert rejection(raw) == expected


def test_user_id_of_exactly_128_characters_is_accepted() -> None:
    stored = validate_event(event(user_id="u" * 128), RECEIVED_AT, None, LIMITS)
    assert len(stored["user_id"]) == 128


@pytest.mark.parametrize("event_type", ["watch", "comment"])
def test_movie_id_is_required_for_watch_and_comment(event_type: str) -> None:
    assert rejection(event(event_type, movie_id=DROP)) == ("movie_id", "missing")
    assert rejection(event(event_type, movie_id=None)) == ("movie_id", "missing")


def test_click_without_movie_id_is_accepted() -> None:
    stored = validate_event(event("click", movie_id=DROP), RECEIVED_AT, None, LIMITS)
    assert stored["movie_id"] is None


def test_unknown_event_type_is_refused() -> None:
    assert rejection(event("rate")) == ("event_type", "literal_error")


def test_extra_top_level_field_is_refused() -> None:
    assert rejection(event(is_admin=True)) == ("is_admin", "extra_forbidden")


@pytest.mark.parametrize(
    ("event_type", "payload", "expected"),
    [
        pytest.param(
            "watch",
            {"action": "start", "position_seconds": 0, "bitrate": 5},
            ("payload.bitrate", "extra_forbidden"),
            id="watch-extra-field",
        ),
        pytest.param(
            "watch",
            {"action": "rewind", "position_seconds": 0},
            ("payload.action", "literal_error"),
            id="watch-wrong-action",
        ),
        pytest.param(
            "watch",
            {"action": "progress", "position_seconds": 86_400.5},
            ("payload.position_seconds", "less_than_equal"),
            id="position-over-a-day",
        ),
        pytest.param(
            "watch",
            {"action": "progress", "position_seconds": -1},
            ("payload.position_seconds", "greater_than_equal"),
            id="position-negative",
        ),
        pytest.param(
            "watch",
            {"action": "progress", "position_seconds": "12"},
            ("payload.position_seconds", "float_type"),
            id="position-string",
        ),
        pytest.param(
            "watch",
            {"action": "start", "position_seconds": 0, "duration_seconds": 0},
            ("payload.duration_seconds", "greater_than"),
            id="duration-zero",
        ),
        pytest.param(
            "click", {"element": ""}, ("payload.element", "string_too_short"), id="click-empty"
        ),
        pytest.param("click", {}, ("payload.element", "missing"), id="click-missing-element"),
        pytest.param(
            "comment",
            {"text": "ok", "rating": 10.5},
            ("payload.rating", "less_than_equal"),
            id="rating-over-10",
        ),
        pytest.param(
            "comment",
            {"text": "ok", "rating": -0.5},
            ("payload.rating", "greater_than_equal"),
            id="rating-negative",
        ),
        pytest.param(
            "comment",
            {"text": "x" * 5001},
            ("payload.text", "string_too_long"),
            id="comment-5001-chars",
        ),
        pytest.param(
            "comment",
            {"text": "ok", "parent_event_id": "nope"},
            ("payload.parent_event_id", "uuid_parsing"),
            id="comment-bad-parent",
        ),
    ],
)
def test_payload_errors_name_the_payload_field(
    event_type: str, payload: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert rejection(event(event_type, payload=payload)) == expected


@pytest.mark.parametrize("rating", [0, 10, 7.5])
def test_ratings_within_zero_to_ten_are_accepted(rating: float) -> None:
    raw = event("comment", payload={"text": "x" * 5000, "rating": rating})
    assert validate_event(raw, RECEIVED_AT, None, LIMITS)["payload"]["rating"] == rating


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(event(user_id="user\x00-42"), "user_id", id="top-level-string"),
        pytest.param(
            event("click", payload={"element": "play\x00"}), "payload.element", id="nested"
        ),
        pytest.param(event(context={"page": "/a\x00"}), "context.page", id="context"),
    ],
)
def test_a_nul_character_in_any_stored_string_is_refused(raw: object, field: str) -> None:
    assert rejection(raw) == (field, "nul_character")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(
            event("click", payload={"element": "play", "e\x00": 1}),
            "payload.e\x00",
            id="payload-key",
        ),
        pytest.param({**event(), "bad\x00key": 1}, "bad\x00key", id="top-level-key"),
        pytest.param(event(tags=["ok", "n\x00l"]), "tags", id="inside-a-list"),
    ],
)
def test_a_nul_character_outside_the_stored_fields_is_refused_as_unknown(
    raw: object, field: str
) -> None:
    # Validation runs first: what is not a stored field never gets walked for NUL.
    assert rejection(raw) == (field, "extra_forbidden")


def test_a_huge_unknown_key_is_not_echoed_whole() -> None:
    field, _ = rejection({**event(), "k" * 100_000: 1})
    assert len(field) <= 200


@pytest.mark.parametrize(
    ("occurred_at", "kind"),
    [
        pytest.param(RECEIVED_AT + timedelta(minutes=5, seconds=1), "future_timestamp", id="6min"),
        pytest.param(datetime(2999, 1, 1, tzinfo=UTC), "future_timestamp", id="year-2999"),
        pytest.param(RECEIVED_AT - timedelta(days=7, seconds=1), "stale_timestamp", id="7days"),
        pytest.param(datetime(1970, 1, 1, tzinfo=UTC), "stale_timestamp", id="epoch"),
    ],
)
def test_timestamps_outside_the_window_are_refused(occurred_at: datetime, kind: str) -> None:
    assert rejection(event(occurred_at=occurred_at.isoformat())) == ("occurred_at", kind)


@pytest.mark.parametrize("naive", ["2025-03-01T11:59:00", "2025-03-01"])
def test_occurred_at_without_timezone_is_refused(naive: str) -> None:
    assert rejection(event(occurred_at=naive)) == ("occurred_at", "timezone_aware")


@pytest.mark.parametrize(
    "extreme",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
)
def test_occurred_at_at_the_calendar_edges_is_refused_not_crashing(extreme: str) -> None:
    # Converting these to UTC leaves datetime's range; that must be a refusal, not a crash.
    field, _kind = rejection(event(occurred_at=extreme))
    assert field == "occurred_at"


def test_deeply_nested_value_is_refused_not_crashing() -> None:
    # orjson parses up to 1024 levels; the NUL scan recurses once per level, so the
    # depths it accepts must not exhaust Python's recursion limit (1000 by default).
    nested: object = "leaf"
    for _ in range(1000):
        nested = [nested]
    assert rejection(event(junk=nested)) == ("junk", "extra_forbidden")


@pytest.mark.parametrize("raw", [None, 42, "event", ["a", "list"], True])
def test_an_event_that_is_not_an_object_is_refused(raw: object) -> None:
    assert rejection(raw) == ("", "not_an_object")


@pytest.mark.parametrize("occurred_at", [1_700_000_000, 1_700_000_000.5, True])
def test_occurred_at_must_be_text_not_a_number(occurred_at: object) -> None:
    assert rejection(event(occurred_at=occurred_at))[0] == "occurred_at"


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_schema_version_must_be_the_integer_one(version: object) -> None:
    assert rejection(event(schema_version=version))[0] == "schema_version"
