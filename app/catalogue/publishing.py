"""Fetch each movie's details and publish them to the `movie` topic, keyed by TMDB id."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.catalogue.movies import details_hash, movie_message
from app.producers.kafka import Publisher
from app.producers.messages import OutgoingMessage
from app.topics import MOVIE_TOPIC

FetchDetails = Callable[[int], Awaitable[dict[str, Any] | None]]
PUBLISH_CHUNK = 50


@dataclass
class SyncCounts:
    fetched: int = 0
    changed: int = 0
    gone: int = 0
    gone_ids: list[int] = field(default_factory=list)


async def fetch_and_publish(
    movie_ids: list[int],
    fetch_details: FetchDetails,
    publisher: Publisher,
    stored_hashes: dict[int, str],
    on_progress: Callable[[int], None] = lambda done: None,
    concurrency: int = 8,
) -> SyncCounts:
    """Fetch in parallel (the client paces the requests), publish in acknowledged chunks."""
    counts = SyncCounts()
    limit = asyncio.Semaphore(concurrency)

    async def fetch(movie_id: int) -> tuple[int, dict[str, Any] | None, datetime]:
        async with limit:
            details = await fetch_details(movie_id)
        return movie_id, details, datetime.now(UTC)

    for start in range(0, len(movie_ids), PUBLISH_CHUNK):
        chunk = movie_ids[start : start + PUBLISH_CHUNK]
        fetched = await asyncio.gather(*(fetch(movie_id) for movie_id in chunk))
        messages = []
        for movie_id, details, fetched_at in fetched:
            counts.fetched += 1
            if details is None:
                counts.gone += 1
                counts.gone_ids.append(movie_id)
            elif stored_hashes.get(movie_id) != details_hash(details):
                counts.changed += 1
            messages.append(
                OutgoingMessage(MOVIE_TOPIC, str(movie_id).encode(), movie_message(
                    movie_id, details, fetched_at
                ))
            )  # fmt: skip
        await publisher.publish(messages)
        on_progress(start + len(chunk))
    return counts
