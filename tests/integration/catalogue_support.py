"""Helpers for catalogue tests: movies with ids of their own, consumers, and the stores."""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson

from app.bootstrap import build_resources
from app.config import Settings
from app.consumers.groups import GROUPS
from app.consumers.runner import ConsumerRunner, RunnerConfig
from tests.fake_tmdb import SAMPLE_CATALOGUE


def movies_with_fresh_ids(count: int) -> list[dict]:
    """Sample movies under ids no other test uses, so the shared stores need no cleaning."""
    sample = orjson.loads(SAMPLE_CATALOGUE.read_bytes())["movies"]
    base = random.randrange(10**9, 2 * 10**9)
    movies = []
    for n in range(count):
        movie = copy.deepcopy(sample[n % len(sample)])
        movie["id"] = base + n
        movies.append(movie)
    return movies


@asynccontextmanager
async def movie_consumers(settings: Settings, unique: str) -> AsyncIterator[None]:
    """The two catalogue consumer groups, under group ids of this test's own."""
    async with build_resources(settings) as resources:
        runners = []
        for group_id in ("movie-postgres-staging", "movie-mongo-backup"):
            group = GROUPS[group_id]
            config = RunnerConfig(
                settings.kafka_bootstrap_servers,
                f"{group_id}-{unique}",
                group.topics,
                settings.dead_letter_topic,
            )
            sink = group.sink(resources)
            runners.append(ConsumerRunner(config, sink, resources.publisher, group.decode))
        tasks = [asyncio.create_task(runner.run()) for runner in runners]
        try:
            yield
        finally:
            for runner in runners:
                runner.stop()
            await asyncio.gather(*tasks)


async def wait_for(connection: asyncpg.Connection, query: str, *args, expected, limit=60.0):
    """Poll a query until it returns `expected`; a TimeoutError when the limit passes first."""
    async with asyncio.timeout(limit):
        while True:
            value = await connection.fetchval(query, *args)
            if value == expected:
                return value
            await asyncio.sleep(0.25)
