"""The sustained bench's pure parts: whether a hold kept up, which stage limited it, and the
rate tried next."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from bench import lags
from bench.sustained_verdict import SERVICE, Sample, Verdict, decide, next_rate

RATE, EVERY, HOLD, WARMUP = 500.0, 10.0, 300.0, 60.0
STAGES = ("mongo-backup", "postgres-staging", "spark")
Lag = Callable[[float], float]  # a stage's lag at a time of the hold


def series(mongo: Lag, staging: Lag, spark: Lag) -> list[Sample]:
    """A sample every EVERY seconds over the hold, each stage's lag a function of the time."""
    lags = dict(zip(STAGES, (mongo, staging, spark), strict=True))
    times = [n * EVERY for n in range(int(HOLD / EVERY) + 1)]
    return [
        Sample(t, {stage: round(max(0.0, lag(t))) for stage, lag in lags.items()}) for t in times
    ]


def noisy(level: float, amplitude: float, seed: int) -> Lag:
    """A flat lag that jumps by up to `amplitude`, as batches and micro-batches make it."""
    rng = random.Random(seed)
    return lambda _t: level + rng.uniform(0, amplitude)


def growing(per_second: float) -> Lag:
    return lambda t: per_second * t


def quiet(seed: int) -> Lag:
    return noisy(0, 500, seed)  # a consumer's batch, committed once written


def judge(samples: list[Sample], failed_requests: int = 0) -> Verdict:
    return decide(samples, RATE, EVERY, WARMUP, failed_requests)


def test_flat_noisy_lags_hold():
    # Spark's lag saws up by a few triggers' worth of events; the consumers' by a batch.
    verdict = judge(series(quiet(1), noisy(200, 500, 2), noisy(0, 5 * RATE, 3)))
    assert verdict.held and verdict.limit is None
    assert [t.stage for t in verdict.trends] == list(STAGES)
    assert not any(t.growing for t in verdict.trends)


def test_a_high_but_flat_lag_is_bounded():
    assert judge(series(noisy(50_000, 500, 1), quiet(2), quiet(3))).held


def test_a_linearly_growing_lag_fails_and_names_its_stage():
    # postgres-staging keeps up with 80 % of the rate.
    verdict = judge(series(quiet(1), growing(0.2 * RATE), noisy(0, 5 * RATE, 3)))
    assert not verdict.held and verdict.limit == "postgres-staging"
    staging = verdict.trends[1]
    assert staging.growing and staging.slope == pytest.approx(0.2 * RATE, rel=0.01)
    assert (staging.start, staging.end) == (0.2 * RATE * WARMUP, 0.2 * RATE * HOLD)


def test_growth_after_a_flat_start_is_caught_by_the_thirds():
    def late(t: float) -> float:
        return 0.0 if t < 240 else 40 * RATE

    assert judge(series(quiet(1), quiet(2), late)).limit == "spark"


def test_what_happens_during_warm_up_is_left_out():
    def rising_in_warm_up(t: float) -> float:  # the first micro-batches, slower than the rest
        return 100 * min(t, WARMUP)

    assert judge(series(quiet(1), quiet(2), rising_in_warm_up)).held


def test_non_202_answers_make_the_service_the_limit():
    verdict = judge(series(quiet(1), quiet(2), growing(0.5 * RATE)), failed_requests=3)
    assert not verdict.held and verdict.limit == SERVICE


def test_of_several_growing_the_fastest_relative_to_the_rate_is_named():
    verdict = judge(series(growing(0.1 * RATE), quiet(2), growing(0.3 * RATE)))
    assert verdict.limit == "spark"
    assert [t.growing for t in verdict.trends] == [True, False, True]


def test_slow_growth_within_the_allowance_holds():
    # The allowance, 2 * rate * sample interval, is 10,000 messages over the 240 s window.
    assert judge(series(growing(30), quiet(2), quiet(3))).held


def test_too_few_samples_after_warm_up_are_refused():
    flat = growing(0)
    with pytest.raises(ValueError, match="three"):
        judge(series(flat, flat, flat)[:8])  # samples at 60 s and 70 s only


def test_rates_go_up_by_the_factor_while_held_then_bisect():
    assert next_rate([(500, True)], 1.5, 1) == 750
    assert next_rate([(500, True), (750, True)], 1.5, 1) == 1125
    assert next_rate([(500, True), (750, True), (1125, False)], 1.5, 1) == 937.5
    assert next_rate([(500, True), (750, True), (1125, False), (938, True)], 1.5, 1) is None
    assert next_rate([(500, True), (750, False), (625, False)], 1.5, 2) == 562.5
    assert next_rate([(500, True), (750, True), (1125, False)], 1.5, 0) is None


def test_rates_go_down_by_the_factor_until_one_holds():
    assert next_rate([(900, False)], 1.5, 1) == 600
    assert next_rate([(900, False), (600, True)], 1.5, 1) == 750
    assert next_rate([(900, False), (600, True), (750, True)], 1.5, 1) is None


def test_every_stage_the_user_events_reach_is_watched():
    """The backup reads the Segment topic too, and is watched all the same."""
    assert sorted(lags.STAGES) == sorted(STAGES)
