"""Documents deleted from the MongoDB backup behind the pipeline's back (by hand, a retention
set too short): nothing the audit's ledger holds would show them, and looking each window's
events up would walk the whole collection on FerretDB (it uses no index for that).

So MongoDB's own count of the collection (one `collStats`) is held against the backup's ledger
every few minutes. Their difference (documents older than the audit, mostly) never falls by
itself: when it falls below the lowest seen, documents went missing, and only then is the
collection walked once, its ids copied into PostgreSQL and held against the ledger, to name the
missing events window by window. A passing fall (an erasure between its two stores) names
nothing. Those findings are this check's own and close at a later walk that no longer sees them.
It runs as a job of its own, so that a walk never holds up the reconciler's minute.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime

import asyncpg
from pymongo.asynchronous.collection import AsyncCollection

from app.audit.accounts import Finding
from app.audit.findings import record_findings

STAGE = "backup_documents"
WALK_BATCH = 10_000
EVER = datetime.min.replace(tzinfo=UTC)
MISSING_FROM_WALK = """
    SELECT b.event_id::text, date_bin('1 minute', b.received_at, timestamptz '2000-01-01') AS w
    FROM audit.backed_up b
    WHERE b.written_at < $1 AND b.received_at >= $2
      AND NOT EXISTS (SELECT 1 FROM walked_ids w WHERE w.id = b.event_id)
      -- An erasure deletes a user's documents before their ledger rows.
      AND NOT EXISTS (SELECT 1 FROM forgotten_users f WHERE f.user_hash = b.user_hash)
    ORDER BY b.received_at, b.event_id
"""


async def check_backup_count(
    connection: asyncpg.Connection,
    collection: AsyncCollection,
    every_minutes: int,
    sample: int,
    now: datetime,
    since: datetime = EVER,
) -> list[Finding] | None:
    """The findings of a walk, or None when the counts needed none (or it is not yet time).
    A walk compares the ledger's events received `since` then (all of them by default)."""
    last = await connection.fetchrow(
        "SELECT counted_at, documents - ledger AS difference FROM audit.backup_counts "
        "ORDER BY counted_at DESC LIMIT 1"
    )
    if last is not None and (now - last["counted_at"]).total_seconds() < every_minutes * 60:
        return None
    # The lowest difference of the counts alone: a walk's own may be a passing low.
    lowest = await connection.fetchval(
        "SELECT min(documents - ledger) FROM audit.backup_counts WHERE NOT swept"
    )
    # The ledger first: a row of it commits only once MongoDB holds its document, so writes
    # between the two readings can only raise the difference, never fake a fall.
    ledger = await connection.fetchval("SELECT count(*) FROM audit.backed_up")
    stats = await collection.database.command("collStats", collection.name)
    documents = int(stats.get("count", 0))
    open_walk = await connection.fetchval(
        "SELECT count(*) FROM audit.findings WHERE stage = $1 AND closed_at IS NULL", STAGE
    )
    if lowest is None or (documents - ledger >= lowest and not open_walk):
        await connection.execute(
            "INSERT INTO audit.backup_counts (documents, ledger) VALUES ($1, $2)", documents, ledger
        )
        return None
    findings = await walk(connection, collection, now, since, sample)
    missing = sum(finding.events for finding in findings)
    await connection.execute(
        "INSERT INTO audit.backup_counts (documents, ledger, swept, missing) "
        "VALUES ($1, $2, true, $3)",
        documents, ledger, missing,
    )  # fmt: skip
    return findings


async def walk(
    connection: asyncpg.Connection,
    collection: AsyncCollection,
    started: datetime,
    since: datetime,
    sample: int,
) -> list[Finding]:
    """Every id of the backup into a temporary table, then the ledger's events not among them
    (written before the walk began: a later one may not have been walked). No transaction is
    held meanwhile: a long one would hold up an erasure, which waits for older ones."""
    await connection.execute("CREATE TEMP TABLE IF NOT EXISTS walked_ids (id uuid PRIMARY KEY)")
    try:
        batch: list[object] = []
        async for document in collection.find({}, {"_id": 1}, batch_size=WALK_BATCH):
            batch.append(document["_id"])
            if len(batch) >= WALK_BATCH:
                await copy_ids(connection, batch)
                batch = []
        await copy_ids(connection, batch)
        rows = await connection.fetch(MISSING_FROM_WALK, started, since)
    finally:
        await connection.execute("DROP TABLE walked_ids")
    by_window: dict[datetime, list[str]] = defaultdict(list)
    for event_id, window in rows:
        by_window[window].append(event_id)
    findings = [
        Finding(STAGE, window, "missing", len(ids), tuple(ids[:sample]),
                "in the backup's ledger, but no longer in MongoDB")
        for window, ids in sorted(by_window.items())
    ]  # fmt: skip
    opened = await connection.fetch(
        "SELECT DISTINCT window_start FROM audit.findings WHERE stage = $1 AND closed_at IS NULL",
        STAGE,
    )
    windows = {row[0] for row in opened} | set(by_window)
    await record_findings(connection, [STAGE], windows, findings)
    return findings


async def copy_ids(connection: asyncpg.Connection, ids: list[object]) -> None:
    """Ids that are not UUIDs (no event of ours) are left out of the comparison."""
    valid = [(event_id,) for event_id in map(as_uuid, ids) if event_id is not None]
    if valid:
        await connection.copy_records_to_table("walked_ids", records=valid, columns=["id"])


def as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
