"""Which minutes a scheduled pass of the reconciler looks at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.audit.reconciler import MINUTE, due_windows, floor_minute
from app.config import Settings


async def test_a_pass_checks_new_minutes_recent_ones_and_older_ones_whose_counts_moved(pg):
    settings = Settings(audit_recheck_minutes=2, audit_lookback_minutes=60)
    closed_until = floor_minute(datetime.now(UTC)) - 2 * MINUTE
    checked = closed_until - 5 * MINUTE  # the last minute a pass checked
    moved = closed_until - 30 * MINUTE  # an older one whose count fell since
    untouched = closed_until - 40 * MINUTE
    transaction = pg.transaction()  # rolled back: the audit's tables are the stack's own
    await transaction.start()
    try:
        await pg.execute("DELETE FROM audit.windows")
        await pg.execute(
            "DELETE FROM audit.ledger WHERE window_start > $1::timestamptz - interval '8 days'",
            closed_until,
        )
        await pg.execute("DELETE FROM audit.findings WHERE closed_at IS NULL")
        await pg.executemany(
            "INSERT INTO audit.windows (window_start, checked_at, acknowledged, accounted, "
            "open_findings) VALUES ($1, $2, 0, 0, 0)",
            [(w, datetime.now(UTC) - timedelta(minutes=1)) for w in (checked, moved, untouched)],
        )
        await pg.executemany(
            "INSERT INTO audit.ledger (stage, window_start, event_type, events, updated_at) "
            "VALUES ('staged', $1, 'click', 5, $2) ON CONFLICT (stage, window_start, event_type) "
            "DO UPDATE SET updated_at = EXCLUDED.updated_at",
            [(moved, datetime.now(UTC)), (untouched, datetime.now(UTC) - timedelta(hours=1))],
        )
        due = await due_windows(pg, settings, closed_until)
    finally:
        await transaction.rollback()

    new = [checked + MINUTE * n for n in range(1, 5)]
    assert due == [moved, *new], "the moved minute, then those after the last checked one"
