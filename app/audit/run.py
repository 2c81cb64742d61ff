"""The audit's scheduled work, each a job of its own so that one failing or slow leaves the
others running: a reconciler pass (then the metrics), the canaries followed and sent, and the
backup's count."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from app.audit.backup_count import check_backup_count
from app.audit.canary import follow_canaries, send_canary
from app.audit.reconciler import WindowCheck, reconcile
from app.audit.summary import audit_summary, publish_audit_metrics
from app.bootstrap import Resources
from app.metrics import AUDIT_RECONCILED


async def audit_pass(resources: Resources, now: datetime | None = None) -> list[WindowCheck]:
    checks = await reconcile(resources.postgres, resources.settings, now=now)
    AUDIT_RECONCILED.set(time.time())
    async with resources.postgres.connection() as connection:
        await publish_audit_metrics(connection, await audit_summary(connection))
    return checks


async def canary(resources: Resources, interval_seconds: int) -> str:
    """Follow the canaries sent so far, then send the next one."""
    deadline = resources.settings.audit_canary_deadline_seconds
    async with resources.postgres.connection() as connection:
        await follow_canaries(connection, deadline, interval_seconds, datetime.now(UTC))
    return await send_canary(resources)


async def backup_count(resources: Resources) -> None:
    settings = resources.settings
    backup = resources.mongo[settings.mongo_database]["user_logs"]
    async with resources.postgres.connection() as connection:
        await check_backup_count(
            connection, backup, settings.audit_backup_count_minutes, settings.audit_sample_ids,
            datetime.now(UTC),
        )  # fmt: skip
