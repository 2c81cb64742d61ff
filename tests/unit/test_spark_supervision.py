"""The Spark stream is restarted with backoff after a failure, and left alone once it ends."""

from __future__ import annotations

from app.config import Settings
from app.model.spark_stream import stream_config, supervise
from jobs.rules import load_rules

CONFIG = stream_config(Settings(_env_file=None), available_now=False)
RULES = load_rules()


def test_a_failing_stream_is_restarted_with_growing_backoff():
    runs, sleeps = [], []

    def run(config, rules):
        runs.append(config)
        if len(runs) < 4:
            raise RuntimeError("a batch failed")

    supervise(run, CONFIG, RULES, max_backoff_seconds=3, sleep=sleeps.append)

    assert len(runs) == 4
    assert sleeps == [1.0, 2.0, 3.0]


def test_a_stream_that_ends_on_its_own_is_not_restarted():
    runs = []
    supervise(lambda config, rules: runs.append(1), CONFIG, RULES, sleep=lambda _: None)
    assert runs == [1]
