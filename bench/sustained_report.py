"""The tables `bench.sustained` prints: each rate's answers and lags, each process's CPU per
1,000 events, and the conclusion."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from bench.cpu import CpuReading
from bench.lags import STAGES
from bench.paced_load import PacedLoad
from bench.sustained_verdict import WARMUP_SHARE, Trend, Verdict


@dataclass(frozen=True)
class Row:
    rate: float
    load: PacedLoad
    verdict: Verdict
    cpu: CpuReading  # over the hold after warm-up


def lag_cell(trend: Trend) -> str:
    return f"{trend.start} → {trend.end} ({trend.slope:+.1f}/s)"


def print_table(args: argparse.Namespace, rows: list[Row]) -> None:
    print(
        f"\nSustained load: python -m app (consumers {args.consumers}) and python -m app.jobs "
        "spark, "
        f"{args.hold_seconds:g} s a rate, batches of {args.batch}, lag sampled every "
        f"{args.sample_seconds:g} s; lag in messages, end of warm-up "
        f"({WARMUP_SHARE * args.hold_seconds:g} s) → end of hold (least-squares slope)\n"
    )
    stages = " | ".join(STAGES)
    print(f"| events/s | events sent | 202 share | late | POST p99 ms | {stages} | held | limit |")
    print(f"|---:|---:|---:|---:|---:|{'---|' * len(STAGES)}---|---|")
    for row in rows:
        load, cells = row.load, " | ".join(map(lag_cell, row.verdict.trends))
        share = load.accepted / max(load.requests + load.late + load.errors, 1)
        print(
            f"| {row.rate:>8.0f} | {load.requests * args.batch:>11} | {share:>9.1%} "
            f"| {load.late:>4} | {load.p99_ms:>11.0f} | {cells} "
            f"| {'yes' if row.verdict.held else 'no'} | {row.verdict.limit or '-'} |"
        )


def cpu_cell(seconds: float, rate: float, window: float) -> str:
    """CPU ms per 1,000 events, and the share of one core it kept busy."""
    return f"{1e6 * seconds / (rate * window):.0f} ({seconds / window:.0%})"


def print_cpu_table(args: argparse.Namespace, rows: list[Row]) -> None:
    window = (1 - WARMUP_SHARE) * args.hold_seconds
    names = list(rows[0].cpu.seconds)
    print(
        f"\nCPU ms per 1,000 events offered (share of one core) over each hold after warm-up "
        f"({window:g} s); the machine's busy share is of all its {os.cpu_count()} CPUs\n"
    )
    print(f"| events/s | {' | '.join(names)} | machine busy |")
    print(f"|---:|{'---:|' * len(names)}---:|")
    for row in rows:
        cells = " | ".join(cpu_cell(row.cpu.seconds[name], row.rate, window) for name in names)
        print(f"| {row.rate:>8.0f} | {cells} | {row.cpu.busy_share:.0%} |")


def conclusion(rows: list[Row]) -> str:
    held = [row.rate for row in rows if row.verdict.held]
    best = max(held, default=0.0)
    above = [row for row in rows if not row.verdict.held and row.rate > best]
    if not above:
        return f"highest rate held: {best:.0f} events/s; every rate tried held"
    failed = min(above, key=lambda row: row.rate)
    limited = (
        f"the next one tried, {failed.rate:.0f} events/s, was limited by {failed.verdict.limit}"
    )
    if not held:
        return f"no rate held; {limited}"
    return f"highest rate held: {best:.0f} events/s; {limited}"
