"""The local stack's PostgreSQL runs with buffers and WAL sized for millions of facts."""

from __future__ import annotations

import asyncpg

from app.config import Settings
from devstack.postgres import TUNING


async def test_the_local_postgres_runs_with_its_tuning(settings: Settings):
    connection = await asyncpg.connect(settings.database_url)
    try:
        running = {name: await connection.fetchval(f"SHOW {name}") for name in TUNING}
    finally:
        await connection.close()
    assert running == TUNING
