"""Fixtures for tests against the real local stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.config import Settings


@pytest.fixture
async def kafka_topic(settings: Settings, unique: str) -> AsyncIterator[str]:
    """A fresh single-partition topic, deleted afterwards."""
    name = f"test_{unique}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 1, 1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()
