"""Fixtures for tests against the real local stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.config import Settings


@asynccontextmanager
async def scratch_topic(settings: Settings, name: str, partitions: int) -> AsyncIterator[str]:
    """A topic of its own for a test, deleted afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


@pytest.fixture
async def kafka_topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    """A fresh single-partition topic, deleted afterwards."""
    async with scratch_topic(settings, f"test_{unique}", 1) as name:
        yield name


def database_url_for(settings: Settings, database: str) -> str:
    return urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{database}"))


@pytest.fixture
async def scratch_database(settings, pg, unique) -> AsyncIterator[str]:
    """An empty database of the test's own on the stack's server, dropped afterwards."""
    name = f"scratch_{unique}"
    await pg.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url_for(settings, name)
    finally:
        await pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
