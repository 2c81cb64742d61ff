"""The stream's line per micro-batch reads back in bench.model as the seconds of each step,
whether the log is JSON or plain text; and the bench's rates without start-up."""

from __future__ import annotations

import json

from bench.model import JobMeasurement, rate_without_startup, spark_phases
from bench.processes import JobRun
from jobs.spark.stream import Phases


def test_a_batch_summary_reads_back_step_by_step(monkeypatch):
    clock = iter([10.0, 15.25, 19.0, 25.125])
    monkeypatch.setattr("jobs.spark.stream.time.perf_counter", lambda: next(clock))
    phases = Phases()
    for step in ("read and built", "facts out", "facts merged"):
        phases.ended(step)
    line = phases.summary(3, 250_000)
    steps = [("read and built", 5.25), ("facts out", 3.75), ("facts merged", 6.12)]
    log = f"noise\n{json.dumps({'level': 'info', 'message': line})}\nmore noise\n{line}\n"
    assert spark_phases(log) == [(3, 250_000, steps), (3, 250_000, steps)]


def job(events: int, seconds: float) -> JobMeasurement:
    return JobMeasurement("a job", events, JobRun(seconds, 100.0, "", ""))


def test_a_rate_without_start_up_needs_working_time():
    assert rate_without_startup(job(200_000, 25.0), job(0, 5.0)) == 10_000
    # An empty run as slow as the real one leaves no time to divide: no rate, not 2e14/s.
    assert rate_without_startup(job(200_000, 19.5), job(0, 26.8)) is None
