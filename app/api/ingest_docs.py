"""What `POST /events` accepts and answers, declared for OpenAPI. The route reads its body as
a bounded stream, so FastAPI cannot infer it, and generated clients and fuzzers would see
nothing to send; and it writes its answers by hand, off the models, for speed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.ingest.event_schema import EVENT_VALIDATORS

EXAMPLE_EVENT = {
    "event_id": "0192b6a4-3c1e-7d2f-9a51-4e8b7c6d5f10",
    "event_type": "watch",
    "user_id": "user-42",
    "session_id": "s-42",
    "movie_id": 550,
    "occurred_at": "2026-12-01T12:00:00Z",
    "context": {"page": "/movie/550", "locale": "en-GB"},
    "payload": {"action": "start", "position_seconds": 0, "duration_seconds": 8340},
}


def inline_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its `$defs` written in place of their `$ref`s, so it stands alone in
    an OpenAPI document."""
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def events_request_body() -> dict[str, Any]:
    # One schema per event type, so a payload is declared with the type it belongs to.
    event = {
        "oneOf": [
            inline_definitions(adapter.json_schema()) for adapter in EVENT_VALIDATORS.values()
        ]
    }
    batch = {"type": "array", "items": event, "minItems": 1}
    body = {
        "oneOf": [
            event,
            batch,
            {
                "type": "object",
                "properties": {"events": batch},
                "required": ["events"],
                "additionalProperties": False,
            },
        ]
    }
    examples = {
        "one event": {"value": EXAMPLE_EVENT},
        "a batch": {"value": [EXAMPLE_EVENT]},
        "an envelope (what sendBeacon sends)": {"value": {"events": [EXAMPLE_EVENT]}},
    }
    return {
        "required": True,
        "description": 'One event, an array of events, or `{"events": [...]}` (at most '
        "MAX_BATCH_EVENTS, 500 by default); as application/json, or as text/plain from a CORS "
        "simple request or a beacon. `Content-Encoding: gzip` is accepted.",
        "content": {
            media_type: {"schema": body, "examples": examples}
            for media_type in ("application/json", "text/plain")
        },
    }


class AcceptedItem(BaseModel):
    index: int
    event_id: str


class RejectedItem(BaseModel):
    index: int
    field: str
    reason: str


class IngestResult(BaseModel):
    accepted: list[AcceptedItem]
    rejected: list[RejectedItem]


class FieldReason(BaseModel):
    field: str
    reason: str


class IngestProblem(BaseModel):
    """A request refused whole: the body, its encoding or its size."""

    detail: FieldReason


INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": IngestProblem, "description": "The body is not valid JSON or gzip"},
    408: {"model": IngestProblem, "description": "The body did not arrive in time"},
    413: {"model": IngestProblem, "description": "Body, inflated body or batch over the limit"},
    415: {"model": IngestProblem, "description": "Unsupported content type or encoding"},
    422: {
        "description": "No event in the request is valid, or the body is not events",
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/IngestResult"},
                        {"$ref": "#/components/schemas/IngestProblem"},
                    ]
                }
            }
        },
    },
    429: {
        "description": "Over the fair-use limit of this client (problem+json); retry after "
        "Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
    503: {
        "model": IngestProblem,
        "description": "Kafka did not acknowledge in time; retry after Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}
