"""The dead-letter topic for operators: what it holds, one record in full, and sending records
back to their topic once a fix is in.

A redrive sends each record back once: the records redriven are kept in PostgreSQL, and a run
reads the topic only up to its end when the run began, so what is refused again becomes a new
dead letter for a later run, never a loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from app.bootstrap import Resources
from app.consumers.dead_letter import DeadLetter, read_dead_letters
from app.producers.kafka import OutgoingMessage

MAX_READ = 1_000_000  # records a command reads from the topic at most
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
    found = await read_dead_letters(
        settings.kafka_bootstrap_servers, settings.dead_letter_topic,
        lambda letter: (letter.partition, letter.offset) == (partition, offset),
        MAX_READ, READ_SECONDS,
    )  # fmt: skip
    return found[0] if found else None


async def redrive(
    resources: Resources, reason: str | None, redriven_by: str, dry_run: bool
) -> RedriveOutcome:
    """Every dead letter matching `reason` and not redriven before, back to its origin topic
    with its key and value (so its event id and receipt time), once per origin record."""
    letters = await dead_letters(resources, reason)
    async with resources.postgres.connection() as connection:
        done = {
            (row["dead_letter_partition"], row["dead_letter_offset"])
            for row in await connection.fetch(
                "SELECT dead_letter_partition, dead_letter_offset FROM dead_letter_redrives"
            )
        }
        chosen = [x for x in letters if (x.partition, x.offset) not in done and x.origin_topic]
        # Each group that refused a record left its own dead letter: send the record once.
        origins = {(x.origin_topic, x.origin_partition, x.origin_offset): x for x in chosen}
        if dry_run or not chosen:
            return RedriveOutcome(len(chosen), len(origins))
        await resources.publisher.publish(
            [OutgoingMessage(x.origin_topic, x.key, x.value) for x in origins.values()]
        )
        await connection.executemany(
            "INSERT INTO dead_letter_redrives (dead_letter_partition, dead_letter_offset, "
            "origin_topic, consumer_group, reason, redriven_by) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT DO NOTHING",
            [(x.partition, x.offset, x.origin_topic, x.group, x.reason[:2000], redriven_by)
             for x in chosen],
        )  # fmt: skip
    return RedriveOutcome(len(chosen), len(origins))
