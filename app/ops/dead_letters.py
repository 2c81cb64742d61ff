"""The dead-letter topic for operators: what it holds, one record in full, and sending records
back to their topic once a fix is in.

A redrive sends each record back once: the records redriven are kept in PostgreSQL, and a run
reads the topic only up to its end when the run began, so what is refused again becomes a new
dead letter for a later run, never a loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import asyncpg

from app.bootstrap import Resources
from app.consumers.dead_letter import DeadLetter, read_dead_letter_at, read_dead_letters
from app.producers.messages import OutgoingMessage

MAX_READ = 1_000_000  # records a command reads from the topic at most
BATCH = 500  # records a redrive sends and records in one transaction
READ_SECONDS = 300.0


@dataclass(frozen=True)
class RedriveOutcome:
    chosen: int  # dead letters matching the filter, not redriven before
    records: int  # the records they hold: one per origin record, whichever groups refused it


def reason_kind(reason: str) -> str:
    """The reason without its detail: `PostgreSQL refused the event: ...` -> its first part."""
    return reason.split(":", 1)[0]


async def dead_letters(resources: Resources, reason: str | None = None) -> list[DeadLetter]:
    settings = resources.settings
    return await read_dead_letters(
        settings.kafka_bootstrap_servers, settings.dead_letter_topic,
        lambda letter: reason is None or reason in letter.reason, MAX_READ, READ_SECONDS,
    )  # fmt: skip


def summary(letters: list[DeadLetter]) -> Counter[tuple[str, str, str]]:
    """How many dead letters per (reason kind, origin topic, consumer group)."""
    return Counter((reason_kind(x.reason), x.origin_topic, x.group) for x in letters)


async def dead_letter_at(resources: Resources, partition: int, offset: int) -> DeadLetter | None:
    settings = resources.settings
    return await read_dead_letter_at(
        settings.kafka_bootstrap_servers, settings.dead_letter_topic, partition, offset
    )


async def redrive(
    resources: Resources, reason: str | None, redriven_by: str, dry_run: bool
) -> RedriveOutcome:
    """Every dead letter matching `reason` and not redriven before, back to its origin topic
    with its key and value (so its event id and receipt time), once per origin record.

    A batch is recorded and published in one transaction: a row another run recorded first
    is not returned, so two runs never both send it; a publish that fails rolls its batch
    back for the next run. A crash between Kafka's acknowledgement and the commit sends that
    batch again, which the idempotent stores absorb."""
    letters = [x for x in await dead_letters(resources, reason) if x.origin_topic]
    async with resources.postgres.connection() as connection:
        done = {
            (row["dead_letter_partition"], row["dead_letter_offset"], row["dead_letter_time"])
            for row in await connection.fetch(
                "SELECT dead_letter_partition, dead_letter_offset, dead_letter_time "
                "FROM dead_letter_redrives"
            )
        }
        chosen = [x for x in letters if (x.partition, x.offset, x.written_at) not in done]
        if dry_run:
            return RedriveOutcome(len(chosen), len(origins_of(chosen)))
        # Both groups' letters of a record go in the same batch, so the record is sent once.
        by_origin = list(grouped_by_origin(chosen).values())
        sent = 0
        for start in range(0, len(by_origin), BATCH):
            batch = [letter for group in by_origin[start : start + BATCH] for letter in group]
            async with connection.transaction():
                recorded = await record_redrives(connection, batch, redriven_by)
                messages = [
                    OutgoingMessage(x.origin_topic, x.key, x.value) for x in origins_of(recorded)
                ]
                await resources.publisher.publish(messages)
                sent += len(messages)
    return RedriveOutcome(len(chosen), sent)


def grouped_by_origin(letters: list[DeadLetter]) -> dict[tuple[str, int, int], list[DeadLetter]]:
    """Each group that refused a record left its own dead letter of it."""
    groups: dict[tuple[str, int, int], list[DeadLetter]] = {}
    for x in letters:
        groups.setdefault((x.origin_topic, x.origin_partition, x.origin_offset), []).append(x)
    return groups


def origins_of(letters: list[DeadLetter]) -> list[DeadLetter]:
    """One dead letter per origin record."""
    return [group[0] for group in grouped_by_origin(letters).values()]


async def record_redrives(
    connection: asyncpg.Connection, letters: list[DeadLetter], redriven_by: str
) -> list[DeadLetter]:
    """The letters this call recorded: those no other run has."""
    rows = await connection.fetch(
        "INSERT INTO dead_letter_redrives (dead_letter_partition, dead_letter_offset, "
        "dead_letter_time, origin_topic, consumer_group, reason, redriven_by) "
        "SELECT * FROM unnest($1::int[], $2::bigint[], $3::timestamptz[], $4::text[], "
        "$5::text[], $6::text[], $7::text[]) ON CONFLICT DO NOTHING "
        "RETURNING dead_letter_partition, dead_letter_offset, dead_letter_time",
        [x.partition for x in letters], [x.offset for x in letters],
        [x.written_at for x in letters], [x.origin_topic for x in letters],
        [x.group for x in letters], [x.reason[:2000] for x in letters],
        [redriven_by] * len(letters),
    )  # fmt: skip
    fresh = {
        (r["dead_letter_partition"], r["dead_letter_offset"], r["dead_letter_time"]) for r in rows
    }
    return [x for x in letters if (x.partition, x.offset, x.written_at) in fresh]
