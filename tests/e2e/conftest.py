"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
from pymongo import AsyncMongoClient

from app.config import Settings
from tests.browser import Browser
from tests.support import ServiceProcess


@pytest.fixture(scope="module", autouse=True)
def own_mongo_database() -> Iterator[str]:
    """Each module's services back events up into a database of their own.

    FerretDB on SQLite answers `{_id: {$in: ids}}` with a scan of the whole collection, so
    reading a module's events back from one shared collection grew slower with every module
    before it. The variable is set before the module's services start, which inherit it.
    """
    name = f"raw_{uuid.uuid4().hex[:10]}"
    previous = os.environ.get("MONGO_DATABASE")
    os.environ["MONGO_DATABASE"] = name
    yield name
    if previous is None:
        del os.environ["MONGO_DATABASE"]
    else:
        os.environ["MONGO_DATABASE"] = previous
    asyncio.run(drop_database(Settings().mongo_url, name))


async def drop_database(mongo_url: str, name: str) -> None:
    client: AsyncMongoClient = AsyncMongoClient(mongo_url)
    try:
        await client.drop_database(name)
    finally:
        await client.close()


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceProcess]:
    """`python -m app` with its consumers, shared by a module's tests."""
    process = ServiceProcess()
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium, driven over WebDriver."""
    with Browser() as driven:
        yield driven
