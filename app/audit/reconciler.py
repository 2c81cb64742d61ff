"""One pass of the reconciler: the windows due, their stages compared, findings kept.

Due are the minutes closed for the grace period and not yet checked, every minute of the last
`recheck` ones (late writes), those with an open finding, and those whose stores' counts moved
since the last pass (a late write, or a row deleted by hand).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby

import asyncpg

from app.audit import ledger_reads as reads
from app.audit.accounts import (
    Finding,
    Suspect,
    completeness,
    kind_of,
    suspects,
    unacknowledged,
)
from app.audit.findings import open_finding_windows, record_findings
from app.config import Settings
from app.db.postgres import PostgresPool
from app.topics import KEPT_RAW_TYPE

MINUTE = timedelta(minutes=1)
# The stages the window checks speak for (the canary and the backup count keep their own).
STAGES = ("acknowledged", "backed_up", "staged", "modelled")
DETAILS = {
    ("backed_up", "missing"): "acknowledged, but neither in the MongoDB backup nor dead-lettered",
    ("staged", "missing"): "acknowledged, but neither staged nor dead-lettered by staging",
    ("modelled", "missing"): "staged, but neither a fact nor in the fallback",
    ("modelled", "extra"): "facts without their staged event",
}


@dataclass(frozen=True)
class WindowCheck:
    window_start: datetime
    counts: dict[str, int]
    findings: list[Finding] = field(default_factory=list)
    # acknowledged events in the model or awaiting promotion (kept raw: in the backup)
    accounted: int = 0

    @property
    def acknowledged(self) -> int:
        return self.counts.get("acknowledged", 0)

    @property
    def completeness(self) -> float:
        return completeness(self.acknowledged, self.accounted)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minutes(first: datetime, until: datetime) -> list[datetime]:
    count = max(0, int((until - first) / MINUTE))
    return [first + i * MINUTE for i in range(count)]


async def due_windows(
    connection: asyncpg.Connection, settings: Settings, closed_until: datetime
) -> list[datetime]:
    last_checked, last_pass = await connection.fetchrow(
        "SELECT max(window_start), max(checked_at) FROM audit.windows"
    )
    lookback = closed_until - settings.audit_lookback_minutes * MINUTE
    first_new = last_checked + MINUTE if last_checked else lookback
    recent = closed_until - settings.audit_recheck_minutes * MINUTE
    due = set(minutes(max(min(first_new, recent), lookback), closed_until))
    due.update(await open_finding_windows(connection, STAGES))
    if last_pass is not None:  # a transaction's now() is its start: look back a little more
        due.update(await reads.changed_windows(connection, last_pass - MINUTE))
    return sorted(window for window in due if window < closed_until)


def runs(windows: list[datetime]) -> Iterable[list[datetime]]:
    """Consecutive minutes together, so each run is read with one range per table."""
    for _, run in groupby(enumerate(windows), key=lambda pair: pair[1] - pair[0] * MINUTE):
        yield [window for _, window in run]


def totals(by_type: reads.TypeCounts) -> dict[str, int]:
    summed: dict[str, int] = {}
    for counts in by_type.values():
        for stage, events in counts.items():
            summed[stage] = summed.get(stage, 0) + events
    return summed


def window_suspects(by_type: reads.TypeCounts) -> list[Suspect]:
    """Type by type, so that a loss of one type and a surplus of another do not cancel out;
    one suspect per stage and kind (the anti-join covers every type)."""
    found: dict[tuple[str, str], Suspect] = {}
    for event_type, counts in by_type.items():
        for suspect in suspects(counts, backup_only=event_type == KEPT_RAW_TYPE):
            found.setdefault((suspect.stage, suspect.kind), suspect)
    return list(found.values())


async def check_window(
    connection: asyncpg.Connection,
    window: datetime,
    by_type: reads.TypeCounts,
    reached: dict[str, datetime | None],
    sample: int,
) -> WindowCheck:
    end, found, counts = window + MINUTE, [], totals(by_type)
    for suspect in window_suspects(by_type):
        lacking = await reads.unaccounted(connection, suspect.stage, suspect.kind, window, end)
        if not lacking:
            continue
        ids, kind, newest = [event_id for event_id, _ in lacking], suspect.kind, lacking[-1][1]
        if kind == "extra" and kind_of(reached["staged"], newest) == "stalled":
            continue  # facts ahead of a staging that lags: staging's own finding says so
        if kind == "missing":
            kind = kind_of(reached[suspect.stage], newest)
        detail = DETAILS[(suspect.stage, suspect.kind)]
        found.append(Finding(suspect.stage, window, kind, len(ids), tuple(ids[:sample]), detail))
    excess = sum(unacknowledged(type_counts) for type_counts in by_type.values())
    if (
        excess
        and (unreceipted := await reads.newest_unreceipted(connection, window, end))
        and (kind_of(reached["acknowledged"], unreceipted) == "stalled")
    ):
        detail = "stored, but ingest's receipts for them are not read yet"
        found.append(Finding("acknowledged", window, "stalled", excess, (), detail))
    for stage in reads.DUPLICATES:
        if ids := await reads.duplicated_ids(connection, stage, window, end):
            detail = "the same event id held more than once"
            found.append(Finding(stage, window, "duplicate", len(ids), tuple(ids[:sample]), detail))
    accounted = counts.get("acknowledged", 0)
    if found:
        accounted -= await connection.fetchval(
            "SELECT count(*) FROM audit.acknowledged a "
            f"WHERE {reads.IN_WINDOW.format('a')} AND {reads.UNACCOUNTED_FOR}",
            window,
            end,
        )
    return WindowCheck(window, counts, found, accounted)


async def reconcile(
    postgres: PostgresPool,
    settings: Settings,
    *,
    now: datetime | None = None,
    windows: list[datetime] | None = None,
) -> list[WindowCheck]:
    """Check the windows due (or those given), keep the findings, and return what was seen."""
    now = now or datetime.now(UTC)
    closed_until = floor_minute(now - timedelta(seconds=settings.audit_grace_seconds))
    async with postgres.connection() as connection:
        if windows is None:
            windows = await due_windows(connection, settings, closed_until)
        if retained := await reads.retained_since(connection):
            windows = [window for window in windows if window >= retained]
        if not windows:
            return []
        reached = await reads.stages_reached(connection)
        checks = []
        for run in runs(windows):
            counts = await reads.window_counts(connection, run[0], run[-1] + MINUTE)
            for window in run:
                window_counts, sample = counts.get(window, {}), settings.audit_sample_ids
                checks.append(
                    await check_window(connection, window, window_counts, reached, sample)
                )
        findings = [finding for check in checks for finding in check.findings]
        await record_findings(connection, STAGES, windows, findings)
        await connection.executemany(
            "INSERT INTO audit.windows (window_start, acknowledged, accounted, open_findings) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (window_start) DO UPDATE SET "
            "checked_at = now(), acknowledged = EXCLUDED.acknowledged, "
            "accounted = EXCLUDED.accounted, open_findings = EXCLUDED.open_findings",
            [(c.window_start, c.acknowledged, c.accounted, len(c.findings)) for c in checks],
        )
    return checks
