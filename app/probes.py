"""Real round trips to each dependency, used by `/ready` and by the local stack's readiness wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaClient
from pymongo import AsyncMongoClient

from app.config import Settings


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    detail: str


async def probe_kafka(bootstrap_servers: str, timeout: float) -> str:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        return f"{len(metadata.brokers())} broker(s), {len(metadata.topics())} topic(s)"
    finally:
        await client.close()


async def probe_mongo(url: str, timeout: float) -> str:
    client: AsyncMongoClient = AsyncMongoClient(
        url, serverSelectionTimeoutMS=int(timeout * 1000), connectTimeoutMS=int(timeout * 1000)
    )
    try:
        await client.admin.command("ping")
        return "ping ok"
    finally:
        await client.close()


async def probe_postgres(dsn: str, timeout: float) -> str:
    connection = await asyncpg.connect(dsn, timeout=timeout)
    try:
        version = await connection.fetchval("SHOW server_version")
        return f"server {version}"
    finally:
        await connection.close()


async def run_probe(name: str, probe: Callable[[], Awaitable[str]], timeout: float) -> ProbeResult:
    try:
        detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return ProbeResult(name, False, f"no answer within {timeout:g}s")
    except Exception as error:  # a probe reports any failure of the dependency as "down"
        return ProbeResult(name, False, f"{type(error).__name__}: {error}".strip())
    return ProbeResult(name, True, detail)


async def probe_all(settings: Settings) -> list[ProbeResult]:
    timeout = settings.readiness_timeout_seconds
    # The clients give up a little before the overall limit, so their own error is reported.
    client_timeout = timeout * 0.8
    probes: dict[str, Callable[[], Awaitable[str]]] = {
        "kafka": lambda: probe_kafka(settings.kafka_bootstrap_servers, client_timeout),
        "mongo": lambda: probe_mongo(settings.mongo_url, client_timeout),
        "postgres": lambda: probe_postgres(settings.database_url, client_timeout),
    }
    return list(
        await asyncio.gather(*(run_probe(name, probe, timeout) for name, probe in probes.items()))
    )
