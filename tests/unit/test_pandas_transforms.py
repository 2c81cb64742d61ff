"""The pandas reference of the rules (jobs/pandas/transforms.py) on literal rows, no services."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from jobs.model_columns import FACT_COLUMNS, SESSION_COLUMNS
from jobs.pandas.events_frame import events_frame
from jobs.pandas.transforms import build_facts, build_sessions
from jobs.rules import load_rules
from jobs.sentiment import read_comment

RULES = load_rules()
NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
IDS = (str(uuid.UUID(int=n)) for n in itertools.count(1))
WATCH = {"action": "progress", "position_seconds": 50.0, "duration_seconds": 100.0}


def event(event_type: str = "watch", at: datetime = NOON, **fields: Any) -> dict[str, Any]:
    default_payload = {"watch": WATCH, "comment": {"text": "fine"}}.get(event_type, {})
    return {
        "event_id": fields.pop("event_id", next(IDS)), "event_type": event_type,
        "user_id": fields.pop("user", "u-1"), "movie_id": fields.pop("movie", 550),
        "occurred_at": at.isoformat(),
        "received_at": fields.pop("received", max(at, NOON)).isoformat(),
        "context": {"page": "/p", "device": "tv"},
        "payload": fields.pop("payload", default_payload),
    }  # fmt: skip


def facts_of(*events: dict[str, Any]) -> pd.DataFrame:
    facts = build_facts(events_frame(list(events)), RULES)
    assert tuple(facts.columns) == FACT_COLUMNS
    return facts


def fact_of(stored: dict[str, Any]) -> dict[str, Any]:
    [row] = facts_of(stored).to_dict("records")
    return {key: None if pd.isna(value) else value for key, value in row.items()}  # NaN, NA


def watch(position: float | None, duration: float | None = 100.0, action: str = "progress") -> dict:
    payload = {"action": action, "position_seconds": position, "duration_seconds": duration}
    return event("watch", payload={k: v for k, v in payload.items() if v is not None})


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (event("rewind"), "unknown_event_type"),
        (event("watch", movie=None), "missing_movie"),
        (event("comment", movie=None), "missing_movie"),
        (event("click", at=NOON + timedelta(seconds=301), received=NOON), "future_timestamp"),
        (event("click", at=NOON - timedelta(days=7, microseconds=1)), "stale_timestamp"),
        (event("comment", payload={"text": "x", "rating": 10.5}), "rating_out_of_range"),
        (event("comment", payload={"text": "x", "rating": -0.5}), "rating_out_of_range"),
        (watch(105.001), "position_beyond_duration"),
        # Each reason against the next in order: the first in rules.py's order wins.
        (event("rewind", at=NOON + timedelta(hours=1), received=NOON, payload={"rating": 11}),
         "unknown_event_type"),
        (event("watch", movie=None, at=NOON + timedelta(hours=1), received=NOON), "missing_movie"),
        (event("click", at=NOON + timedelta(hours=1), received=NOON,
               payload={"rating": 11}), "future_timestamp"),
        (event("click", at=NOON - timedelta(days=8), payload={"rating": 11}), "stale_timestamp"),
        (event("watch", payload=WATCH | {"position_seconds": 999, "rating": 11}),
         "rating_out_of_range"),
    ],
)  # fmt: skip
def test_invalid_events_stay_flagged_with_the_first_failing_reason(stored, reason) -> None:
    row = fact_of(stored)
    assert (row["is_valid"], row["invalid_reason"]) == (False, reason)


@pytest.mark.parametrize(
    "stored",
    [
        event("click", movie=None),  # only watch and comment need a movie
        event("click", at=NOON + timedelta(seconds=300), received=NOON),
        event("click", at=NOON - timedelta(days=7)),
        event("comment", payload={"text": "x", "rating": 0}),
        event("comment", payload={"text": "x", "rating": 10}),
        watch(105.0),  # within the tolerance
    ],
)
def test_boundaries_are_valid(stored) -> None:
    row = fact_of(stored)
    assert (row["is_valid"], row["invalid_reason"]) == (True, None)


@pytest.mark.parametrize(
    ("written", "normalised", "valid"),
    [(" VIEW ", "watch", True), ("Play", "watch", True), ("TAP", "click", True),
     ("\tReview\n", "comment", True), ("WATCH", "watch", True), (" Rewind", "rewind", False)],
)  # fmt: skip
def test_event_types_are_trimmed_lowered_and_aliased(written, normalised, valid) -> None:
    row = fact_of(event(normalised) | {"event_type": written})
    assert (row["event_type"], row["is_valid"]) == (normalised, valid)


@pytest.mark.parametrize(
    ("position", "duration", "action", "ratio", "completed", "watched"),
    [
        (50.0, 100.0, "progress", 0.5, False, 50.0),
        (90.0, 100.0, "pause", 0.9, True, 90.0),  # the threshold itself completes
        (89.9, 100.0, "progress", 0.899, False, 89.9),
        (104.0, 100.0, "progress", 1.0, True, 100.0),  # clamped to the duration
        (10.0, 100.0, "complete", 0.1, True, 10.0),
        (30.0, 100.0, "start", 0.3, False, 0.0),  # a start has watched nothing yet
        (1234.5, None, "progress", None, False, 1234.5),  # no duration: no ratio, no clamp
        (12.0, None, "complete", None, True, 12.0),
        (12.0, 0.0, "progress", None, False, 12.0),  # a zero duration is no duration
    ],
)
def test_watch_fields(position, duration, action, ratio, completed, watched) -> None:
    row = fact_of(watch(position, duration, action))
    assert row["completion_ratio"] == (None if ratio is None else pytest.approx(ratio))
    assert (row["is_completed"], row["watch_seconds"]) == (completed, watched)


@pytest.mark.parametrize("event_type", ["click", "comment"])
def test_other_types_have_no_watch_fields(event_type) -> None:
    row = fact_of(event(event_type))
    assert (row["completion_ratio"], row["watch_seconds"], row["is_completed"]) == (
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("rating", "bucket"),
    [(0, "low"), (3.99, "low"), (4, "medium"), (6.99, "medium"), (7, "high"), (10, "high"),
     (None, None), (10.5, None)],
)  # fmt: skip
def test_rating_buckets(rating, bucket) -> None:
    payload = {"text": "x"} | ({} if rating is None else {"rating": rating})
    assert fact_of(event("comment", payload=payload))["rating_bucket"] == bucket


@pytest.mark.parametrize(
    ("text", "label", "emotion"),
    [("Loved it, so much fun", "positive", "joy"), ("awful", "negative", "none"),
     ("It is two hours long", "neutral", "none"), (None, None, None)],
)  # fmt: skip
def test_the_comment_reading_in_facts(text, label, emotion) -> None:
    payload = {} if text is None else {"text": text}
    row = fact_of(event("comment" if text else "click", payload=payload))
    assert (row["emotion"], row["primary_emotion"]) == (label, emotion)
    if text is None:
        assert row["emotion_score"] is None
    else:
        assert row["emotion_score"] == read_comment(text, RULES.sentiment).score


def sessions_of(*events: dict[str, Any]) -> pd.DataFrame:
    sessions = build_sessions(facts_of(*events), RULES)
    assert tuple(sessions.columns) == SESSION_COLUMNS
    return sessions.sort_values("session_start").reset_index(drop=True)


def clicks_at(*offsets: timedelta, user: str = "u-1") -> list[dict[str, Any]]:
    return [event("click", at=NOON + offset, user=user) for offset in offsets]


def minutes(*values: float) -> list[timedelta]:
    return [timedelta(minutes=value) for value in values]


def test_a_gap_over_the_inactivity_limit_starts_a_session() -> None:
    gaps = [timedelta(0), timedelta(seconds=1800), timedelta(seconds=3600, microseconds=1)]
    sessions = sessions_of(*clicks_at(*gaps))
    assert list(sessions["event_count"]) == [2, 1]  # exactly the gap does not split


def test_long_runs_are_cut_counting_from_the_runs_first_event() -> None:
    # 25-minute steps: pieces start at 0, 240 and 480 minutes from the run's start; counting
    # from each session's own first event (250) would have kept 485 in the second session.
    sessions = sessions_of(*clicks_at(*minutes(*range(0, 500, 25), 485)))
    assert list(sessions["event_count"]) == [10, 10, 1]
    starts = [NOON + timedelta(minutes=m) for m in (0, 250, 485)]
    assert list(sessions["session_start"]) == starts
    assert list(sessions["duration_seconds"]) == [225 * 60.0, 225 * 60.0, 0.0]


def test_invalid_events_make_no_sessions_and_do_not_bridge_gaps() -> None:
    late_clock = event("click", at=NOON + timedelta(minutes=20), received=NOON - timedelta(hours=1))
    sessions = sessions_of(*clicks_at(*minutes(0, 40)), late_clock)
    assert list(sessions["event_count"]) == [1, 1]


def test_a_late_event_joins_the_runs_it_falls_between() -> None:
    late = event("click", at=NOON + timedelta(minutes=25), received=NOON + timedelta(hours=2))
    assert len(sessions_of(*clicks_at(*minutes(0, 50)))) == 2
    assert len(sessions_of(*clicks_at(*minutes(0, 50)), late)) == 1


def test_session_id_is_user_and_first_event_in_unix_milliseconds() -> None:
    sessions = sessions_of(*clicks_at(timedelta(microseconds=123_999), user="user:7"))
    assert list(sessions["session_id"]) == ["user:7:1795176000123"]  # 12:00:00.123999 UTC


def test_watch_seconds_sum_each_movies_progress_in_whole_milliseconds() -> None:
    def at(seconds: int, movie: int, action: str, position: float | None) -> dict[str, Any]:
        payload = {"action": action} | ({} if position is None else {"position_seconds": position})
        return event("watch", at=NOON + timedelta(seconds=seconds), movie=movie, payload=payload)

    sessions = sessions_of(
        at(0, 1, "progress", 100.0), at(10, 1, "progress", 400.0), at(20, 1, "pause", 250.0),
        at(30, 2, "start", 0.0), at(40, 2, "progress", 600.0),  # 600 from the start
        at(50, 3, "progress", 1.0009), at(60, 3, "progress", 2.5),  # 1000 ms to 2500 ms
        at(70, 4, "progress", 42.0),  # one event: no progress, but a movie watched
        at(80, 5, "pause", None),  # no watch seconds: neither progress nor a movie watched
        *clicks_at(timedelta(seconds=90)), event("comment", at=NOON + timedelta(seconds=95)),
    )  # fmt: skip
    [row] = sessions.to_dict("records")
    assert row["watch_seconds"] == 300.0 + 600.0 + 1.5
    assert (row["movies_watched"], row["event_count"]) == (4, 11)
    assert (row["watch_count"], row["click_count"], row["comment_count"]) == (9, 1, 1)


def test_no_valid_events_make_an_empty_session_frame() -> None:
    sessions = sessions_of(event("rewind"))
    assert sessions.empty and tuple(sessions.columns) == SESSION_COLUMNS


def test_events_frame_keeps_the_copy_received_first() -> None:
    first = event("click", received=NOON)
    retried = first | {"received_at": (NOON + timedelta(seconds=5)).isoformat(), "user_id": "r"}
    same_time = first | {"user_id": "same-time"}  # a tie: the list's order decides
    frame = events_frame([retried, first, same_time])
    assert list(frame["user_id"]) == ["u-1"]


def test_events_frame_reads_stored_text_and_staging_rows_alike() -> None:
    stored = event("click") | {"occurred_at": "2026-11-20T16:00:00.5+02:00"}
    staged = stored | {
        "event_id": stored["event_id"].upper(),  # uuid columns print lower-case
        "occurred_at": datetime(2026, 11, 20, 14, 0, 0, 500000, tzinfo=UTC),
        "received_at": NOON,
    }
    from_kafka, from_staging = events_frame([stored]), events_frame([staged])
    pd.testing.assert_frame_equal(from_kafka, from_staging)
    assert from_kafka.loc[0, "occurred_at"] == pd.Timestamp("2026-11-20T14:00:00.5", tz="UTC")
    assert str(from_kafka["occurred_at"].dtype) == "datetime64[ns, UTC]"
