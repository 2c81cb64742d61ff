"""The bundled TMDB-shaped sample catalogue: loadable, complete and self-consistent."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

CATALOGUE_PATH = Path(__file__).resolve().parents[2] / "app/catalogue/sample_catalogue.json"
TMDB_MOVIE_GENRES = {
    28: "Action", 12: "Adventure", 16: "Animation", 35: "Comedy", 80: "Crime",
    99: "Documentary", 18: "Drama", 10751: "Family", 14: "Fantasy", 36: "History",
    27: "Horror", 10402: "Music", 9648: "Mystery", 10749: "Romance", 878: "Science Fiction",
    10770: "TV Movie", 53: "Thriller", 10752: "War", 37: "Western",
}  # fmt: skip
REQUIRED_KEYS = {
    "id", "imdb_id", "title", "original_title", "original_language", "overview",
    "release_date", "runtime", "genres", "popularity", "vote_average", "vote_count", "status",
    "poster_path", "budget", "revenue", "adult", "tagline",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return json.loads(CATALOGUE_PATH.read_text(encoding="utf-8"))


def test_genres_are_tmdbs_movie_genres(catalogue: dict[str, Any]) -> None:
    assert {genre["id"]: genre["name"] for genre in catalogue["genres"]} == TMDB_MOVIE_GENRES
    assert len(catalogue["genres"]) == len(TMDB_MOVIE_GENRES)


def test_forty_movies_with_unique_ids(catalogue: dict[str, Any]) -> None:
    ids = [movie["id"] for movie in catalogue["movies"]]
    assert len(ids) == 40
    assert len(set(ids)) == 40
    assert all(isinstance(movie_id, int) and movie_id > 0 for movie_id in ids)


def test_every_movie_has_the_details_shape(catalogue: dict[str, Any]) -> None:
    for movie in catalogue["movies"]:
        assert movie.keys() >= REQUIRED_KEYS, movie["id"]
        assert movie["status"] == "Released"
        assert movie["adult"] is False
        assert 0 <= movie["vote_average"] <= 10
        assert isinstance(movie["popularity"], float)
        assert all(isinstance(movie[key], int) for key in ("vote_count", "budget", "revenue"))
        assert movie["runtime"] > 0
        assert movie["imdb_id"] is None or re.fullmatch(r"tt\d{7,8}", movie["imdb_id"])
        assert movie["poster_path"] is None or re.fullmatch(r"/\w+\.jpg", movie["poster_path"])
        if movie["release_date"]:
            date.fromisoformat(movie["release_date"])


def test_movie_genres_come_from_the_genre_list(catalogue: dict[str, Any]) -> None:
    known = {(genre["id"], genre["name"]) for genre in catalogue["genres"]}
    for movie in catalogue["movies"]:
        assert movie["genres"], movie["id"]
        assert {(genre["id"], genre["name"]) for genre in movie["genres"]} <= known, movie["id"]


def test_edge_cases_are_present(catalogue: dict[str, Any]) -> None:
    movies = catalogue["movies"]
    assert sum(movie["poster_path"] is None for movie in movies) == 3
    assert sum(movie["release_date"] == "" for movie in movies) == 1
