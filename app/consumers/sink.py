"""The contract between the consumer runner and the stores it writes to."""

from __future__ import annotations

from typing import Any, Protocol


class StoreUnavailable(Exception):
    """The store could not be reached; the batch is retried later and nothing is committed."""


class Sink(Protocol):
    name: str

    async def write(self, records: list[Any]) -> dict[int, str]:
        """Write the decoded records idempotently (on the event id, or the movie version).

        Returns the positions (in `records`) of those the store refused for good, with the
        reason; they go to the dead-letter topic. Raises StoreUnavailable for passing faults.
        """
        ...

    async def close(self) -> None: ...
