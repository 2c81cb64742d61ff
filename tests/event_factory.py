"""Valid events as the frontend sends them, with client-side ids so tests can find them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def new_event(event_type: str, user_id: str, **overrides: Any) -> dict[str, Any]:
    payloads = {
        "watch": {"action": "progress", "position_seconds": 61.5, "duration_seconds": 7200},
        "click": {"element": "play-button", "page": "/movie/550"},
        "comment": {"text": "Not bad at all 🍿", "rating": 7.5},
    }
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "user_id": user_id,
        "session_id": f"s-{user_id}",
        "movie_id": 550,
        "occurred_at": datetime.now(UTC).isoformat(),
        "context": {"page": "/movie/550", "locale": "en-GB", "device": "desktop"},
        "payload": payloads[event_type],
    }
    event.update(overrides)
    return event


def mixed_events(user_id: str, count: int) -> list[dict[str, Any]]:
    kinds = ("watch", "click", "comment")
    return [new_event(kinds[n % 3], user_id) for n in range(count)]
