"""Fixtures for tests against the real local stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
