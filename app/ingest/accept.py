"""Accepting a request's events: validate each on its own, publish the valid ones together,
and say which were taken and why the others were not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.audit.receipts import receipt_message
from app.ingest.events import (
    AcceptedEvent,
    EventLimits,
    EventRejected,
    Receipt,
    Rejection,
    validate_and_encode,
)
from app.producers.kafka import Publisher
from app.producers.messages import OutgoingMessage
from app.topics import TOPIC_OF_TYPE


@dataclass(frozen=True)
class Validated:
    accepted: list[AcceptedEvent]
    rejected: list[Rejection]


def validate_all(
    candidates: list[object], limits: EventLimits, user_agent: str | None
) -> Validated:
    receipt = Receipt.of(datetime.now(UTC), user_agent, limits)
    accepted, rejected = [], []
    for index, candidate in enumerate(candidates):
        try:
            event, encoded = validate_and_encode(candidate, receipt)
            if event["user_id"] in limits.reserved_users:
                raise EventRejected("user_id", "is reserved for the pipeline's canary", "reserved")
        except EventRejected as error:
            rejected.append(Rejection(index, error.field, error.reason, error.kind))
        else:
            accepted.append(AcceptedEvent(index, event, encoded))
    return Validated(accepted, rejected)


async def publish_accepted(publisher: Publisher, accepted: list[AcceptedEvent]) -> None:
    """Returns once Kafka holds every one of them and the receipt naming them (after them: a
    receipt names only events Kafka holds); raises PublishUnavailable otherwise."""
    await publisher.publish([outgoing_message(event) for event in accepted])
    await publisher.publish([receipt_message([event.event for event in accepted])])


def outgoing_message(accepted: AcceptedEvent) -> OutgoingMessage:
    return OutgoingMessage(
        topic=TOPIC_OF_TYPE[accepted.event_type],
        key=accepted.user_id.encode(),
        value=accepted.encoded,
    )
