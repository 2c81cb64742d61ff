"""A fake TMDB API v3 served over real HTTP on loopback, for integration tests of a TMDB client.

Tests change the knobs (plain attributes) between calls and read `requests` afterwards:

    with FakeTmdb() as tmdb:
        tmdb.rate_limit_next = 1
        client = TmdbClient(base_url=tmdb.base_url, token=tmdb.token)

or as a fixture: `with FakeTmdb() as tmdb: yield tmdb`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import threading
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.loopback import LoopbackServer, ServedTwin

SAMPLE_CATALOGUE = Path(__file__).resolve().parent.parent / "app/catalogue/sample_catalogue.json"
MAX_PAGE = 500  # TMDB refuses any page above this, whatever total_pages claims
MAX_CHANGES_DAYS = 14
LIST_ITEM_KEYS = (
    "id", "title", "original_title", "original_language", "overview", "release_date",
    "popularity", "vote_average", "vote_count", "poster_path", "adult",
)  # fmt: skip
SORT_FIELDS = {"primary_release_date": "release_date"}  # discover's sort names that differ

Movie = dict[str, Any]


def tmdb_error(http_status: int, code: int, message: str, **headers: str) -> JSONResponse:
    body = {"success": False, "status_code": code, "status_message": message}
    return JSONResponse(body, status_code=http_status, headers=headers)


# TMDB's error answers: HTTP status, TMDB status_code, status_message.
NOT_FOUND = (404, 34, "The resource you requested could not be found.")
INVALID_PAGE = (
    400, 22, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."
)  # fmt: skip
INVALID_INPUT = (422, 47, "The input is not valid.")


def list_item(details: Movie) -> Movie:
    """What TMDB's list endpoints (popular, discover) show of a movie."""
    item = {key: details.get(key) for key in LIST_ITEM_KEYS}
    item["genre_ids"] = [genre["id"] for genre in details.get("genres", [])]
    return item


def parse_page(raw: str | None) -> int | None:
    """The requested page, or None when TMDB would refuse it."""
    try:
        page = int(raw) if raw is not None else 1
    except ValueError:
        return None
    return page if 1 <= page <= MAX_PAGE else None


def paged(items: list[Any], page: int, size: int, overlap: bool) -> tuple[list[Any], int]:
    """One page of items and the total page count.

    With overlap, each page starts with the previous page's last item, as TMDB's lists do when
    popularity shifts between requests; nothing is skipped, so a deduplicating client sees all.
    """
    stride = size - 1 if overlap and size > 1 else size
    start = (page - 1) * stride
    total_pages = 1 + math.ceil(max(0, len(items) - size) / stride)
    return items[start : start + size], total_pages


def parse_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def query_dates(query: dict[str, str], *names: str) -> list[date | None] | None:
    """Each named date (None when absent), or None when any given one is malformed."""
    if any(query.get(name) and parse_date(query[name]) is None for name in names):
        return None
    return [parse_date(query.get(name)) for name in names]


def movie_id_in(path: str) -> int | None:
    """The id in "/3/movie/{id}", or None for any other path."""
    rest = path.removeprefix("/3/movie/")
    if rest == path or not (rest.isascii() and rest.isdigit()):
        return None
    return int(rest)


