from datetime import UTC, date, datetime
from itertools import pairwise

import httpx
import pytest

from app.catalogue.tmdb_client import RetryPolicy, auth_for, changes_windows, retry_after
from app.scheduler import cron_trigger, latest_slot


def test_v3_api_keys_go_in_the_query_and_tokens_in_the_header():
    assert auth_for("0123456789abcdef0123456789abcdef") == (
        {},
        {"api_key": "0123456789abcdef0123456789abcdef"},
    )
    assert auth_for("eyJhbGciOiJIUzI1NiJ9.e30.sig") == (
        {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"},
        {},
    )


def test_changes_windows_never_span_more_than_14_days():
    windows = changes_windows(date(2026, 1, 1), date(2026, 2, 10))
    assert windows[0] == (date(2026, 1, 1), date(2026, 1, 14))
    assert windows[-1][1] == date(2026, 2, 10)
    assert all((end - start).days <= 13 for start, end in windows)
    assert all(b[0] == date.fromordinal(a[1].toordinal() + 1) for a, b in pairwise(windows))
    assert changes_windows(date(2026, 1, 1), date(2026, 1, 1)) == [
        (date(2026, 1, 1), date(2026, 1, 1))
    ]


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("0.5", 0.5), ("soon", None)])
def test_retry_after_reads_seconds(header, expected):
    response = httpx.Response(429, headers={"Retry-After": header})
    assert retry_after(response) == expected
    assert retry_after(httpx.Response(429)) is None


def test_backoff_grows_but_stays_under_the_cap():
    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=8)
    assert all(0 <= policy.backoff(n) <= min(8, 2**n) for n in range(10) for _ in range(20))


@pytest.mark.parametrize(
    ("cron", "now", "slot"),
    [
        ("17 * * * *", datetime(2026, 11, 26, 5, 16, tzinfo=UTC), datetime(2026, 11, 26, 4, 17)),
        (
            "17 * * * *",
            datetime(2026, 11, 26, 5, 17, 0, 3, tzinfo=UTC),
            datetime(2026, 11, 26, 5, 17),
        ),
        ("0 3 * * *", datetime(2026, 11, 26, 2, 0, tzinfo=UTC), datetime(2026, 11, 25, 3, 0)),
        (
            "*/5 * * * * *",
            datetime(2026, 11, 26, 5, 0, 7, tzinfo=UTC),
            datetime(2026, 11, 26, 5, 0, 5),
        ),
    ],
)
def test_latest_slot_is_the_last_fire_time_not_after_now(cron, now, slot):
    assert latest_slot(cron_trigger(cron), now) == slot.replace(tzinfo=UTC)
