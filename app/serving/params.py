"""The public API's query parameters: pure checks that name the parameter they refuse."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


class BadParameter(ValueError):
    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter, self.detail = parameter, detail


@dataclass(frozen=True)
class DayRange:
    """Inclusive UTC days."""

    since: date
    until: date

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1


def check_known(given: Iterable[str], allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in given:
        if name not in known:
            raise BadParameter(name, f"unknown parameter; use {', '.join(sorted(known))}")


def check_single(items: Iterable[tuple[str, str]]) -> None:
    seen: set[str] = set()
    for name, _ in items:
        if name in seen:
            raise BadParameter(name, "given more than once")
        seen.add(name)


def parse_day(parameter: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise BadParameter(parameter, "must be an ISO date, YYYY-MM-DD") from None


def day_range(
    since: str | None, until: str | None, today: date, default_days: int, max_days: int
) -> DayRange:
    """`since` and `until` as given, or the last `default_days` days up to today."""
    last = parse_day("until", until) if until is not None else today
    first = (
        parse_day("since", since) if since is not None else last - timedelta(days=default_days - 1)
    )
    if first > last:
        raise BadParameter("since", "must not be after until")
    chosen = DayRange(first, last)
    if chosen.days > max_days:
        raise BadParameter("until", f"the range spans more than {max_days} days")
    return chosen


@dataclass(frozen=True)
class GenreFilter:
    """A TMDB genre id, or a name to look up."""

    genre_id: int | None = None
    name: str | None = None


def genre_filter(text: str | None) -> GenreFilter | None:
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise BadParameter("genre", "must be a genre name or TMDB genre id, 1 to 64 characters")
    if text.isdigit():
        if len(text) > 9:
            raise BadParameter("genre", "is not a TMDB genre id")
        return GenreFilter(genre_id=int(text))
    return GenreFilter(name=text)


def user_id(text: str) -> str:
    """As ingest accepts it: 1 to 128 characters, none of them a control character."""
    if not 1 <= len(text) <= 128 or not text.isprintable():
        raise BadParameter("user_id", "must be 1 to 128 printable characters")
    return text
