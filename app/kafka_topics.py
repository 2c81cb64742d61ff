"""Creates the project's Kafka topics; the broker is configured not to create them on its own."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from app.config import Settings


async def ensure_topics(settings: Settings) -> list[str]:
    """Create whichever of the project's topics are missing; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in settings.topics if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name, settings.kafka_topic_partitions, settings.kafka_replication_factor
                    )
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()
