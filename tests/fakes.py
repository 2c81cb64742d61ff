"""Fakes of our own ports, passed through the composition root (never patched in)."""

from __future__ import annotations

from collections.abc import Sequence

from app.producers.kafka import OutgoingMessage, PublishUnavailable


class InMemoryPublisher:
    """Holds what it is asked to publish; `unavailable` makes it refuse as a Kafka outage would."""

    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []
        self.unavailable = False
        self.closed = False

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.unavailable:
            raise PublishUnavailable("Kafka did not acknowledge the messages: timed out")
        self.messages.extend(messages)

    async def close(self) -> None:
        self.closed = True
