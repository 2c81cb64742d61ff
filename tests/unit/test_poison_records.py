"""Whatever a record holds, decoding either refuses it (to the dead-letter topic) or yields
something every sink can map and every store can hold: no record may crash a consumer."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import bson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.consumers.mongo_backup import backup_document
from app.consumers.mongo_movies import version_document
from app.consumers.movie_records import decode_movie, movie_row
from app.consumers.records import SourceRecord, UndecodableRecord, decode_event
from app.consumers.staging_rows import comment_row, user_log_row
from app.ingest.events import EventLimits, validate_event
from jobs.rules import load_rules

FUZZ = settings(max_examples=400, deadline=None, database=None)
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
LIMITS = EventLimits.from_rules(load_rules())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def dumps(document: object) -> bytes:
    """As any producer might write it: integers of any size, unlike orjson's."""
    return json.dumps(document).encode()


def record(value: bytes) -> SourceRecord:
    return SourceRecord("user_comment_log", 0, 7, b"user", value)


def valid_event(kind: str) -> dict[str, Any]:
    payloads = {
        "watch": {"action": "start", "position_seconds": 1.5, "duration_seconds": 60},
        "click": {"element": "play", "target": "/m"},
        "comment": {"text": "Good", "rating": 7, "parent_event_id": str(uuid.uuid4())},
    }
    raw = {
        "event_type": kind, "user_id": "u", "movie_id": 550, "session_id": "s",
        "occurred_at": NOW.isoformat(), "context": {"page": "/m"}, "payload": payloads[kind],
    }  # fmt: skip
    return validate_event(raw, NOW, "agent", LIMITS)


def map_event(value: bytes) -> None:
    try:
        decoded = decode_event(record(value))
    except UndecodableRecord:
        return
    user_log_row(decoded)
    comment_row(decoded)
    bson.encode(backup_document(decoded, NOW))


@FUZZ
@given(value=st.binary(max_size=512))
def test_random_bytes_never_crash_the_event_mappings(value: bytes) -> None:
    map_event(value)


@FUZZ
@given(document=json_values)
def test_random_json_never_crashes_the_event_mappings(document: object) -> None:
    map_event(dumps(document))


@FUZZ
@given(
    kind=st.sampled_from(["watch", "click", "comment"]),
    part=st.sampled_from(["", "payload", "context"]),
    key=st.sampled_from(
        [
            "event_id",
            "user_id",
            "movie_id",
            "occurred_at",
            "received_at",
            "schema_version",
            "session_id",
            "rating",
            "parent_event_id",
            "text",
            "position_seconds",
            "page",
            "extra",
        ]
    ),
    value=json_values,
)
def test_a_mutated_stored_event_never_crashes_the_mappings(kind, part, key, value) -> None:
    event = valid_event(kind)
    (event[part] if part else event)[key] = value
    map_event(dumps(event))


@pytest.mark.parametrize(
    ("part", "key", "value"),
    [
        ("payload", "rating", "high"),
        ("payload", "parent_event_id", "nope"),
        ("", "movie_id", 2**64 - 1),
        ("", "occurred_at", "0001-01-01T00:00:00+05:00"),
        ("payload", "text", "nul\u0000"),
    ],
)
def test_the_known_poison_events_are_refused(part, key, value) -> None:
    event = valid_event("comment")
    (event[part] if part else event)[key] = value
    with pytest.raises(UndecodableRecord):
        decode_event(record(dumps(event)))


def movie_message(details: object) -> bytes:
    return dumps(
        {"movie_id": 603, "fetched_at": NOW.isoformat(), "gone": False, "details": details}
    )


def map_movie(value: bytes) -> None:
    try:
        movie = decode_movie(record(value))
    except UndecodableRecord:
        return
    movie_row(movie)
    bson.encode(version_document(movie, NOW))


@FUZZ
@given(
    key=st.sampled_from(
        [
            "title",
            "runtime",
            "popularity",
            "vote_count",
            "genres",
            "release_date",
            "poster_path",
            "extra",
        ]
    ),
    value=json_values,
)
def test_mutated_movie_details_never_crash_the_movie_mappings(key, value) -> None:
    details = {"id": 603, "title": "The Matrix", "genres": [{"id": 28, "name": "Action"}]}
    details[key] = value
    map_movie(movie_message(details))


@FUZZ
@given(value=st.binary(max_size=256) | json_values.map(dumps))
def test_random_movie_records_never_crash_the_movie_mappings(value: bytes) -> None:
    map_movie(value)


def test_a_genre_whose_id_is_not_a_number_is_refused() -> None:
    details = {"id": 603, "title": "The Matrix", "genres": [{"id": "n/a", "name": "Action"}]}
    with pytest.raises(UndecodableRecord):
        decode_movie(record(movie_message(details)))
