"""The public API's parameter checks, with no database."""

from __future__ import annotations

from datetime import date

import pytest

from app.serving.params import (
    BadParameter,
    DayRange,
    GenreFilter,
    check_known,
    check_single,
    day_range,
    genre_filter,
    user_id,
)

TODAY = date(2026, 12, 1)


def test_the_default_range_is_the_last_days_up_to_today():
    assert day_range(None, None, TODAY, 7, 366) == DayRange(date(2026, 11, 25), TODAY)


def test_a_lone_until_takes_the_default_span_back_from_it():
    assert day_range(None, "2026-06-10", TODAY, 7, 366) == DayRange(
        date(2026, 6, 4), date(2026, 6, 10)
    )


def test_one_day_is_a_range():
    chosen = day_range("2026-06-10", "2026-06-10", TODAY, 7, 366)
    assert chosen.days == 1


@pytest.mark.parametrize(
    ("since", "until", "parameter"),
    [
        ("2026-02-30", None, "since"),
        (None, "20261201", "until"),
        ("2026-12-01T00:00", None, "since"),
        ("2026-12-02", "2026-12-01", "since"),
        ("2024-01-01", "2026-01-01", "until"),
    ],
)
def test_bad_ranges_name_their_parameter(since, until, parameter):
    with pytest.raises(BadParameter) as refused:
        day_range(since, until, TODAY, 7, 366)
    assert refused.value.parameter == parameter


def test_unknown_and_repeated_parameters_are_refused():
    with pytest.raises(BadParameter, match="unknown parameter"):
        check_known(["since", "sinse"], ["since", "until"])
    with pytest.raises(BadParameter, match="more than once"):
        check_single([("limit", "1"), ("limit", "2")])
    check_known(["since"], ["since", "until"])
    check_single([("since", "x"), ("until", "y")])


def test_a_genre_is_an_id_or_a_name():
    assert genre_filter("18") == GenreFilter(genre_id=18)
    assert genre_filter(" Drama ") == GenreFilter(name="Drama")
    assert genre_filter(None) is None
    for bad in ("", "x" * 65, "Dra\x00ma", "1" * 12):
        with pytest.raises(BadParameter):
            genre_filter(bad)


def test_a_user_id_is_printable_and_bounded():
    assert user_id("user-42") == "user-42"
    for bad in ("", "u" * 129, "a\x00b", "line\nbreak"):
        with pytest.raises(BadParameter):
            user_id(bad)
