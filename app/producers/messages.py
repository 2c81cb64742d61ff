"""What the pipeline publishes: a record for one topic, as the producer and its batches take it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
