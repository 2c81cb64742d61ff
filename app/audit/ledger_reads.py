"""What the reconciler reads: the stages' counts per window, how far each stage has got, and
the event ids behind a count that falls short. Every read is bounded to a range of receive
time through an index, never a walk of a store."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import asyncpg

from app.audit.accounts import BACKUP_GROUP, STAGING_GROUP
from app.topics import KEPT_RAW_TYPE

WINDOW = "date_bin('1 minute', received_at, timestamptz '2000-01-01 00:00:00+00')"
COUNTS = f"""
    SELECT window_start, event_type, stage, events FROM audit.ledger
    WHERE window_start >= $1 AND window_start < $2
    UNION ALL
    SELECT {WINDOW}, event_type, 'acknowledged', count(*) FROM audit.acknowledged
    WHERE received_at >= $1 AND received_at < $2 GROUP BY 1, 2
    UNION ALL
    SELECT {WINDOW}, event_type, 'backed_up', count(*) FROM audit.backed_up
    WHERE received_at >= $1 AND received_at < $2 GROUP BY 1, 2
    UNION ALL
    SELECT {WINDOW}, event_type, 'dead_letter:' || consumer_group, count(*)
    FROM audit.dead_letters WHERE received_at >= $1 AND received_at < $2 GROUP BY 1, 2, 3
"""
TypeCounts = dict[str, dict[str, int]]  # per event type, each stage's count
# How far each stage has got: the newest receive time it holds (a backward walk of an index);
# for the model, what its writers record of their progress, which no deleted fact moves back.
REACHED = {
    "acknowledged": "SELECT max(received_at) FROM audit.acknowledged",
    "backed_up": "SELECT max(received_at) FROM audit.backed_up",
    "staged": "SELECT max(received_at) FROM stg_user_logs",
    "modelled": "SELECT greatest("
    "(SELECT max(max_received_at) FROM (SELECT max_received_at FROM spark_batches "
    "ORDER BY processed_at DESC LIMIT 100) AS latest_batches), "
    "(SELECT max(range_end) FROM fallback_runs WHERE status = 'succeeded'))",
}
IN_WINDOW = "{0}.received_at >= $1 AND {0}.received_at < $2"


def accounted_by(table: str, group: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM {table} s WHERE s.event_id = a.event_id) AND NOT EXISTS "
        "(SELECT 1 FROM audit.dead_letters d WHERE d.event_id = a.event_id "
        f"AND d.consumer_group = '{group}' AND d.received_at = a.received_at)"
    )


NOT_MODELLED = (
    "NOT EXISTS (SELECT 1 FROM fact_user_event f WHERE f.event_id = a.event_id) AND NOT EXISTS "
    "(SELECT 1 FROM fact_user_event_fallback b WHERE b.event_id = a.event_id)"
)
# An acknowledged event not where it ends: the model, or for a message kept raw, the backup.
UNACCOUNTED_FOR = (
    f"CASE WHEN a.event_type = '{KEPT_RAW_TYPE}' "
    "THEN NOT EXISTS (SELECT 1 FROM audit.backed_up b WHERE b.event_id = a.event_id) "
    f"ELSE {NOT_MODELLED} END"
)
# Per suspect: the ids of the window that the stage lacks (or holds beyond what it should).
UNACCOUNTED = {
    ("backed_up", "missing"): (
        "audit.acknowledged a",
        accounted_by("audit.backed_up", BACKUP_GROUP),
    ),
    # Messages kept raw are never staged.
    ("staged", "missing"): (
        "audit.acknowledged a",
        f"a.event_type <> '{KEPT_RAW_TYPE}' AND {accounted_by('stg_user_logs', STAGING_GROUP)}",
    ),
    ("modelled", "missing"): ("stg_user_logs a", NOT_MODELLED),
    # Spark reads Kafka, not staging: it models what staging dead-lettered, rightly.
    ("modelled", "extra"): ("fact_user_event a", accounted_by("stg_user_logs", STAGING_GROUP)),
}
# A staged event or a fact held twice: their keys hold the receive time, so only the writers'
# look-back over the resend window keeps a client's retry out, and this check watches it.
DUPLICATES = {
    "staged": "stg_user_logs",
    "modelled": "fact_user_event",
}


async def window_counts(
    connection: asyncpg.Connection, first: datetime, until: datetime
) -> dict[datetime, TypeCounts]:
    counts: dict[datetime, TypeCounts] = defaultdict(lambda: defaultdict(dict))
    for window, event_type, stage, events in await connection.fetch(COUNTS, first, until):
        counts[window][event_type][stage] = events
    return counts


async def stages_reached(connection: asyncpg.Connection) -> dict[str, datetime | None]:
    return {stage: await connection.fetchval(query) for stage, query in REACHED.items()}


async def unaccounted(
    connection: asyncpg.Connection, stage: str, kind: str, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """Every event the stage lacks in the window, with its receive time, oldest first."""
    source, condition = UNACCOUNTED[(stage, kind)]
    rows = await connection.fetch(
        f"SELECT a.event_id::text, a.received_at FROM {source} "
        f"WHERE {IN_WINDOW.format('a')} AND {condition} ORDER BY a.received_at, a.event_id",
        start,
        end,
    )
    return [(row[0], row[1]) for row in rows]


async def newest_unreceipted(
    connection: asyncpg.Connection, start: datetime, end: datetime
) -> datetime | None:
    """The newest event of the window stored without a receipt: once receipts of later events
    have been read, its own was never sent (its client got no 202), which is no finding."""
    return await connection.fetchval(
        "SELECT max(a.received_at) FROM (SELECT event_id, received_at FROM audit.backed_up "
        "UNION ALL SELECT event_id, received_at FROM stg_user_logs) a "
        f"WHERE {IN_WINDOW.format('a')} AND NOT EXISTS "
        "(SELECT 1 FROM audit.acknowledged s WHERE s.event_id = a.event_id)",
        start,
        end,
    )


async def duplicated_ids(
    connection: asyncpg.Connection, stage: str, start: datetime, end: datetime
) -> list[str]:
    rows = await connection.fetch(
        f"SELECT event_id::text FROM {DUPLICATES[stage]} a WHERE {IN_WINDOW.format('a')} "
        "GROUP BY event_id HAVING count(*) > 1 ORDER BY event_id",
        start,
        end,
    )
    return [row[0] for row in rows]


async def retained_since(connection: asyncpg.Connection) -> datetime | None:
    """Where the stores' retention left them whole: the minutes before were checked while they
    held them, and cannot be checked again."""
    return await connection.fetchval(
        "SELECT max(kept_since) FROM storage_upkeep_runs WHERE cardinality(dropped) > 0"
    )


async def changed_windows(connection: asyncpg.Connection, since: datetime) -> list[datetime]:
    """Windows of the last week whose stores' counts moved since then: a late write, or a row
    deleted. (Older ones are checked when asked: `python -m app.jobs audit --since`.)"""
    rows = await connection.fetch(
        "SELECT DISTINCT window_start FROM audit.ledger "
        "WHERE window_start >= $1::timestamptz - interval '7 days' AND updated_at >= $1",
        since,
    )
    return [row[0] for row in rows]
