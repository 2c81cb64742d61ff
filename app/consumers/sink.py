"""The contract between the consumer runner and the stores it writes to."""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    name: str

    async def write(self, records: list[Any]) -> dict[int, str]:
        """Write the decoded records idempotently (on the event id, or the movie version).

        Returns the positions (in `records`) of those the store refused for good, with the
        reason; they go to the dead-letter topic. Raises StoreUnavailable for passing faults.
        The store's client belongs to the composition root, which closes it.
        """
        ...
