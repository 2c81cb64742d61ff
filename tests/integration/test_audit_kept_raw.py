"""Segment messages kept raw are accounted for by the backup alone: never looked for in staging
or the model, and missing when the backup lacks them."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.audit.id_ledger import LedgerEntry, record_entries
from app.audit.reconciler import reconcile
from app.config import Settings
from app.db.postgres import PostgresPool
from app.topics import KEPT_RAW_TYPE


@pytest.fixture
async def postgres(settings: Settings) -> AsyncIterator[PostgresPool]:
    pool = PostgresPool(settings.database_url, 2)
    yield pool
    await pool.close()


async def test_kept_raw_messages_are_held_against_the_backup_alone(pg, postgres, settings):
    # A minute of its own, long past: no other test's events share it.
    window = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=random.randrange(10**6))
    entries = [
        LedgerEntry(str(uuid.uuid4()), KEPT_RAW_TYPE, window + timedelta(seconds=n), "ana")
        for n in range(3)
    ]
    lost = entries[2]
    try:
        await record_entries(pg, "audit.acknowledged", entries)
        await record_entries(pg, "audit.backed_up", entries[:2])

        [check] = await reconcile(postgres, settings, windows=[window])

        assert [(f.stage, f.kind, f.sample_ids) for f in check.findings] == [
            ("backed_up", "missing", (lost.event_id,))
        ], "never staged nor modelled, and that is no finding; the one not backed up is"
        assert (check.acknowledged, check.accounted) == (3, 2)

        await record_entries(pg, "audit.backed_up", [lost])
        [check] = await reconcile(postgres, settings, windows=[window])
        assert check.findings == [] and check.completeness == 1.0
    finally:
        ids = [entry.event_id for entry in entries]
        for table in ("audit.acknowledged", "audit.backed_up"):
            await pg.execute(f"DELETE FROM {table} WHERE event_id = ANY($1::uuid[])", ids)
        for table in ("audit.findings", "audit.windows"):
            await pg.execute(f"DELETE FROM {table} WHERE window_start = $1", window)
