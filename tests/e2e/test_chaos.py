"""A short chaos run: every part of the pipeline is killed or paused once under steady traffic,
and afterwards every acknowledged event is exactly once in every store."""

from __future__ import annotations

from collections import Counter

from bench.chaos.run import TARGETS, ChaosPlan, run_chaos
from bench.chaos.table import report_tables


async def test_every_acknowledged_event_survives_a_fault_in_each_part(settings, tmp_path):
    # The seed's order kills Spark first, so its restart overlaps the other faults instead of
    # lengthening the settle, and pauses two targets.
    plan = ChaosPlan(
        minutes=5, seed=20261207, work_dir=tmp_path, rate=60,
        calm_seconds=(2, 4), hold_seconds=(2, 5), settle_seconds=180,
        max_faults=len(TARGETS),  # one round: each target once, in a random order
    )  # fmt: skip
    report = await run_chaos(settings, plan, say=lambda line: None)
    tables = report_tables(report)
    assert Counter(fault.target for fault in report.faults) == Counter(TARGETS), tables
    assert report.answers.acknowledged, tables
    assert report.poison_sent > 0, tables
    assert report.clean, tables
