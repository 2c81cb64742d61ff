"""Alembic against a throwaway database: upgrade head, then downgrade base, both for real."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from alembic import command

from app.config import Settings
from app.ops.prestart import alembic_config

STAGING_TABLES = {"stg_user_logs", "stg_comments", "stg_movies"}


def database_url_for(settings: Settings, database: str) -> str:
    return urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{database}"))


@pytest.fixture
async def scratch_database(settings, pg, unique):
    name = f"migrations_{unique}"
    await pg.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url_for(settings, name)
    finally:
        await pg.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


async def table_comments(url: str) -> dict[str, str | None]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, obj_description(c.oid) AS comment FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
    finally:
        await connection.close()
    return {row["relname"]: row["comment"] for row in rows}


async def test_upgrade_head_then_downgrade_base(scratch_database):
    alembic_url = scratch_database.replace("postgresql://", "postgresql+asyncpg://", 1)

    await asyncio.to_thread(command.upgrade, alembic_config(alembic_url), "head")
    tables = await table_comments(scratch_database)
    assert set(tables) >= STAGING_TABLES
    assert all(tables[name] for name in STAGING_TABLES), "staging tables carry comments"

    await asyncio.to_thread(command.downgrade, alembic_config(alembic_url), "base")
    assert set(await table_comments(scratch_database)) == {"alembic_version"}
