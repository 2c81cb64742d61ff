"""The fallback's range policy, with no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.model.fallback import FallbackPolicy, ReceiveRange, fallback_range

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = FallbackPolicy(settle=timedelta(seconds=5), max_lookback=timedelta(hours=24))


def test_an_automatic_run_starts_where_the_model_stopped_and_ends_a_settle_time_ago():
    covered = NOW - timedelta(minutes=10)
    assert fallback_range(NOW, covered, POLICY) == ReceiveRange(covered, NOW - timedelta(seconds=5))


def test_the_lookback_bounds_a_run_after_a_long_outage():
    chosen = fallback_range(NOW, NOW - timedelta(days=30), POLICY)
    assert chosen is not None
    assert chosen.since == NOW - timedelta(hours=24)


def test_nothing_staged_means_nothing_to_do():
    assert fallback_range(NOW, None, POLICY) is None


def test_a_model_that_is_up_to_date_means_nothing_to_do():
    assert fallback_range(NOW, NOW - timedelta(seconds=2), POLICY) is None


def test_an_operators_bounds_win_over_the_policy():
    since, until = NOW - timedelta(days=3), NOW - timedelta(days=2)
    assert fallback_range(NOW, NOW - timedelta(minutes=1), POLICY, since, until) == ReceiveRange(
        since, until
    )


def test_an_operators_since_works_with_nothing_covered_yet():
    since = NOW - timedelta(hours=1)
    chosen = fallback_range(NOW, None, POLICY, since=since)
    assert chosen == ReceiveRange(since, NOW - timedelta(seconds=5))


def test_an_empty_operator_range_is_nothing_to_do():
    assert fallback_range(NOW, None, POLICY, since=NOW, until=NOW - timedelta(hours=1)) is None
