"""The per-process answer cache: bounded, expiring, and one as_of read per second."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.serving.cache import AnswerCache

AS_OF = datetime(2026, 12, 1, 12, tzinfo=UTC)


async def test_as_of_is_read_once_per_second():
    cache, reads = AnswerCache(10, 5), []

    async def read() -> datetime:
        reads.append(1)
        return AS_OF

    assert await cache.as_of(read) == AS_OF
    assert await cache.as_of(read) == AS_OF
    assert len(reads) == 1


def test_answers_are_kept_by_key_and_the_oldest_go_first():
    cache = AnswerCache(2, 5)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # now the most recent
    cache.put("c", b"3")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"1", None, b"3")


def test_answers_expire_after_max_age():
    now = [100.0]
    cache = AnswerCache(10, 5, clock=lambda: now[0])
    cache.put("a", b"1")
    now[0] += 4
    assert cache.get("a") == b"1"
    now[0] += 2
    assert cache.get("a") is None


async def test_a_size_or_age_of_zero_keeps_nothing():
    for cache in (AnswerCache(0, 5), AnswerCache(10, 0)):
        cache.put("a", b"1")
        assert cache.get("a") is None


async def test_one_computation_serves_a_burst_of_the_same_question():
    cache, computations = AnswerCache(10, 5), []
    release = asyncio.Event()

    async def compute() -> bytes:
        computations.append(1)
        await release.wait()
        return b"answer"

    waiting = [asyncio.create_task(cache.answer("q", compute)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [b"answer"] * 20
    assert computations == [1]
    assert await cache.answer("q", compute) == b"answer" and computations == [1]


async def test_a_failed_computation_fails_its_waiters_and_is_not_kept():
    cache = AnswerCache(10, 5)

    async def fail() -> bytes:
        raise RuntimeError("store away")

    with pytest.raises(RuntimeError):
        await cache.answer("q", fail)
    assert cache.get("q") is None
