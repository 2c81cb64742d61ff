"""One `POST /events` request, whatever serves it: its body refused as a whole, or each event
validated on its own, the valid ones published together, and an answer saying what became of
each. The answer is bytes and headers, ready for any server to send."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import orjson

from app.bootstrap import Resources
from app.config import Settings
from app.ingest.accept import publish_accepted, validate_all
from app.ingest.request_body import IngestError, decode_content, parse_events
from app.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, PUBLISH_FAILURES, PUBLISH_LATENCY
from app.producers.kafka import PublishUnavailable

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class RequestHeaders:
    """The headers intake reads, decoded."""

    content_type: str | None = None
    content_encoding: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Headers  # content-type and content-length included


def json_answer(status: int, content: object, headers: Headers | None = None) -> Answer:
    body = orjson.dumps(content)
    fixed = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return Answer(status, body, fixed + (headers or []))


def retry_after(settings: Settings) -> Headers:
    """When to send again after Kafka did not acknowledge: its own timeout."""
    return [(b"retry-after", b"%d" % max(1, round(settings.publish_timeout_seconds)))]


def refusal(error: IngestError) -> Answer:
    EVENTS_REJECTED.labels(f"request_{error.status_code}").inc()
    detail = {"field": error.field, "reason": error.reason}
    return json_answer(error.status_code, {"detail": detail})


async def take_events(body: bytes, headers: RequestHeaders, resources: Resources) -> Answer:
    """202 once Kafka holds every valid event, 422 if none is valid, 503 if Kafka did not
    acknowledge them in time; raises IngestError for a body refused as a whole."""
    settings = resources.settings
    body = decode_content(body, headers.content_encoding, settings.max_inflated_bytes)
    candidates = parse_events(body, settings.max_batch_events, settings.max_json_values)
    validated = validate_all(candidates, resources.event_limits, headers.user_agent)
    accepted, rejected = validated.accepted, validated.rejected
    result = {
        "accepted": [{"index": a.index, "event_id": a.event_id} for a in accepted],
        "rejected": [{"index": r.index, "field": r.field, "reason": r.reason} for r in rejected],
    }
    for kind, count in Counter(rejection.kind for rejection in rejected).items():
        EVENTS_REJECTED.labels(kind).inc(count)
    if not accepted:
        return json_answer(422, result)

    started = time.perf_counter()
    try:
        await publish_accepted(resources.publisher, accepted)
    except PublishUnavailable as error:
        PUBLISH_FAILURES.inc()
        detail = {"detail": {"field": "", "reason": str(error)}}
        return json_answer(503, detail, retry_after(settings))
    PUBLISH_LATENCY.observe(time.perf_counter() - started)
    for event_type, count in Counter(item.event_type for item in accepted).items():
        EVENTS_ACCEPTED.labels(event_type).inc(count)
    return json_answer(202, result)
