"""Movie messages on the `movie` topic and what their details mean: pure, no I/O."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import orjson


def details_hash(details: dict[str, Any] | None) -> str:
    """Tells one version of a movie's details from another, whatever the key order."""
    canonical = orjson.dumps(details, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:20]


def movie_message(movie_id: int, details: dict[str, Any] | None, fetched_at: datetime) -> bytes:
    return orjson.dumps(
        {
            "movie_id": movie_id,
            "fetched_at": fetched_at.astimezone(UTC).isoformat(),
            "gone": details is None,
            "details": details,
        }
    )


def release_date(details: dict[str, Any]) -> date | None:
    """TMDB sends "" for an unknown release date."""
    try:
        return date.fromisoformat(details.get("release_date") or "")
    except ValueError:
        return None


def genres_of(details: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"id": int(genre["id"]), "name": str(genre["name"])}
        for genre in details.get("genres") or []
        if isinstance(genre, dict) and "id" in genre and "name" in genre
    ]
