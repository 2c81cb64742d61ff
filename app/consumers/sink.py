"""The contract between the consumer runner and the stores it writes to."""

from __future__ import annotations

from typing import Protocol

from app.consumers.records import DecodedEvent


class StoreUnavailable(Exception):
    """The store could not be reached; the batch is retried later and nothing is committed."""


class Sink(Protocol):
    name: str

    async def write(self, events: list[DecodedEvent]) -> dict[int, str]:
        """Write the events idempotently on their event id.

        Returns the positions (in `events`) of those the store refused for good, with the
        reason; they go to the dead-letter topic. Raises StoreUnavailable for passing faults.
        """
        ...

    async def close(self) -> None: ...
