"""A property-based fuzz of POST /events over real HTTP: whatever the body, never a 5xx."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_ingest_bad_bodies import BEACON, JSON, click
from tests.support import ServiceProcess

# Over real HTTP: ASGITransport is async-only and hypothesis drives sync tests.
FUZZ = settings(max_examples=300, deadline=None, database=None)  # database: write no files


@pytest.fixture(scope="module")
def service() -> Iterator[httpx.Client]:
    """`python -m app` on a free port without consumers, and a client pointed at it."""
    process = ServiceProcess(RUN_CONSUMERS="false")
    process.start()
    try:
        with httpx.Client(base_url=process.base_url, timeout=30) as http:
            yield http
    finally:
        process.stop()


CLEAN_STATUSES = {202, 400, 413, 415, 422}
content_types = st.sampled_from([JSON, BEACON])
encodings = st.sampled_from([None, "gzip"])
aware_times = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.datetimes(),
    st.integers(-1439, 1439),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # orjson writes at most 64-bit integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | aware_times,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
FIELDS = [
    "event_id", "event_type", "user_id", "session_id", "movie_id", "occurred_at",
    "schema_version", "context", "payload", "received_at",
]  # fmt: skip
PAYLOAD_FIELDS = ["action", "position_seconds", "duration_seconds", "element", "text", "rating"]
FUZZ_USER = f"fuzz-{uuid.uuid4().hex[:10]}"  # accepted fuzz events reach Kafka under this id


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid watch, click or comment event with a few fields replaced, added or removed."""
    event_type = draw(st.sampled_from(["watch", "click", "comment"]))
    payload = {
        "watch": {"action": "pause", "position_seconds": 12.5},
        "click": {"element": "play"},
        "comment": {"text": "Great", "rating": 7},
    }[event_type]
    event = click(FUZZ_USER, event_type=event_type, movie_id=603, payload=payload)
    for _ in range(draw(st.integers(1, 4))):
        # An earlier step may have removed the payload or made it a non-object.
        in_payload = draw(st.booleans()) and isinstance(event.get("payload"), dict)
        target = event["payload"] if in_payload else event
        key = draw(st.sampled_from(PAYLOAD_FIELDS if in_payload else FIELDS) | st.text(max_size=8))
        if draw(st.booleans()):
            target[key] = draw(aware_times | json_values)  # timestamps often, anywhere
        else:
            target.pop(key, None)
    return event


def send(http: httpx.Client, body: bytes, content_type: str, encoding: str | None) -> None:
    headers = {"content-type": content_type}
    if encoding:
        body, headers["content-encoding"] = gzip.compress(body), encoding
    response = http.post("/events", content=body, headers=headers)

    assert response.status_code in CLEAN_STATUSES, (response.status_code, response.text, body)
    document = response.json()
    if "detail" in document:  # refused as a whole
        assert response.status_code != 202
        assert {"field", "reason"} <= set(document["detail"])
    else:  # judged event by event
        assert response.status_code in (202, 422)
        assert {"accepted", "rejected"} == set(document)


@FUZZ
@given(document=json_values, content_type=content_types, encoding=encodings)
def test_fuzz_any_json_value_gets_a_clean_answer(
    service: httpx.Client, document: object, content_type: str, encoding: str | None
) -> None:
    send(service, orjson.dumps(document), content_type, encoding)


@FUZZ
@given(
    events=st.lists(mutated_events(), min_size=1, max_size=3),
    content_type=content_types,
    encoding=encodings,
)
def test_fuzz_mutated_events_get_a_clean_answer(
    service: httpx.Client, events: list[dict[str, Any]], content_type: str, encoding: str | None
) -> None:
    send(service, orjson.dumps(events if len(events) > 1 else events[0]), content_type, encoding)


@FUZZ
@given(body=st.binary(max_size=2048), content_type=content_types, encoding=encodings)
def test_fuzz_arbitrary_bytes_get_a_clean_answer(
    service: httpx.Client, body: bytes, content_type: str, encoding: str | None
) -> None:
    send(service, body, content_type, encoding)
