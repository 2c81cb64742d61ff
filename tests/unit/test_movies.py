from datetime import UTC, date, datetime

import orjson
import pytest

from app.catalogue.movies import details_hash, movie_message
from app.consumers.movie_records import decode_movie, movie_row
from app.consumers.records import SourceRecord, UndecodableRecord

FETCHED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DETAILS = {
    "id": 603,
    "title": "The Matrix",
    "original_title": "The Matrix",
    "release_date": "1999-03-30",
    "runtime": 136,
    "genres": [{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}],
    "poster_path": None,
}


def source(value: bytes) -> SourceRecord:
    return SourceRecord("movie", 0, 7, b"603", value)


def test_a_published_message_decodes_to_the_same_movie():
    movie = decode_movie(source(movie_message(603, DETAILS, FETCHED_AT)))
    assert (movie.movie_id, movie.fetched_at, movie.details) == (603, FETCHED_AT, DETAILS)


def test_a_gone_movie_has_no_details():
    movie = decode_movie(source(movie_message(603, None, FETCHED_AT)))
    assert movie.details is None


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        orjson.dumps({"movie_id": 603}),
        orjson.dumps({"movie_id": "603", "fetched_at": FETCHED_AT.isoformat(), "details": {}}),
        orjson.dumps({"movie_id": 603, "fetched_at": "2026-11-20T12:00:00", "details": DETAILS}),
        orjson.dumps({"movie_id": 604, "fetched_at": FETCHED_AT.isoformat(), "details": DETAILS}),
    ],
    ids=["not-json", "no-fetched-at", "id-as-text", "naive-time", "details-of-another-movie"],
)
def test_malformed_movie_messages_are_undecodable(value):
    with pytest.raises(UndecodableRecord):
        decode_movie(source(value))


def test_details_hash_ignores_key_order_but_not_values():
    reordered = dict(reversed(list(DETAILS.items())))
    assert details_hash(reordered) == details_hash(DETAILS)
    assert details_hash({**DETAILS, "runtime": 137}) != details_hash(DETAILS)


def test_movie_row_maps_details_and_tolerates_tmdb_gaps():
    row = movie_row(decode_movie(source(movie_message(603, DETAILS, FETCHED_AT))))
    assert row["release_date"] == date(1999, 3, 30)
    assert row["release_year"] == 1999
    assert [g["name"] for g in row["genres"]] == ["Action", "Science Fiction"]
    assert row["poster_path"] is None

    sparse = {"id": 9, "original_title": "Sans titre", "release_date": "", "runtime": 0}
    row = movie_row(decode_movie(source(movie_message(9, sparse, FETCHED_AT))))
    assert row["title"] == "Sans titre"
    assert row["release_date"] is None and row["release_year"] is None
    assert row["runtime_minutes"] is None
    assert row["genres"] == []
