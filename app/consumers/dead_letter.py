"""The dead-letter topic: what no consumer could decode or store, with why and whence."""

from __future__ import annotations

from app.consumers.records import SourceRecord
from app.producers.kafka import OutgoingMessage

REASON_HEADER = "dead_letter.reason"


def dead_letter_message(
    source: SourceRecord, reason: str, group_id: str, topic: str
) -> OutgoingMessage:
    headers = (
        (REASON_HEADER, reason[:2000].encode()),
        ("dead_letter.origin_topic", source.topic.encode()),
        ("dead_letter.origin_partition", str(source.partition).encode()),
        ("dead_letter.origin_offset", str(source.offset).encode()),
        ("dead_letter.consumer_group", group_id.encode()),
    )
    return OutgoingMessage(topic, source.key or b"", source.value or b"", headers)
