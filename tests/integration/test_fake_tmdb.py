"""The fake TMDB itself, over real HTTP: the client tests rely on each of these behaviours."""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise

import httpx
import pytest

from tests.fake_tmdb import FakeTmdb


@pytest.fixture
def tmdb() -> Iterator[FakeTmdb]:
    with FakeTmdb() as fake:
        yield fake


@pytest.fixture
def client(tmdb: FakeTmdb) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tmdb.token}"}
    with httpx.Client(base_url=tmdb.base_url, headers=headers, timeout=5) as http:
        yield http


def many_movies(count: int) -> list[dict[str, object]]:
    """Movies whose popularity falls with their id, so the popular order is 1, 2, 3..."""
    return [
        {"id": n, "title": f"Movie {n}", "popularity": 1000.0 - n, "release_date": "2020-01-01"}
        for n in range(1, count + 1)
    ]


def test_requests_without_the_token_are_refused(tmdb: FakeTmdb) -> None:
    wrong = httpx.get(f"{tmdb.base_url}/movie/550", headers={"Authorization": "Bearer nope"})
    missing = httpx.get(f"{tmdb.base_url}/genre/movie/list")
    by_api_key = httpx.get(f"{tmdb.base_url}/movie/550", params={"api_key": tmdb.token})

    for refused in (wrong, missing):
        assert refused.status_code == 401
        assert refused.json() == {
            "success": False,
            "status_code": 7,
            "status_message": "Invalid API key: You must be granted a valid key.",
        }
    assert by_api_key.status_code == 200
    assert by_api_key.json()["title"] == "Fight Club"


def test_details_genres_and_gone_ids(tmdb: FakeTmdb, client: httpx.Client) -> None:
    details = client.get("/movie/603", params={"append_to_response": "credits"})
    genres = client.get("/genre/movie/list").json()["genres"]
    tmdb.gone_ids.add(603)
    gone = client.get("/movie/603")
    unknown = client.get("/movie/999999999")

    assert details.json()["id"] == 603
    assert {"id": 878, "name": "Science Fiction"} in genres
    for missing in (gone, unknown):
        assert missing.status_code == 404
        assert missing.json()["status_code"] == 34
    assert tmdb.detail_request_count() == 3


def test_popular_pages_in_popularity_order() -> None:
    with FakeTmdb(many_movies(45)) as tmdb, httpx.Client(base_url=tmdb.base_url) as http:
        pages = [
            http.get("/movie/popular", params={"page": n, "api_key": tmdb.token}).json()
            for n in (1, 2, 3)
        ]

    assert [page["page"] for page in pages] == [1, 2, 3]
    assert {page["total_pages"] for page in pages} == {3}
    assert {page["total_results"] for page in pages} == {45}
    ids = [item["id"] for page in pages for item in page["results"]]
    assert ids == list(range(1, 46))
    assert set(pages[0]["results"][0]) >= {"genre_ids", "poster_path", "vote_count", "adult"}


def test_duplicates_across_pages_never_skip_a_movie() -> None:
    with FakeTmdb(many_movies(45)) as tmdb, httpx.Client(base_url=tmdb.base_url) as http:
        tmdb.duplicate_across_pages = True
        first = http.get("/movie/popular", params={"api_key": tmdb.token}).json()
        pages = [first] + [
            http.get("/movie/popular", params={"page": n, "api_key": tmdb.token}).json()
            for n in range(2, first["total_pages"] + 1)
        ]

    ids = [[item["id"] for item in page["results"]] for page in pages]
    assert all(later[0] == earlier[-1] for earlier, later in pairwise(ids))
    assert sorted({movie_id for page in ids for movie_id in page}) == list(range(1, 46))


def test_pages_beyond_500_are_refused_whatever_total_pages_claims(
    tmdb: FakeTmdb, client: httpx.Client
) -> None:
    tmdb.advertised_total_pages = 1000

    late = client.get("/movie/popular", params={"page": 500})
    refused = [client.get("/movie/popular", params={"page": page}) for page in ("501", "0", "x")]

    assert late.json()["total_pages"] == 1000
    assert late.json()["results"] == []
    for response in refused:
        assert response.status_code == 400
        assert response.json()["status_code"] == 22
    assert [query["page"] for query in tmdb.queries("/3/movie/popular")] == [
        "500", "501", "0", "x"
    ]  # fmt: skip


def test_rate_limit_answers_429_with_retry_after_then_recovers(
    tmdb: FakeTmdb, client: httpx.Client
) -> None:
    tmdb.rate_limit_next = 2
    tmdb.retry_after_seconds = 3
    first, second, third = (client.get("/movie/550") for _ in range(3))
    tmdb.rate_limit_next = 1
    tmdb.retry_after_seconds = None
    without_header = client.get("/movie/550")

    for limited in (first, second):
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "3"
        assert limited.json()["status_code"] == 25
    assert third.status_code == 200
    assert without_header.status_code == 429
    assert "Retry-After" not in without_header.headers
    assert len(tmdb.request_times) == 4
    assert tmdb.request_times == sorted(tmdb.request_times)
    assert tmdb.request_times[-1] <= time.monotonic()


def test_server_errors_come_before_a_success(tmdb: FakeTmdb, client: httpx.Client) -> None:
    tmdb.fail_next_with_500 = 1

    assert client.get("/genre/movie/list").status_code == 500
    assert client.get("/genre/movie/list").status_code == 200


def test_discover_filters_by_release_date(tmdb: FakeTmdb, client: httpx.Client) -> None:
    window = {"primary_release_date.gte": "1994-01-01", "primary_release_date.lte": "1994-12-31"}
    by_popularity = client.get("/discover/movie", params={**window, "sort_by": "popularity.desc"})
    oldest_first = client.get(
        "/discover/movie", params={**window, "sort_by": "primary_release_date.asc"}
    )
    malformed = client.get("/discover/movie", params={"primary_release_date.gte": "1994-13-01"})

    results = by_popularity.json()["results"]
    assert {item["id"] for item in results} == {278, 680, 13, 8587}  # released in 1994
    popularity = [item["popularity"] for item in results]
    assert popularity == sorted(popularity, reverse=True)
    dates = [item["release_date"] for item in oldest_first.json()["results"]]
    assert dates == sorted(dates)
    assert malformed.status_code == 422


def test_discover_never_matches_movies_without_a_release_date(client: httpx.Client) -> None:
    everything = client.get("/discover/movie", params={"page": 1}).json()
    second_page = client.get("/discover/movie", params={"page": 2}).json()

    assert everything["total_results"] == 39  # 12 Angry Men has an empty release_date
    ids = [item["id"] for page in (everything, second_page) for item in page["results"]]
    assert 389 not in ids
    assert len(ids) == 39


def test_changes_pages_and_window_limit(tmdb: FakeTmdb, client: httpx.Client) -> None:
    tmdb.changed_ids = list(range(1, 251))
    window = {"start_date": "2024-03-01", "end_date": "2024-03-15"}
    pages = [client.get("/movie/changes", params={**window, "page": n}).json() for n in (1, 3)]
    too_long = client.get(
        "/movie/changes", params={"start_date": "2024-03-01", "end_date": "2024-03-16"}
    )

    assert [len(page["results"]) for page in pages] == [100, 50]
    assert pages[0]["total_pages"] == 3
    assert pages[0]["total_results"] == 250
    assert pages[0]["results"][0] == {"id": 1, "adult": False}
    assert too_long.status_code == 422
    assert too_long.json()["status_code"] == 47
    assert tmdb.queries("/3/movie/changes")[-1]["end_date"] == "2024-03-16"
