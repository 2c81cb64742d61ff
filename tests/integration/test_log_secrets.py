"""No secret reaches a log line, at any level: a TMDB v3 key travels in the query string."""

from __future__ import annotations

import logging
import sys

import pytest

from app.catalogue.tmdb_client import TmdbClient
from app.logs import JsonFormatter, configure_logging, mask_secrets
from tests.fake_tmdb import FakeTmdb

V3_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def restored_logging():
    """The test writes through the service's own logging; put the runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_a_tmdb_v3_key_never_reaches_the_logs(level, capsys, restored_logging):
    configure_logging(level)
    logging.getLogger("httpx").setLevel(logging.DEBUG)  # even when someone turns it up
    handler = logging.getLogger().handlers[0]
    try:
        with FakeTmdb() as tmdb:
            tmdb.token = V3_KEY
            client = TmdbClient(tmdb.base_url, V3_KEY, requests_per_second=1000)
            try:
                assert await client.details(next(iter(tmdb.movies))) is not None
            finally:
                await client.close()
            logging.getLogger("test").info("url %s", f"{tmdb.base_url}/movie/1?api_key={V3_KEY}")
    finally:
        handler.flush()
    written = capsys.readouterr().err
    assert "api_key=********" in written
    assert V3_KEY not in written


def test_bearer_tokens_and_url_passwords_are_masked():
    line = mask_secrets(
        "Authorization: Bearer eyJhbGciOi.x-y_z postgresql://movies:s3cret@db:5432/movies"
    )
    assert "eyJhbGciOi" not in line and "s3cret" not in line
    assert "Bearer ********" in line and "movies:********@db" in line


def test_secrets_in_exceptions_are_masked_too():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise RuntimeError(f"GET /3/movie/1?api_key={V3_KEY} failed")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert V3_KEY not in JsonFormatter().format(record)
