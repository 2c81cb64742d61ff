"""Real round trips through each local service's protocol: ready means it answers one."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaClient
from pymongo import AsyncMongoClient


async def probe_kafka(bootstrap_servers: str, timeout: float) -> str:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    try:
        await client.bootstrap()
        metadata = await client.fetch_all_metadata()
        return f"{len(metadata.brokers())} broker(s)"
    finally:
        await client.close()


async def probe_mongo(url: str, timeout: float) -> str:
    client: AsyncMongoClient = AsyncMongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000))
    try:
        await client.admin.command("ping")
        return "ping ok"
    finally:
        await client.close()


async def probe_postgres(dsn: str, timeout: float) -> str:
    connection = await asyncpg.connect(dsn, timeout=timeout)
    try:
        return f"server {await connection.fetchval('SHOW server_version')}"
    finally:
        await connection.close()
