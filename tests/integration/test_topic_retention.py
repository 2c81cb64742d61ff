"""Kafka keeps each topic as long as the settings say: set when a topic is created, and set
again on one already there, keeping the configs it holds besides."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from app.config import Settings
from app.producers.kafka_admin import ensure_topics

HOUR_MS = 3_600_000


@pytest.fixture
async def admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await client.start()
    yield client
    await client.close()


async def own_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    [(_, _, _, _, entries)] = response.resources
    return {entry[0]: entry[1] for entry in entries if entry[3] == 1}  # set on the topic itself


async def test_a_dead_letter_topic_gets_its_retention_and_keeps_an_operators_config(
    admin: AIOKafkaAdminClient, unique: str
):
    # A dead-letter topic of the test's own; the shared topics get the default retention,
    # which prestart gives them anyway.
    topic = f"test_dead_letter_{unique}"
    try:
        created = await ensure_topics(
            Settings(dead_letter_topic=topic, kafka_dead_letter_retention_hours=2)
        )
        assert topic in created
        assert (await own_configs(admin, topic))["retention.ms"] == str(2 * HOUR_MS)

        # An operator sets a config of their own; a new retention must leave it alone.
        by_hand = {"retention.ms": str(2 * HOUR_MS), "max.message.bytes": "2000000"}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, by_hand)])
        assert (
            await ensure_topics(
                Settings(dead_letter_topic=topic, kafka_dead_letter_retention_hours=3)
            )
            == []
        )

        configs = await own_configs(admin, topic)
        assert configs["retention.ms"] == str(3 * HOUR_MS)
        assert configs["max.message.bytes"] == "2000000"
        user_topic = await own_configs(admin, "user_watch_log")
        assert user_topic["retention.ms"] == str(Settings().kafka_retention_hours * HOUR_MS)
    finally:
        await admin.delete_topics([topic])
