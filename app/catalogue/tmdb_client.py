"""A TMDB API v3 client on httpx: rate-limited, patient with 429s, bounded retries elsewhere."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

MAX_PAGE = 500  # TMDB answers 400 past page 500
MAX_CHANGES_WINDOW = timedelta(days=14)
API_KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
MAX_RETRY_AFTER_SECONDS = 120.0  # a Retry-After of hours would stall the sync unseen


class TmdbError(Exception):
    """TMDB refused a request for a reason retrying will not fix."""


class TmdbAuthError(TmdbError):
    """TMDB refused the credentials: the run must stop at once."""


class TmdbUnavailable(TmdbError):
    """TMDB kept failing (5xx, timeouts, rate limits) beyond the retry budget."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # for 5xx and network errors
    max_rate_limited_attempts: int = 20  # 429s are expected in bursts; wait them out
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self.max_delay_seconds, self.base_delay_seconds * 2**attempt)
        return random.uniform(0, ceiling)


class RateLimiter:
    """Spaces requests at least 1/rate seconds apart, across concurrent callers, and holds them
    all back while TMDB has asked us to wait."""

    def __init__(self, requests_per_second: float) -> None:
        self._interval = 1.0 / requests_per_second
        self._next_at = 0.0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        while True:
            async with self._lock:
                now = time.monotonic()
                start = max(now, self._next_at, self._paused_until)
                self._next_at = start + self._interval
            if start > now:
                await asyncio.sleep(start - now)
            if time.monotonic() >= self._paused_until:
                return
            # A 429 came while this caller slept: it waits out the pause with the others.

    def pause(self, seconds: float) -> None:
        """After a 429: no request starts for `seconds`, whichever caller it was for."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class TmdbClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        requests_per_second: float = 20.0,
        timeout_seconds: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        headers, self._auth_params = auth_for(token)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", headers=headers, timeout=timeout_seconds
        )
        self._limiter = RateLimiter(requests_per_second)
        self._retry = retry or RetryPolicy()

    async def close(self) -> None:
        await self._http.aclose()

    async def details(self, movie_id: int, append: str = "keywords") -> dict[str, Any] | None:
        """A movie's details, or None when TMDB no longer has it (404)."""
        return await self._get(f"movie/{movie_id}", {"append_to_response": append})

    async def genres(self) -> list[dict[str, Any]]:
        body = await self._get("genre/movie/list", {})
        return (body or {}).get("genres", [])

    async def popular_ids(self, max_pages: int) -> AsyncIterator[int]:
        async for results, _ in self._pages("movie/popular", {}, max_pages):
            for item in results:
                yield item["id"]

    async def discover_ids(self, first: date, last: date, max_pages: int) -> AsyncIterator[int]:
        """Movies released in [first, last]; a range with more than 500 pages is halved."""
        params = {
            "primary_release_date.gte": first.isoformat(),
            "primary_release_date.lte": last.isoformat(),
            "sort_by": "primary_release_date.asc",
        }
        first_page = await self._get("discover/movie", {**params, "page": 1})
        if first_page is None:
            return
        if first_page.get("total_pages", 1) > MAX_PAGE and first < last:
            middle = first + (last - first) // 2
            async for movie_id in self.discover_ids(first, middle, max_pages):
                yield movie_id
            async for movie_id in self.discover_ids(middle + timedelta(days=1), last, max_pages):
                yield movie_id
            return
        async for results, _ in self._pages("discover/movie", params, max_pages, first_page):
            for item in results:
                yield item["id"]

    async def changed_ids(self, first: date, last: date) -> AsyncIterator[int]:
        """Ids TMDB changed between the two dates, asked in windows of at most 14 days."""
        for window_start, window_end in changes_windows(first, last):
            params = {"start_date": window_start.isoformat(), "end_date": window_end.isoformat()}
            async for results, _ in self._pages("movie/changes", params, MAX_PAGE):
                for item in results:
                    yield item["id"]

    async def _pages(
        self,
        path: str,
        params: dict[str, Any],
        max_pages: int,
        first_page: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        page, last_page = 1, min(max_pages, MAX_PAGE)
        body = first_page
        while page <= last_page:
            if body is None:
                body = await self._get(path, {**params, "page": page})
            if body is None:
                return
            yield body.get("results", []), page
            last_page = min(last_page, int(body.get("total_pages", 1)))
            page, body = page + 1, None

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        failures = rate_limited = 0
        while True:
            await self._limiter.wait()
            try:
                response = await self._http.get(path, params={**params, **self._auth_params})
            except httpx.TransportError as error:
                failures += 1
                await self._pause_or_give_up(failures, f"{path}: {type(error).__name__}")
                continue
            if response.status_code == 200:
                return response.json()
            if response.status_code == 404:
                return None
            if response.status_code == 401:
                raise TmdbAuthError(
                    f"TMDB refused the token in TMDB_API_TOKEN: {status_message(response)}"
                )
            if response.status_code == 429:
                rate_limited += 1
                if rate_limited > self._retry.max_rate_limited_attempts:
                    raise TmdbUnavailable(f"{path}: still rate limited after {rate_limited} tries")
                asked = retry_after(response) or self._retry.backoff(rate_limited)
                self._limiter.pause(min(asked, MAX_RETRY_AFTER_SECONDS))
                continue
            if response.status_code >= 500:
                failures += 1
                await self._pause_or_give_up(failures, f"{path}: HTTP {response.status_code}")
                continue
            raise TmdbError(f"{path}: HTTP {response.status_code}: {status_message(response)}")

    async def _pause_or_give_up(self, failures: int, what: str) -> None:
        if failures >= self._retry.max_attempts:
            raise TmdbUnavailable(f"{what} (gave up after {failures} attempts)")
        await asyncio.sleep(self._retry.backoff(failures))


def auth_for(token: str) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query parameters: a v3 api_key is 32 hex digits, else a Bearer token."""
    if API_KEY_PATTERN.fullmatch(token):
        return {}, {"api_key": token}
    return {"Authorization": f"Bearer {token}"}, {}


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def status_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("status_message", response.text[:200]))
    except ValueError:
        return response.text[:200]


def changes_windows(first: date, last: date) -> list[tuple[date, date]]:
    windows = []
    start = first
    while start <= last:
        end = min(last, start + MAX_CHANGES_WINDOW - timedelta(days=1))
        windows.append((start, end))
        start = end + timedelta(days=1)
    return windows