class FakeTmdb(ServedTwin):
    def __init__(
        self, catalogue: Iterable[Movie] | None = None, *, genres: list[Movie] | None = None
    ) -> None:
        sample = json.loads(SAMPLE_CATALOGUE.read_text(encoding="utf-8"))
        movies = sample["movies"] if catalogue is None else copy.deepcopy(list(catalogue))
        self.movies: dict[int, Movie] = {movie["id"]: movie for movie in movies}
        self.genres: list[Movie] = sample["genres"] if genres is None else genres
        self.token = "test-token"
        self.gone_ids: set[int] = set()
        self.rate_limit_next = 0
        # At most this many answered requests per this many seconds, as TMDB's own limit.
        self.rate_window: tuple[int, float] | None = None
        self.retry_after_seconds: float | None = 1
        self.answered_times: list[float] = []
        self.rate_limited = 0
        self.fail_next_with_500 = 0
        self.delay_seconds = 0.0  # before every answer: a slow TMDB
        self.popular_ids: list[int] = sorted(
            self.movies, key=lambda movie_id: -self.movies[movie_id].get("popularity", 0)
        )
        self.page_size = 20
        self.duplicate_across_pages = False
        self.advertised_total_pages: int | None = None
        self.changed_ids: list[int] = []
        self.changes_page_size = 100
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.request_times: list[float] = []
        # Handlers run on the server's thread while tests read and set knobs on theirs.
        self.lock = threading.Lock()
        app = Starlette(routes=[Route("/{path:path}", self._handle)])
        self.server = LoopbackServer(app, "TMDB")
        self.port = self.server.port
        self.base_url = f"http://127.0.0.1:{self.port}/3"

    def queries(self, path: str) -> list[dict[str, str]]:
        """The query parameters of each request to a path such as "/3/movie/popular"."""
        with self.lock:
            return [query for requested, query in self.requests if requested == path]

    def detail_request_count(self) -> int:
        """Requests for "/3/movie/{id}", whatever they were answered."""
        with self.lock:
            return sum(1 for path, _ in self.requests if movie_id_in(path) is not None)

    async def _handle(self, request: Request) -> JSONResponse:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        path, query = request.url.path, dict(request.query_params)
        with self.lock:
            self.requests.append((path, query))
            self.request_times.append(time.monotonic())
            if self.rate_limit_next > 0 or self._over_the_window():
                self.rate_limit_next = max(0, self.rate_limit_next - 1)
                self.rate_limited += 1
                wait = self.retry_after_seconds
                headers = {} if wait is None else {"Retry-After": str(wait)}
                message = "Your request count (#) is over the allowed limit of (40)."
                return tmdb_error(429, 25, message, **headers)
            if self.fail_next_with_500 > 0:
                self.fail_next_with_500 -= 1
                return tmdb_error(500, 11, "Internal error: Something went wrong, contact TMDb.")
            self.answered_times.append(time.monotonic())
            bearer = request.headers.get("authorization") == f"Bearer {self.token}"
            if not (bearer or query.get("api_key") == self.token):
                return tmdb_error(401, 7, "Invalid API key: You must be granted a valid key.")
            return self._route(path, query)

    def _over_the_window(self) -> bool:
        if self.rate_window is None:
            return False
        most, seconds = self.rate_window
        since = time.monotonic() - seconds
        return sum(1 for at in self.answered_times if at > since) >= most

    def _route(self, path: str, query: dict[str, str]) -> JSONResponse:
        if path == "/3/genre/movie/list":
            return JSONResponse({"genres": self.genres})
        if path == "/3/movie/popular":
            return self._movie_list(self.popular_ids, query)
        if path == "/3/discover/movie":
            return self._discover(query)
        if path == "/3/movie/changes":
            return self._changes(query)
        movie_id = movie_id_in(path)
        if movie_id is None or movie_id in self.gone_ids or movie_id not in self.movies:
            return tmdb_error(*NOT_FOUND)
        return JSONResponse(self.movies[movie_id])  # append_to_response is accepted and ignored

    def _movie_list(self, ids: list[int], query: dict[str, str]) -> JSONResponse:
        page = parse_page(query.get("page"))
        if page is None:
            return tmdb_error(*INVALID_PAGE)
        known = [movie_id for movie_id in ids if movie_id in self.movies]
        page_ids, total_pages = paged(known, page, self.page_size, self.duplicate_across_pages)
        total_results = len(known)
        if self.advertised_total_pages is not None:
            total_pages = self.advertised_total_pages
            total_results = total_pages * self.page_size
        results = [list_item(self.movies[movie_id]) for movie_id in page_ids]
        body = {"page": page, "results": results, "total_pages": total_pages}
        return JSONResponse({**body, "total_results": total_results})

    def _discover(self, query: dict[str, str]) -> JSONResponse:
        bounds = query_dates(query, "primary_release_date.gte", "primary_release_date.lte")
        if bounds is None:
            return tmdb_error(*INVALID_INPUT)
        earliest, latest = bounds
        field, _, direction = query.get("sort_by", "popularity.desc").partition(".")
        field = SORT_FIELDS.get(field, field)
        matching = [
            movie
            for movie in self.movies.values()
            if (released := parse_date(movie.get("release_date")))
            and (earliest is None or released >= earliest)
            and (latest is None or released <= latest)
        ]
        matching.sort(key=lambda movie: movie.get(field) or 0, reverse=direction != "asc")
        return self._movie_list([movie["id"] for movie in matching], query)

    def _changes(self, query: dict[str, str]) -> JSONResponse:
        page = parse_page(query.get("page"))
        if page is None:
            return tmdb_error(*INVALID_PAGE)
        window = query_dates(query, "start_date", "end_date")
        if window is None:
            return tmdb_error(*INVALID_INPUT)
        start, end = window
        if start and end and not 0 <= (end - start).days <= MAX_CHANGES_DAYS:
            return tmdb_error(*INVALID_INPUT)
        page_ids, total_pages = paged(self.changed_ids, page, self.changes_page_size, False)
        results = [
            {"id": movie_id, "adult": bool(self.movies.get(movie_id, {}).get("adult", False))}
            for movie_id in page_ids
        ]
        body = {"results": results, "page": page, "total_pages": total_pages}
        return JSONResponse({**body, "total_results": len(self.changed_ids)})
