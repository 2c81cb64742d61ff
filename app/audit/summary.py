"""The audit at a glance, for `/status`, the page, the metrics and the command: completeness of
the last hour and day, the open findings, the canary's latest latencies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from app.audit.accounts import completeness
from app.metrics import AUDIT_COMPLETENESS, AUDIT_OPEN_FINDINGS

PERIODS = {"hour": "1 hour", "day": "1 day"}
OPEN_FINDINGS = """
    SELECT finding_id, stage, window_start, kind, events, sample_ids, detail, opened_at
    FROM audit.findings WHERE closed_at IS NULL AND window_start >= $2 AND window_start < $3
    ORDER BY window_start, stage, kind LIMIT $1
"""
EVER = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
LATEST_CANARY = """
    SELECT event_id::text, received_at,
           extract(epoch FROM backed_up_at - received_at) AS backed_up,
           extract(epoch FROM staged_at - received_at) AS staged,
           extract(epoch FROM modelled_at - received_at) AS modelled
    FROM audit.canaries ORDER BY received_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class Period:
    acknowledged: int
    accounted: int

    @property
    def completeness(self) -> float:
        return completeness(self.acknowledged, self.accounted)


@dataclass(frozen=True)
class AuditSummary:
    periods: dict[str, Period]
    open_findings: list[dict]
    open_count: int
    canary: dict | None  # the newest canary: id, received_at, seconds to each stage
    last_checked: datetime | None


async def audit_summary(connection: asyncpg.Connection, limit: int = 20) -> AuditSummary:
    periods = {}
    for name, span in PERIODS.items():
        row = await connection.fetchrow(
            "SELECT coalesce(sum(acknowledged), 0)::bigint AS a, "
            "coalesce(sum(accounted), 0)::bigint AS b FROM audit.windows "
            f"WHERE window_start >= now() - interval '{span}'"
        )
        periods[name] = Period(row["a"], row["b"])
    findings = await open_findings(connection, *EVER, limit=limit)
    open_count = await connection.fetchval(
        "SELECT count(*) FROM audit.findings WHERE closed_at IS NULL"
    )
    canary = await connection.fetchrow(LATEST_CANARY)
    last_checked = await connection.fetchval("SELECT max(checked_at) FROM audit.windows")
    return AuditSummary(
        periods, findings, open_count, dict(canary) if canary else None, last_checked
    )


async def open_findings(
    connection: asyncpg.Connection, since: datetime, until: datetime, limit: int
) -> list[dict]:
    """The oldest open findings about the minutes in [since, until)."""
    return [dict(row) for row in await connection.fetch(OPEN_FINDINGS, limit, since, until)]


async def publish_audit_metrics(connection: asyncpg.Connection, summary: AuditSummary) -> None:
    for name, period in summary.periods.items():
        AUDIT_COMPLETENESS.labels(name).set(period.completeness)
    # A kind whose findings closed (within a day) goes back to 0 rather than vanishing: its
    # alert resolves.
    rows = await connection.fetch(
        "SELECT stage, kind, count(*) FILTER (WHERE closed_at IS NULL) AS open "
        "FROM audit.findings WHERE closed_at IS NULL OR closed_at > now() - interval '1 day' "
        "GROUP BY stage, kind"
    )
    for row in rows:
        AUDIT_OPEN_FINDINGS.labels(row["stage"], row["kind"]).set(row["open"])
