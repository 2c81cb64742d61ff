"""The Spark stream is restarted with backoff after a failure, and left alone once it ends; a
drain gives up after its limit of failures in a row."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.model.spark_stream import StreamGaveUp, stream_config, supervise
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


def test_a_drain_that_keeps_failing_gives_up_with_the_last_error():
    runs, sleeps = [], []

    def run(config, rules):
        runs.append(config)
        raise RuntimeError(f"attempt {len(runs)} failed")

    with pytest.raises(StreamGaveUp) as gave_up:
        supervise(run, CONFIG, RULES, give_up_after=3, sleep=sleeps.append)
    assert len(runs) == 3 and sleeps == [1.0, 2.0]
    assert str(gave_up.value.__cause__) == "attempt 3 failed"


def test_failures_short_of_the_limit_are_retried():
    runs = []

    def run(config, rules):
        runs.append(config)
        if len(runs) < 3:
            raise RuntimeError("a batch failed")

    supervise(run, CONFIG, RULES, give_up_after=3, sleep=lambda _: None)
    assert len(runs) == 3


def test_a_stream_that_ends_on_its_own_is_not_restarted():
    runs = []
    supervise(lambda config, rules: runs.append(1), CONFIG, RULES, sleep=lambda _: None)
    assert runs == [1]
