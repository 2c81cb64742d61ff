"""app.ingest_body: body size limits, media type, gzip and the JSON shape of a request."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib

import pytest

from app.ingest.request_body import (
    MAX_GZIP_MEMBERS,
    IngestError,
    check_media_type,
    decode_content,
    parse_events,
    read_limited,
)

VALUES = 100_000  # the default bound on JSON values


class CountingStream:
    """A body sent as `count` ASGI messages of `chunk`, recording how many the reader took;
    `disconnect` ends it with the client gone instead."""

    def __init__(self, chunk: bytes, count: int, disconnect: bool = False) -> None:
        self.chunk, self.count, self.disconnect, self.pulled = chunk, count, disconnect, 0

    async def __call__(self) -> dict[str, object]:
        self.pulled += 1
        if self.disconnect and self.pulled == self.count:
            return {"type": "http.disconnect"}
        more = self.pulled < self.count
        return {"type": "http.request", "body": self.chunk, "more_body": more}


def refusal(error: pytest.ExceptionInfo[IngestError]) -> tuple[int, str]:
    assert error.value.reason, "a refusal always says why"
    return error.value.status_code, error.value.field


async def test_read_limited_returns_a_body_within_the_limit() -> None:
    stream = CountingStream(b"x" * 100, 5)

    body = await read_limited(stream, max_bytes=500)

    assert body == b"x" * 500
    assert stream.pulled == 5


async def test_read_limited_refuses_as_soon_as_the_limit_is_passed() -> None:
    stream = CountingStream(b"x" * 100, 1000)

    with pytest.raises(IngestError) as caught:
        await read_limited(stream, max_bytes=250)

    assert refusal(caught) == (413, "body")
    # The third chunk crosses 250 bytes; the other 997 chunks are never pulled.
    assert stream.pulled == 3


async def test_read_limited_accepts_an_empty_body() -> None:
    assert await read_limited(CountingStream(b"", 3), max_bytes=10) == b""


async def test_read_limited_refuses_a_body_whose_client_went_away() -> None:
    with pytest.raises(IngestError) as caught:
        await read_limited(CountingStream(b"x", 3, disconnect=True), max_bytes=10)

    assert refusal(caught) == (400, "body")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "text/plain",
        "text/plain;charset=UTF-8",  # what navigator.sendBeacon sends for a string
    ],
)
def test_json_and_text_plain_media_types_are_accepted(content_type: str) -> None:
    check_media_type(content_type)  # no IngestError is the whole assertion


@pytest.mark.parametrize(
    "content_type",
    [None, "", "application/xml", "multipart/form-data; boundary=x", "text/html", "json"],
)
def test_other_media_types_are_refused_with_415(content_type: str | None) -> None:
    with pytest.raises(IngestError) as caught:
        check_media_type(content_type)
    assert refusal(caught) == (415, "content-type")


@pytest.mark.parametrize("encoding", [None, "identity", " Identity "])
def test_identity_encoding_returns_the_body_as_is(encoding: str | None) -> None:
    assert decode_content(b'{"a": 1}', encoding, max_inflated_bytes=1024) == b'{"a": 1}'


@pytest.mark.parametrize("encoding", ["gzip", "GZIP"])
def test_gzip_body_is_inflated(encoding: str) -> None:
    document = b'[{"event_type": "click"}]' * 10
    assert decode_content(gzip.compress(document), encoding, 1024) == document


def test_gzip_body_inflating_to_exactly_the_limit_is_accepted() -> None:
    assert decode_content(gzip.compress(b"a" * 1024), "gzip", 1024) == b"a" * 1024


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, br"])
def test_unknown_content_encoding_is_refused_with_415(encoding: str) -> None:
    with pytest.raises(IngestError) as caught:
        decode_content(b"{}", encoding, 1024)
    assert refusal(caught) == (415, "content-encoding")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"not": "gzip"}', id="plain-json"),
        pytest.param(b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", id="bad-deflate-data"),
    ],
)
def test_invalid_gzip_is_refused_with_400(body: bytes) -> None:
    with pytest.raises(IngestError) as caught:
        decode_content(body, "gzip", 1024)
    assert refusal(caught) == (400, "body")


@pytest.mark.parametrize("cut", [0, 10, -4])
def test_truncated_gzip_is_refused_with_400(cut: int) -> None:
    # -4 drops the length trailer only: all data inflates, yet the stream never ends.
    whole = gzip.compress(b'{"event_type": "click"}' * 20)
    with pytest.raises(IngestError) as caught:
        decode_content(whole[:cut], "gzip", 4096)
    assert refusal(caught) == (400, "body")


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MB of zeros, which gzip squeezes to about 50 kB."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1 << 20)
    return b"".join(compressor.compress(megabyte) for _ in range(50)) + compressor.flush()


def test_gzip_bomb_is_refused_with_413_without_inflating_it(gzip_bomb: bytes) -> None:
    limit = 4 << 20
    assert len(gzip_bomb) < 100_000

    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as caught:
            decode_content(gzip_bomb, "gzip", limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert refusal(caught) == (413, "body")
    # Inflating all 50 MB would show in the peak; stopping at the limit keeps it to a few
    # buffers of 4 MB (zlib grows its output buffer, then copies it into the result).
    assert peak < 4 * limit


def test_single_event_object_becomes_a_list_of_one() -> None:
    assert parse_events(b'{"event_type": "click"}', 10, VALUES) == [{"event_type": "click"}]


def test_array_of_events_is_returned_as_is() -> None:
    assert parse_events(b'[{"a": 1}, {"b": 2}, 3]', 10, VALUES) == [{"a": 1}, {"b": 2}, 3]


def test_events_wrapper_object_is_unwrapped() -> None:
    assert parse_events(b'{"events": [{"a": 1}, {"b": 2}]}', 10, VALUES) == [{"a": 1}, {"b": 2}]


def test_object_with_events_and_event_type_is_a_single_event() -> None:
    # An event may well carry a stray `events` key; it is validated (and refused) as an event.
    document = b'{"event_type": "click", "events": []}'
    assert parse_events(document, 10, VALUES) == [{"event_type": "click", "events": []}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b'{"events": [{"a": 1}], "user_id": "u"}', "body", id="wrapper-extra-key"),
        pytest.param(b'{"events": {"a": 1}}', "events", id="events-object"),
        pytest.param(b'{"events": "abc"}', "events", id="events-string"),
        pytest.param(b'{"events": null}', "events", id="events-null"),
        pytest.param(b"42", "body", id="number"),
        pytest.param(b'"an event"', "body", id="string"),
        pytest.param(b"true", "body", id="boolean"),
        pytest.param(b"null", "body", id="null"),
        pytest.param(b"[]", "body", id="empty-array"),
        pytest.param(b'{"events": []}', "body", id="empty-wrapper"),
    ],
)
def test_wrong_document_shapes_are_refused_with_422(body: bytes, field: str) -> None:
    with pytest.raises(IngestError) as caught:
        parse_events(body, 10, VALUES)
    assert refusal(caught) == (422, field)


def test_batch_at_the_limit_is_accepted_and_one_more_is_413() -> None:
    assert len(parse_events(b"[" + b",".join([b"{}"] * 3) + b"]", 3, VALUES)) == 3

    with pytest.raises(IngestError) as caught:
        parse_events(b'{"events": [{}, {}, {}, {}]}', 3, VALUES)
    assert refusal(caught) == (413, "events")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="whitespace"),
        pytest.param(b'{"user_id": "u",}', id="trailing-comma"),
        pytest.param(b'{"user_id": ', id="cut-short"),
        pytest.param(b"{'user_id': 'u'}", id="single-quotes"),
        pytest.param(b'{"user_id": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b'{"user_id": "\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
        pytest.param(b'{"user_id": "\\ud800"}', id="lone-surrogate-escape"),
        pytest.param(b'{"position_seconds": NaN}', id="nan"),
        pytest.param(b'{"position_seconds": Infinity}', id="infinity"),
        pytest.param(b'{"position_seconds": 1e400}', id="overflows-to-infinity"),
        pytest.param(b"[" * 5000 + b"]" * 5000, id="deeply-nested"),  # within VALUES
    ],
)
def test_invalid_json_is_refused_with_400(body: bytes) -> None:
    with pytest.raises(IngestError) as caught:
        parse_events(body, 10, VALUES)
    assert refusal(caught) == (400, "body")


def test_concatenated_gzip_members_are_all_inflated() -> None:
    body = gzip.compress(b'[{"a": 1},') + gzip.compress(b'{"b": 2}]')
    assert decode_content(body, "gzip", 1024) == b'[{"a": 1},{"b": 2}]'


def test_gzip_members_together_over_the_limit_are_refused() -> None:
    body = gzip.compress(b"x" * 600) + gzip.compress(b"y" * 600)
    with pytest.raises(IngestError) as error:
        decode_content(body, "gzip", 1024)
    assert error.value.status_code == 413


def test_a_body_of_too_many_json_values_is_refused_before_parsing() -> None:
    body = b"[" + b"[]," * 1_300_000 + b"[]]"  # 4 MB: a long parse, then a 413 anyway
    started = time.perf_counter()
    with pytest.raises(IngestError) as caught:
        parse_events(body, 500, VALUES)
    assert refusal(caught) == (413, "body")
    assert time.perf_counter() - started < 0.05


def test_a_batch_of_rich_events_is_well_within_the_values_bound() -> None:
    event = (
        b'{"event_type": "comment", "user_id": "u", "movie_id": 550, "occurred_at": "x",'
        b' "context": {"page": "/m", "locale": "en", "device": "d"},'
        b' "payload": {"text": "' + b"Good, long, and, comma, rich; " * 30 + b'", "rating": 7}}'
    )
    assert len(parse_events(b"[" + b",".join([event] * 500) + b"]", 500, VALUES)) == 500


def test_too_many_gzip_members_are_refused() -> None:
    body = gzip.compress(b"") * (MAX_GZIP_MEMBERS + 1)
    with pytest.raises(IngestError) as caught:
        decode_content(body, "gzip", 1024)
    assert refusal(caught) == (413, "body")


def test_a_mebibyte_of_empty_gzip_members_is_refused_at_once() -> None:
    empty = gzip.compress(b"")
    body = empty * (1_048_576 // len(empty))
    started = time.perf_counter()
    with pytest.raises(IngestError):
        decode_content(body, "gzip", 4_194_304)
    assert time.perf_counter() - started < 0.05
