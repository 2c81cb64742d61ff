"""The audit's scheduled work: a reconciler pass with the canaries followed, then the metrics;
and the canary's sending. Both run every minute in the scheduler."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.audit.backup_count import check_backup_count
from app.audit.canary import follow_canaries, send_canary
from app.audit.reconciler import WindowCheck, reconcile
from app.audit.summary import audit_summary, publish_audit_metrics
from app.bootstrap import Resources
from app.metrics import AUDIT_RECONCILED


async def audit_pass(
    resources: Resources, canary_interval_seconds: int, now: datetime | None = None
) -> list[WindowCheck]:
    settings, now = resources.settings, now or datetime.now(UTC)
    checks = await reconcile(resources.postgres, settings, now=now)
    async with resources.postgres.connection() as connection:
        await follow_canaries(
            connection, settings.audit_canary_deadline_seconds, canary_interval_seconds, now
        )
        backup = resources.mongo[settings.mongo_database]["user_logs"]
        await check_backup_count(
            connection, backup, settings.audit_backup_count_minutes, settings.audit_sample_ids, now
        )
        await publish_audit_metrics(connection, await audit_summary(connection))
    AUDIT_RECONCILED.set(time.time())
    return checks


async def canary(resources: Resources) -> str:
    return await send_canary(resources)
