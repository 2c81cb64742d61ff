"""`python -m app.jobs audit [--since T] [--until T]`: check the minutes of receive time in the
range (by default the last hour's, closed for the grace period) now, print each
stage's count per minute and the open findings about them with sample event ids. Exits 1
while one of those is open."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from app.audit.reconciler import MINUTE, WindowCheck, floor_minute, minutes, reconcile
from app.audit.summary import audit_summary, open_findings
from app.bootstrap import Resources
from app.jobs.times import iso_time

COLUMNS = (
    ("acknowledged", "acknowledged"),
    ("backed_up", "backed up"),
    ("dead_letter:mongo-backup", "dl backup"),
    ("staged", "staged"),
    ("dead_letter:postgres-staging", "dl staging"),
    ("modelled", "modelled"),
    ("refused", "refused"),
    ("fallback", "fallback"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=iso_time, help="from this received_at (ISO 8601)")
    parser.add_argument("--until", type=iso_time, help="up to this received_at, excluded")


async def run(args: argparse.Namespace, resources: Resources) -> int:
    settings, now = resources.settings, datetime.now(UTC)
    closed = floor_minute(now - timedelta(seconds=settings.audit_grace_seconds))
    # Asked for by name, a minute not yet closed is checked too: its stages may still be busy.
    until = floor_minute(args.until - timedelta(microseconds=1)) + MINUTE if args.until else closed
    since = floor_minute(args.since) if args.since else until - 60 * MINUTE
    checks = await reconcile(resources.postgres, settings, now=now, windows=minutes(since, until))
    print(window_table(checks))
    async with resources.postgres.connection() as connection:
        summary = await audit_summary(connection)
        about_range = await open_findings(connection, since, until, limit=100)
    for name, period in summary.periods.items():
        print(f"completeness, last {name}: {period.completeness:.4%} "
              f"({period.accounted} of {period.acknowledged} acknowledged events)")  # fmt: skip
    print(f"open findings about these minutes: {len(about_range)} "
          f"({summary.open_count} in all)")  # fmt: skip
    for finding in about_range:
        print(
            f"  #{finding['finding_id']} {finding['window_start']:%Y-%m-%d %H:%M} "
            f"{finding['stage']} {finding['kind']}: {finding['events']} events; "
            f"{finding['detail']}"
        )
        if finding["sample_ids"]:
            print(f"    e.g. {', '.join(finding['sample_ids'])}")
    return 1 if about_range else 0


def window_table(checks: list[WindowCheck]) -> str:
    header = ["minute (UTC)", *(title for _, title in COLUMNS), "complete", "findings"]
    rows = [
        [
            f"{check.window_start:%Y-%m-%d %H:%M}",
            *(str(check.counts.get(stage, 0)) for stage, _ in COLUMNS),
            f"{check.completeness:.2%}",
            "; ".join(f"{f.stage} {f.kind} {f.events}" for f in check.findings) or "-",
        ]
        for check in checks
        if check.counts or check.findings
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in (header, *rows)]  # fmt: skip
    return "\n".join(lines) if rows else "no events in the range"
