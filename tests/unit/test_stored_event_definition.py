"""Every reader and writer of the stored event agrees with its one definition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.consumers.staging_rows import USER_LOG_COLUMNS
from app.ingest.event_schema import EVENT_VALIDATORS, PAYLOADS, EventContext, EventEnvelope
from app.ingest.events import EventLimits, validate_event
from jobs.pandas.events_frame import EVENT_FRAME_COLUMNS
from jobs.rules import load_rules
from jobs.spark.records import EVENT_SCHEMA
from jobs.stored_event import CONTEXT_FIELDS, EVENT_FIELD_NAMES, PAYLOAD_FIELDS, payload_union

RECEIVED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_ingest_writes_exactly_the_stored_fields():
    limits = EventLimits.from_rules(load_rules())
    stored = validate_event(
        {"event_type": "click", "user_id": "u", "occurred_at": RECEIVED_AT.isoformat(),
         "payload": {"element": "play"}},
        RECEIVED_AT, "agent", limits,
    )  # fmt: skip
    assert tuple(stored) == EVENT_FIELD_NAMES


def test_the_envelope_takes_every_stored_field_but_the_servers_own():
    assert set(EventEnvelope.__annotations__) == set(EVENT_FIELD_NAMES) - {"received_at"}


def test_each_event_type_validates_the_envelope_with_its_own_payload():
    assert set(EVENT_VALIDATORS) == set(PAYLOADS)
    for event_type, validator in EVENT_VALIDATORS.items():
        fields = validator.core_schema["cls"].__annotations__
        assert set(fields) == set(EventEnvelope.__annotations__)
        assert fields["payload"] is PAYLOADS[event_type]


def test_the_payload_definitions_are_the_stored_payloads():
    assert set(PAYLOADS) == set(PAYLOAD_FIELDS)
    for event_type, payload in PAYLOADS.items():
        fields = PAYLOAD_FIELDS[event_type]
        assert list(payload.__annotations__) == [field.name for field in fields]
        assert payload.__required_keys__ == {field.name for field in fields if field.required}


def test_the_context_definition_is_the_stored_context_less_what_the_server_sets():
    names = [field.name for field in CONTEXT_FIELDS]
    server_set = {"user_agent", "source", "client_timestamp"}
    assert list(EventContext.__annotations__) == [name for name in names if name not in server_set]


def test_spark_reads_the_stored_fields_with_every_payload_field():
    assert tuple(EVENT_SCHEMA.fieldNames()) == EVENT_FIELD_NAMES
    payload = EVENT_SCHEMA["payload"].dataType
    assert payload.fieldNames() == [field.name for field in payload_union()]
    assert EVENT_SCHEMA["context"].dataType.fieldNames() == [f.name for f in CONTEXT_FIELDS]


def test_staging_and_pandas_take_the_stored_fields():
    assert USER_LOG_COLUMNS[: len(EVENT_FIELD_NAMES)] == EVENT_FIELD_NAMES
    assert set(EVENT_FRAME_COLUMNS) == set(EVENT_FIELD_NAMES) - {"schema_version"}


def test_ingest_refuses_what_the_rules_would_flag_as_out_of_window():
    rules = load_rules()
    limits = EventLimits.from_rules(rules)
    assert limits.max_future_skew == timedelta(seconds=rules.max_future_skew_seconds)
    assert limits.max_age == timedelta(days=rules.max_age_days)
