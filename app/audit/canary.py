"""The canary: a synthetic click sent through ingest every minute, followed through the backup,
staging and the model. Its user is one of the rules' `synthetic_users`, which ingest refuses
from clients and the rules refuse as facts (`invalid_reason = 'synthetic'`), so no rollup, API
answer, analytics view or user count includes it; the audit and the metrics do.

A canary not in the model after the deadline is a finding (a stall, even with no traffic), and
so is a canary that was not sent at all.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg

from app.audit.accounts import Finding
from app.audit.findings import record_findings
from app.bootstrap import Resources
from app.ingest.accept import publish_accepted, validate_all
from app.metrics import AUDIT_CANARY_LATENCY, AUDIT_CANARY_MODELLED

STAGE = "canary"
# Each stage's time for a canary, read by its event id (primary keys: no walk of a store).
STAGE_TIMES = {
    "backed_up_at": "(SELECT written_at FROM audit.backed_up s WHERE s.event_id = c.event_id)",
    "staged_at": "(SELECT staged_at FROM stg_user_logs s WHERE s.event_id = c.event_id)",
    "modelled_at": "coalesce("
    "(SELECT processed_at FROM fact_user_event s WHERE s.event_id = c.event_id), "
    "(SELECT processed_at FROM fact_user_event_fallback s WHERE s.event_id = c.event_id))",
}
SETS = ", ".join(f"{column} = coalesce(c.{column}, {read})" for column, read in STAGE_TIMES.items())
FOLLOW = f"""
    WITH before AS (
        SELECT event_id, backed_up_at, staged_at FROM audit.canaries
        WHERE modelled_at IS NULL AND received_at > $1 FOR UPDATE
    )
    UPDATE audit.canaries c SET {SETS} FROM before b WHERE c.event_id = b.event_id
    RETURNING c.event_id::text, c.received_at, c.backed_up_at, c.staged_at, c.modelled_at,
              b.backed_up_at IS NULL AS backed_up_new, b.staged_at IS NULL AS staged_new
"""
MISSED_SENDS = 3  # canaries in a row not sent before it is a finding


async def send_canary(resources: Resources) -> str:
    """Through ingest's own validation and publishing (with its receipt), as a client's event."""
    user = resources.rules.synthetic_users[0]
    limits = dataclasses.replace(resources.event_limits, reserved_users=frozenset())
    event = {
        "event_type": "click",
        "user_id": user,
        "occurred_at": datetime.now(UTC).isoformat(),
        "context": {"page": f"/{user}"},
        "payload": {"element": user},
    }
    [accepted] = validate_all([event], limits, user).accepted
    await publish_accepted(resources.publisher, [accepted])
    received_at = datetime.fromisoformat(accepted.event["received_at"])
    acknowledged_after = datetime.now(UTC) - received_at
    AUDIT_CANARY_LATENCY.labels("acknowledged").observe(acknowledged_after.total_seconds())
    async with resources.postgres.connection() as connection:
        await connection.execute(
            "INSERT INTO audit.canaries (event_id, received_at, acknowledged_at) "
            "VALUES ($1::uuid, $2, now())",
            accepted.event_id,
            received_at,
        )
    return accepted.event_id


async def follow_canaries(
    connection: asyncpg.Connection, deadline_seconds: int, interval_seconds: int, now: datetime
) -> list[Finding]:
    """Note where the pending canaries have got (latencies observed once per stage), and
    record the findings: late canaries, and canaries that were not sent."""
    findings = []
    async with connection.transaction():
        rows = await connection.fetch(FOLLOW, now - timedelta(days=1))
    for row in rows:
        received = row["received_at"]
        for stage in ("backed_up", "staged"):
            if row[f"{stage}_new"] and row[f"{stage}_at"] is not None:
                observe(stage, row[f"{stage}_at"] - received)
        if row["modelled_at"] is not None:
            observe("modelled", row["modelled_at"] - received)
        elif now - received > timedelta(seconds=deadline_seconds):
            findings.append(late(row, now))
    newest_modelled, newest = await connection.fetchrow(
        "SELECT max(received_at) FILTER (WHERE modelled_at IS NOT NULL), max(received_at) "
        "FROM audit.canaries"
    )
    if newest_modelled is not None:
        AUDIT_CANARY_MODELLED.set(newest_modelled.timestamp())
    if newest is not None and now - newest > timedelta(seconds=MISSED_SENDS * interval_seconds):
        window = newest.replace(second=0, microsecond=0)
        detail = f"no canary sent since {newest:%Y-%m-%d %H:%M:%S} UTC: is the scheduler running?"
        findings.append(Finding(STAGE, window, "stalled", 0, (), detail))
    open_windows = [
        row[0]
        for row in await connection.fetch(
            "SELECT window_start FROM audit.findings WHERE stage = $1 AND closed_at IS NULL", STAGE
        )
    ]
    await record_findings(
        connection, [STAGE], {*open_windows, *(f.window_start for f in findings)}, findings
    )
    return findings


def observe(stage: str, latency: timedelta) -> None:
    AUDIT_CANARY_LATENCY.labels(stage).observe(max(0.0, latency.total_seconds()))


def late(row: asyncpg.Record, now: datetime) -> Finding:
    reached = next(
        (stage for stage in ("staged", "backed_up") if row[f"{stage}_at"] is not None),
        "acknowledged",
    )
    waited = int((now - row["received_at"]).total_seconds())
    detail = f"the canary reached {reached} but not the model in {waited} s"
    window = row["received_at"].replace(second=0, microsecond=0)
    return Finding(STAGE, window, "stalled", 1, (row["event_id"],), detail)
