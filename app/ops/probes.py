"""Real round trips to each dependency through the process's own clients, for `/ready` and
for prestart's wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.bootstrap import Resources
from app.producers.kafka_admin import cluster_metadata


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str


async def probe_kafka(bootstrap_servers: str, timeout: float) -> str:
    metadata = await cluster_metadata(bootstrap_servers, timeout)
    return f"{len(metadata.brokers())} broker(s), {len(metadata.topics())} topic(s)"


async def probe_mongo(resources: Resources) -> str:
    await resources.mongo.admin.command("ping")
    return "ping ok"


async def probe_postgres(resources: Resources) -> str:
    async with resources.postgres.connection() as connection:
        return f"server {await connection.fetchval('SHOW server_version')}"


async def run_probe(name: str, probe: Callable[[], Awaitable[str]], timeout: float) -> ProbeResult:
    try:
        detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return ProbeResult(name, False, f"no answer within {timeout:g}s")
    except Exception as error:  # a probe reports any failure of the dependency as "down"
        return ProbeResult(name, False, f"{type(error).__name__}: {error}".strip())
    return ProbeResult(name, True, detail)


async def probe_all(resources: Resources) -> list[ProbeResult]:
    settings = resources.settings
    timeout = settings.readiness_timeout_seconds
    # The Kafka client gives up a little before the overall limit, so its own error is reported.
    probes: dict[str, Callable[[], Awaitable[str]]] = {
        "kafka": lambda: probe_kafka(settings.kafka_bootstrap_servers, timeout * 0.8),
        "mongo": lambda: probe_mongo(resources),
        "postgres": lambda: probe_postgres(resources),
    }
    return list(
        await asyncio.gather(*(run_probe(name, probe, timeout) for name, probe in probes.items()))
    )
