"""A bounded load of event batches against a running service, remembering what was answered."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from tests.event_factory import mixed_events


@dataclass
class LoadOutcome:
    acknowledged: list[dict] = field(default_factory=list)  # events answered 202
    statuses: Counter = field(default_factory=Counter)  # status code, or the transport error

    @property
    def acknowledged_ids(self) -> list[str]:
        return [event["event_id"] for event in self.acknowledged]

    @property
    def acknowledged_comments(self) -> int:
        return sum(1 for event in self.acknowledged if event["event_type"] == "comment")


async def send_load(
    base_url: str,
    user: str,
    stop: asyncio.Event,
    outcome: LoadOutcome,
    batch_size: int = 20,
    max_requests: int = 2_000,
    pause_seconds: float = 0.02,
) -> None:
    """Post batches until `stop` is set (or max_requests); never raises for failed requests."""
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        for _ in range(max_requests):
            if stop.is_set():
                return
            events = mixed_events(user, batch_size)
            try:
                response = await client.post(
                    "/events",
                    content=orjson.dumps(events),
                    headers={"content-type": "application/json"},
                )
            except httpx.TransportError as error:
                outcome.statuses[type(error).__name__] += 1
                await asyncio.sleep(0.1)
                continue
            outcome.statuses[response.status_code] += 1
            if response.status_code == 202:
                outcome.acknowledged.extend(events)
            await asyncio.sleep(pause_seconds)
