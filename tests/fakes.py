"""Fakes of our own ports, passed through the composition root (never patched in)."""

from __future__ import annotations

from collections.abc import Sequence

from app.producers.kafka import PublishUnavailable
from app.producers.messages import OutgoingMessage
from app.topics import RECEIPTS_TOPIC


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

    @property
    def events(self) -> list[OutgoingMessage]:
        """What went to the user topics: the messages but ingest's receipts."""
        return [message for message in self.messages if message.topic != RECEIPTS_TOPIC]

    @property
    def receipts(self) -> list[OutgoingMessage]:
        return [message for message in self.messages if message.topic == RECEIPTS_TOPIC]

    async def close(self) -> None:
        self.closed = True
