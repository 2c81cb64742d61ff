"""The audit's pure parts: the accounts of a window, its minutes, receipts, what a dead letter was
and a ledger entry's row; no database, no Kafka."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from app.audit.accounts import Suspect, completeness, kind_of, suspects, unacknowledged
from app.audit.dead_letter_ledger import DeadLetterRow, what_it_was
from app.audit.id_ledger import LedgerEntry
from app.audit.receipts import decode_receipt, receipt_message
from app.audit.reconciler import floor_minute, minutes, runs
from app.consumers.records import SourceRecord, UndecodableRecord
from app.topics import RECEIPTS_TOPIC
from jobs.rules import load_rules

NOON = datetime(2026, 5, 9, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
ID_A, ID_B = "0196b3c4-1d2e-7f00-8a00-00000000000a", "0196b3c4-1d2e-7f00-8a00-00000000000b"


def window(**counts: int) -> dict[str, int]:
    """A window's counts; `dead_backup` and `dead_staging` are the two groups' dead letters."""
    renamed = {
        "dead_backup": "dead_letter:mongo-backup",
        "dead_staging": "dead_letter:postgres-staging",
    }
    return {renamed.get(stage, stage): events for stage, events in counts.items()}


def record(value: bytes | None, timestamp_ms: int | None = None) -> SourceRecord:
    return SourceRecord("t", 2, 41, b"k", value, timestamp_ms)


# suspects


def test_counts_that_agree_give_no_suspect():
    assert suspects(window(acknowledged=5, backed_up=5, staged=5, modelled=5)) == []


def test_a_backup_short_of_acknowledged_is_missing_by_the_shortfall():
    counts = window(acknowledged=5, backed_up=3, staged=5, modelled=5)
    assert suspects(counts) == [Suspect("backed_up", "missing")]


def test_the_backups_dead_letters_make_up_for_what_it_did_not_write():
    assert suspects(window(acknowledged=5, backed_up=3, dead_backup=2, staged=5, modelled=5)) == []
    counts = window(acknowledged=5, backed_up=2, dead_backup=2, staged=5, modelled=5)
    assert suspects(counts) == [Suspect("backed_up", "missing")]


def test_staging_short_of_acknowledged_is_missing_unless_its_dead_letters_account_for_it():
    counts = window(acknowledged=5, backed_up=5, staged=4, modelled=4)
    assert suspects(counts) == [Suspect("staged", "missing")]
    assert suspects(window(acknowledged=5, backed_up=5, staged=4, dead_staging=1, modelled=4)) == []


def test_modelled_short_of_the_staged_rows_is_missing_and_above_them_is_extra():
    # Either way both anti-joins run: a loss must not hide behind facts without staged events.
    short = window(acknowledged=5, backed_up=5, staged=5, modelled=3)
    assert suspects(short) == [Suspect("modelled", "missing"), Suspect("modelled", "extra")]
    above = window(acknowledged=5, backed_up=5, staged=5, modelled=7)
    assert suspects(above) == [Suspect("modelled", "missing"), Suspect("modelled", "extra")]


def test_modelled_is_held_against_the_staged_rows_not_the_staging_dead_letters():
    counts = window(acknowledged=5, backed_up=5, staged=4, dead_staging=1, modelled=5)
    assert suspects(counts) == [Suspect("modelled", "missing"), Suspect("modelled", "extra")]


def test_dead_letters_of_one_group_never_make_up_for_the_other_group():
    # The other group's dead letters leave this one short, and make that one look over.
    backup_short = window(acknowledged=5, backed_up=3, staged=5, dead_staging=2, modelled=5)
    assert suspects(backup_short) == [
        Suspect("backed_up", "missing"),
        Suspect("staged", "missing"),
    ]
    staging_short = window(acknowledged=5, backed_up=5, dead_backup=2, staged=3, modelled=3)
    assert suspects(staging_short) == [
        Suspect("backed_up", "missing"),
        Suspect("staged", "missing"),
    ]


def test_stored_events_beyond_the_acknowledged_are_looked_into_lest_they_hide_a_loss():
    assert suspects(window(backed_up=3, staged=3, modelled=3)) == [
        Suspect("backed_up", "missing"),
        Suspect("staged", "missing"),
    ]


def test_an_empty_window_gives_no_suspect():
    assert suspects({}) == []


# unacknowledged, kind_of, completeness


def test_unacknowledged_is_what_a_store_holds_beyond_the_acknowledged():
    assert unacknowledged(window(acknowledged=5, backed_up=7, staged=6)) == 2
    assert unacknowledged(window(acknowledged=5, backed_up=4, staged=6)) == 1
    assert unacknowledged(window(acknowledged=5, backed_up=5, staged=3)) == 0
    assert unacknowledged(window(backed_up=2)) == 2


def test_a_stage_that_wrote_nothing_yet_is_stalled():
    assert kind_of(None, NOON) == "stalled"


def test_a_stage_whose_newest_write_is_older_than_the_lacking_event_is_stalled():
    assert kind_of(NOON - timedelta(microseconds=1), NOON) == "stalled"


def test_a_stage_that_wrote_an_event_received_with_the_lacking_one_calls_it_missing():
    # One request's events share their receive time: a stage holding some of them has got
    # there, and the checks come only after the grace period.
    assert kind_of(NOON, NOON) == "missing"


def test_a_stage_that_wrote_an_event_received_after_the_lacking_one_calls_it_missing():
    assert kind_of(NOON + timedelta(microseconds=1), NOON) == "missing"
    assert kind_of(NOON + MINUTE, NOON) == "missing"


def test_completeness_is_one_without_acknowledged_events_and_a_ratio_otherwise():
    assert completeness(0, 0) == 1.0
    assert completeness(4, 3) == 0.75
    assert completeness(4, 4) == 1.0


# floor_minute, minutes, runs


def test_floor_minute_drops_seconds_and_microseconds():
    assert floor_minute(NOON + timedelta(seconds=59, microseconds=999_999)) == NOON


def test_minutes_run_from_first_up_to_but_not_including_until():
    assert minutes(NOON, NOON + 3 * MINUTE) == [NOON, NOON + MINUTE, NOON + 2 * MINUTE]
    assert minutes(NOON, NOON) == []
    assert minutes(NOON, NOON - MINUTE) == []


def test_runs_group_consecutive_minutes_and_split_at_gaps():
    windows = [NOON, NOON + MINUTE, NOON + 2 * MINUTE, NOON + 5 * MINUTE, NOON + 6 * MINUTE]
    assert list(runs(windows)) == [windows[:3], windows[3:]]
    assert list(runs([NOON, NOON + 2 * MINUTE])) == [[NOON], [NOON + 2 * MINUTE]]


def test_no_windows_give_no_run():
    assert list(runs([])) == []


# receipts


def stored(event_id: str, event_type: str, user_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "received_at": (NOON + timedelta(seconds=1.5)).isoformat(),
        "user_id": user_id,
        "payload": {"movie_id": "tt0111161"},
    }


def test_a_receipt_round_trips_with_its_ids_normalised():
    events = [stored(ID_A.upper(), "user_click_log", "u-1"), stored(ID_B, "click", "u-2")]
    message = receipt_message(events)
    assert message.topic == RECEIPTS_TOPIC
    assert message.key == b"u-1"
    source = record(message.value)
    received = NOON + timedelta(seconds=1.5)
    decoded = decode_receipt(source)
    assert decoded.source is source
    assert decoded.entries == [
        LedgerEntry(ID_A, "user_click_log", received, "u-1"),
        LedgerEntry(ID_B, "click", received, "u-2"),
    ]
    assert all(entry.received_at.utcoffset() == timedelta(0) for entry in decoded.entries)


def test_a_receipt_carries_the_events_time_and_one_of_an_earlier_version_still_reads():
    occurred = NOON - timedelta(days=2)
    event = {**stored(ID_A, "click", "u-1"), "occurred_at": occurred.isoformat()}
    [entry] = decode_receipt(record(receipt_message([event]).value)).entries
    assert entry.occurred_at == occurred
    assert entry.first_copy_since == occurred - load_rules().copy_lead
    earlier = orjson.dumps([[ID_A, "click", event["received_at"], "u-1"]])
    [entry] = decode_receipt(record(earlier)).entries
    assert entry.occurred_at is None
    assert entry.first_copy_since == entry.received_at - load_rules().resend_window


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        None,
        b'{"event_id": "x"}',
        b"42",
        orjson.dumps([["not-a-uuid", "click", NOON.isoformat(), "u"]]),
        orjson.dumps([[12345, "click", NOON.isoformat(), "u"]]),
        orjson.dumps([[ID_A, "click", "yesterday", "u"]]),
        orjson.dumps([[ID_A, "click", 1746792000, "u"]]),
        orjson.dumps([[ID_A, "click", NOON.isoformat()]]),
        orjson.dumps([[ID_A, "click", NOON.isoformat(), "u", "extra"]]),
    ],
    ids=[
        "not-json", "no-value", "an-object", "a-number", "bad-uuid", "numeric-id", "bad-time",
        "numeric-time", "three-fields", "five-fields",
    ],
)  # fmt: skip
def test_anything_but_a_list_of_receipt_entries_is_undecodable(value: bytes | None):
    with pytest.raises(UndecodableRecord):
        decode_receipt(record(value))


# dead letters


def test_a_dead_lettered_stored_event_is_known_by_its_id_type_and_receive_time():
    event = orjson.dumps(stored(ID_A.upper(), "click", "u-1"))
    assert what_it_was(record(event, 1)) == (
        uuid.UUID(ID_A),
        "click",
        NOON + timedelta(seconds=1.5),
    )


@pytest.mark.parametrize(
    "value",
    [b"\xff not json", None, b"[1, 2]", orjson.dumps({"event_id": ID_A, "event_type": "x"})],
    ids=["not-json", "no-value", "a-list", "no-receive-time"],
)
def test_an_undecodable_dead_letter_falls_in_the_window_of_kafkas_timestamp(value: bytes | None):
    kafka_time = datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=UTC)
    event_id, event_type, received_at = what_it_was(record(value, 1_700_000_000_123))
    assert (event_id, event_type, received_at) == (None, "unknown", kafka_time)
    assert received_at.utcoffset() == timedelta(0)


def test_a_dead_letter_row_holds_the_group_origin_event_and_a_bounded_reason():
    event = orjson.dumps(stored(ID_A, "click", "u-1"))
    values = DeadLetterRow("postgres-staging", record(event), "r" * 2500).values()
    assert values[:7] == (
        "postgres-staging", "t", 2, 41, uuid.UUID(ID_A), "click",
        NOON + timedelta(seconds=1.5),
    )  # fmt: skip
    assert values[7] == "r" * 2000


# ledger entries


def test_a_ledger_entrys_row_has_the_id_the_type_the_time_and_the_users_digest():
    entry = LedgerEntry(ID_A, "click", NOON, "user-ß-1")
    event_id, event_type, received_at, user = entry.row()
    assert event_id == ID_A  # as text, which the database's uuid column parses
    assert (event_type, received_at) == ("click", NOON)
    assert user == hashlib.sha256(b"user-\xc3\x9f-1").digest()
    assert user == hashlib.sha256("user-ß-1".encode()).digest()
    assert len(user) == 32


def test_a_dead_letter_that_only_looks_like_a_stored_event_falls_in_kafkas_window():
    # What PostgreSQL would refuse (a NUL, a year-1 time) must not stop the group's loop.
    for looks in ({"event_type": "cl\u0000ick", "received_at": "2026-01-01T00:00:00+00:00"},
                  {"event_type": "click", "received_at": "0001-01-01T00:00:00+05:00"}):  # fmt: skip
        value = orjson.dumps({"event_id": ID_A, **looks})
        source = SourceRecord("user_click_log", 0, 1, None, value, 1_700_000_000_000)
        assert what_it_was(source) == (None, "unknown", datetime.fromtimestamp(1_700_000_000, UTC))


def test_a_type_kept_by_the_backup_alone_is_held_against_the_backup_alone():
    kept = window(acknowledged=5, backed_up=5)
    assert suspects(kept, backup_only=True) == []
    assert suspects(window(acknowledged=5, backed_up=4), backup_only=True) == [
        Suspect("backed_up", "missing")
    ]
    assert suspects(window(acknowledged=5, backed_up=4, dead_backup=1), backup_only=True) == []
