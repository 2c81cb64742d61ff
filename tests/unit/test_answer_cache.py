"""The per-process answer cache: bounded, expiring, one as_of read per second, and refreshed
behind the requests when the model moves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.serving.cache import AnswerCache

AS_OF = datetime(2026, 12, 1, 12, tzinfo=UTC)
LATER = AS_OF + timedelta(seconds=3)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answering(body: bytes, calls: list[bytes] | None = None):
    async def compute() -> bytes:
        if calls is not None:
            calls.append(body)
        return body

    return compute


async def settle() -> None:
    """Lets the background refreshes run to their end."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_as_of_is_read_once_per_second_behind_the_requests():
    clock, reads, answers = Clock(), [], iter([AS_OF, LATER])
    cache = AnswerCache(10, 5, clock=clock)

    async def read() -> datetime:
        reads.append(1)
        return next(answers)

    assert await cache.as_of(read) == AS_OF  # the first read is waited for
    assert await cache.as_of(read) == AS_OF and len(reads) == 1
    clock.now += 1.0
    assert await cache.as_of(read) == AS_OF  # the last one read, while the next is read
    await settle()
    assert len(reads) == 2 and await cache.as_of(read) == LATER


async def test_a_failed_as_of_read_keeps_the_last_one_and_a_first_one_raises():
    clock = Clock()
    cache = AnswerCache(10, 5, clock=clock)

    async def fail() -> datetime:
        raise OSError("store away")

    async def read() -> datetime:
        return AS_OF

    with pytest.raises(OSError):
        await cache.as_of(fail)
    assert await cache.as_of(read) == AS_OF  # tried again at once
    clock.now += 1.0
    assert await cache.as_of(fail) == AS_OF
    await settle()
    assert await cache.as_of(fail) == AS_OF


async def test_answers_are_kept_by_question_and_the_oldest_go_first():
    cache, calls = AnswerCache(2, 5), []
    await cache.answer("a", AS_OF, answering(b"1", calls))
    await cache.answer("b", AS_OF, answering(b"2", calls))
    await cache.answer("a", AS_OF, answering(b"1", calls))  # kept; now the most recent
    await cache.answer("c", AS_OF, answering(b"3", calls))
    assert calls == [b"1", b"2", b"3"]
    await cache.answer("b", AS_OF, answering(b"2", calls))  # "b" went first: computed again
    await cache.answer("c", AS_OF, answering(b"3", calls))
    assert calls == [b"1", b"2", b"3", b"2"]


async def test_without_stale_serving_an_answer_past_max_age_is_computed_again():
    clock, calls = Clock(), []
    cache = AnswerCache(10, 5, clock=clock)
    assert (await cache.answer("q", AS_OF, answering(b"1", calls))).body == b"1"
    clock.now += 4
    assert (await cache.answer("q", AS_OF, answering(b"2", calls))).body == b"1"
    clock.now += 2
    assert (await cache.answer("q", AS_OF, answering(b"2", calls))).body == b"2"
    assert calls == [b"1", b"2"]


async def test_a_moved_model_is_answered_from_the_kept_answer_while_one_refresh_runs():
    cache, calls = AnswerCache(10, 5, stale_seconds=30), []
    await cache.answer("q", AS_OF, answering(b"old", calls))
    release = asyncio.Event()

    async def slow_new() -> bytes:
        calls.append(b"new")
        await release.wait()
        return b"new"

    served = [await cache.answer("q", LATER, slow_new) for _ in range(20)]
    assert {(kept.as_of, kept.body) for kept in served} == {(AS_OF, b"old")}
    await settle()
    assert calls == [b"old", b"new"]  # one refresh for the twenty requests
    release.set()
    await settle()
    kept = await cache.answer("q", LATER, slow_new)
    assert (kept.as_of, kept.body) == (LATER, b"new") and calls == [b"old", b"new"]


async def test_an_answer_too_old_to_serve_stale_is_waited_for():
    clock, calls = Clock(), []
    cache = AnswerCache(10, 5, stale_seconds=30, clock=clock)
    await cache.answer("q", AS_OF, answering(b"old", calls))
    clock.now += 36
    kept = await cache.answer("q", LATER, answering(b"new", calls))
    assert (kept.as_of, kept.body) == (LATER, b"new") and calls == [b"old", b"new"]


async def test_a_failed_refresh_leaves_the_kept_answer_served():
    cache = AnswerCache(10, 5, stale_seconds=30)
    await cache.answer("q", AS_OF, answering(b"old"))

    async def fail() -> bytes:
        raise OSError("store away")

    assert (await cache.answer("q", LATER, fail)).body == b"old"
    await settle()
    assert (await cache.answer("q", LATER, fail)).body == b"old"


async def test_an_answer_for_an_older_model_never_replaces_a_newer_one():
    """A request that read `as_of` just before it moved asks for the older model."""
    cache, calls = AnswerCache(10, 5, stale_seconds=30), []
    await cache.answer("q", LATER, answering(b"new", calls))
    assert (await cache.answer("q", AS_OF, answering(b"old", calls))).body == b"new"
    await settle()
    assert calls == [b"new", b"old"]  # the refresh ran, and its answer was not kept
    kept = await cache.answer("q", LATER, answering(b"again", calls))
    assert (kept.as_of, kept.body) == (LATER, b"new") and calls == [b"new", b"old"]


async def test_a_size_or_age_of_zero_keeps_nothing():
    for cache in (AnswerCache(0, 5), AnswerCache(10, 0)):
        calls: list[bytes] = []
        await cache.answer("q", AS_OF, answering(b"1", calls))
        await cache.answer("q", AS_OF, answering(b"1", calls))
        assert calls == [b"1", b"1"]


async def test_one_computation_serves_a_burst_of_the_same_question():
    cache, computations = AnswerCache(10, 5), []
    release = asyncio.Event()

    async def compute() -> bytes:
        computations.append(1)
        await release.wait()
        return b"answer"

    waiting = [asyncio.create_task(cache.answer("q", AS_OF, compute)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert [kept.body for kept in await asyncio.gather(*waiting)] == [b"answer"] * 20
    assert computations == [1]
    assert (await cache.answer("q", AS_OF, compute)).body == b"answer" and computations == [1]


async def test_a_failed_computation_fails_its_waiters_and_is_not_kept():
    cache, calls = AnswerCache(10, 5), []

    async def fail() -> bytes:
        raise RuntimeError("store away")

    with pytest.raises(RuntimeError):
        await cache.answer("q", AS_OF, fail)
    await cache.answer("q", AS_OF, answering(b"1", calls))
    assert calls == [b"1"]


async def test_closing_cancels_the_refreshes_in_flight():
    cache = AnswerCache(10, 5, stale_seconds=30)
    await cache.answer("q", AS_OF, answering(b"old"))
    started, finished = asyncio.Event(), []

    async def never() -> bytes:
        started.set()
        await asyncio.Event().wait()
        finished.append(1)
        return b"new"

    await cache.answer("q", LATER, never)
    await started.wait()
    await cache.close()
    assert finished == []
    assert (await cache.answer("q", LATER, answering(b"after"))).body in {b"old", b"after"}
