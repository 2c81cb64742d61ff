"""How far behind each consumer group is, read from the broker's committed offsets."""

from __future__ import annotations

from app.consumers.groups import GROUPS
from app.producers.kafka_admin import group_lags


async def consumer_lags(bootstrap_servers: str) -> dict[str, int]:
    """Messages each group has yet to commit, over the topics it reads."""
    return await group_lags(bootstrap_servers, {name: g.topics for name, g in GROUPS.items()})
