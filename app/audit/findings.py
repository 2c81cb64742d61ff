"""Findings kept in audit.findings: opened when first seen, kept up to date while seen again,
closed when a later pass over their window no longer sees them (the stages agree again)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from app.audit.accounts import Finding

UPSERT = """
    INSERT INTO audit.findings AS f (stage, window_start, kind, events, sample_ids, detail)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (stage, window_start, kind) WHERE closed_at IS NULL
    DO UPDATE SET events = EXCLUDED.events, sample_ids = EXCLUDED.sample_ids,
                  detail = EXCLUDED.detail, seen_at = now()
"""
# Open findings of the windows just checked that this pass did not see again.
CLOSE = """
    UPDATE audit.findings f SET closed_at = now()
    WHERE closed_at IS NULL AND stage = ANY($1::text[]) AND window_start = ANY($2::timestamptz[])
      AND NOT EXISTS (
          SELECT 1 FROM unnest($3::text[], $4::timestamptz[], $5::text[]) AS s (stage, w, kind)
          WHERE s.stage = f.stage AND s.w = f.window_start AND s.kind = f.kind)
"""


async def record_findings(
    connection: asyncpg.Connection,
    stages: Iterable[str],
    windows: Iterable[datetime],
    findings: list[Finding],
) -> None:
    """The findings of a pass over `windows` for `stages`: in one transaction, those seen are
    opened or refreshed, and the others of those windows and stages closed."""
    async with connection.transaction():
        await connection.executemany(
            UPSERT,
            [
                (f.stage, f.window_start, f.kind, f.events, list(f.sample_ids), f.detail)
                for f in findings
            ],
        )
        await connection.execute(
            CLOSE,
            list(stages),
            list(windows),
            [f.stage for f in findings],
            [f.window_start for f in findings],
            [f.kind for f in findings],
        )


async def open_finding_windows(
    connection: asyncpg.Connection, stages: Iterable[str]
) -> list[datetime]:
    rows = await connection.fetch(
        "SELECT DISTINCT window_start FROM audit.findings "
        "WHERE closed_at IS NULL AND stage = ANY($1::text[])",
        list(stages),
    )
    return [row[0] for row in rows]
