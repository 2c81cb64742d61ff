"""Shared fixtures. Integration and e2e tests run against the real local stack (`make up`);
every test uses its own random ids, so the shared databases never need truncating."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.config import Settings


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def unique() -> str:
    """A short random suffix for names that must not collide across tests and runs."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def pg(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(settings.database_url)
    try:
        yield connection
    finally:
        await connection.close()
