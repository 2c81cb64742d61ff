"""Whether a hold of `bench.sustained` kept up with its rate, which stage limited it, and the
rate tried next: pure functions of the lag samples and the rates tried."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SERVICE = "service"  # the limit when any answer was not a 202
WARMUP_SHARE = 0.2  # of each hold, left out of the decision: batches and polls settle first
# Lag may move by a micro-batch or a consumer's batch between samples without growing.
MIN_GROWTH = 1000


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the hold began
    lags: Mapping[str, int]  # messages behind, per stage


@dataclass(frozen=True)
class Trend:
    stage: str
    start: int  # lag at the first sample after warm-up
    end: int  # lag at the last sample
    slope: float  # messages/s, least squares over the samples after warm-up
    growth: float  # messages: the larger of slope * window and last third's mean - first's
    growing: bool


@dataclass(frozen=True)
class Verdict:
    trends: tuple[Trend, ...]
    limit: str | None  # the stage that did not hold the rate; None if every one did

    @property
    def held(self) -> bool:
        return self.limit is None


def thirds_rise(lags: Sequence[float]) -> float:
    """How far the mean of the last third of a series is above the mean of its first third."""
    third = max(1, len(lags) // 3)
    return statistics.fmean(lags[-third:]) - statistics.fmean(lags[:third])


def trend(stage: str, window: Sequence[Sample], allowance: float) -> Trend:
    seconds = [sample.seconds for sample in window]
    lags = [float(sample.lags[stage]) for sample in window]
    slope = statistics.linear_regression(seconds, lags).slope
    growth = max(slope * (seconds[-1] - seconds[0]), thirds_rise(lags))
    return Trend(stage, round(lags[0]), round(lags[-1]), slope, growth, growth > allowance)


def decide(
    samples: Sequence[Sample], rate: float, sample_seconds: float, warmup_seconds: float,
    failed_requests: int,
) -> Verdict:  # fmt: skip
    """Whether a hold kept up with `rate` (events/s), and if not, which stage limited it.

    Only samples from `warmup_seconds` on count, at least three of them. A stage's lag grows
    when, over that window, its least-squares slope times the window's length, or the rise of
    the last third's mean over the first third's, exceeds max(2 * rate * sample_seconds,
    MIN_GROWTH) messages: what one sampling interval's traffic twice over could account for is
    noise, since consumers commit a batch at a time and Spark a micro-batch at a time. A lag
    that stays high but flat is bounded.

    Any non-202 answer (`failed_requests`) makes the service the limit. Otherwise the limit
    is the stage growing fastest: every stage reads the same events, so the one whose lag grew
    most also falls behind the rate by the largest share.
    """
    window = [sample for sample in samples if sample.seconds >= warmup_seconds]
    if len(window) < 3:
        raise ValueError(f"{len(window)} samples after warm-up; the decision needs three")
    allowance = max(2 * rate * sample_seconds, MIN_GROWTH)
    trends = tuple(trend(stage, window, allowance) for stage in window[0].lags)
    growing = [t for t in trends if t.growing]
    if failed_requests:
        return Verdict(trends, SERVICE)
    if growing:
        return Verdict(trends, max(growing, key=lambda t: t.growth).stage)
    return Verdict(trends, None)


def next_rate(tried: Sequence[tuple[float, bool]], factor: float, refinements: int) -> float | None:
    """The rate to try after `tried` ((rate, held) in order), or None when the search is done.

    Up by `factor` while every rate held (down by it while none did); once both a held and a
    failed rate are known, the midpoint of the highest held and the lowest failed, for
    `refinements` rates beyond the first one that told them apart.
    """
    held = [rate for rate, ok in tried if ok]
    failed = [rate for rate, ok in tried if not ok]
    last = tried[-1][0]
    if not failed:
        return last * factor
    if not held:
        return last / factor
    # The first n rates tried that included both a held and a failed one.
    bracketed = next(n for n in range(2, len(tried) + 1) if len({ok for _, ok in tried[:n]}) == 2)
    if len(tried) - bracketed >= refinements:
        return None
    return (max(held) + min(failed)) / 2
