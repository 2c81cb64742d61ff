"""`python -m app.ops.prestart`: wait for the dependencies, migrate PostgreSQL, create Kafka topics
and MongoDB's indexes.

Run before the service (and the tests) against any environment, the local stack or one's own.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from app.bootstrap import Resources, build_resources
from app.config import MissingSetting, Settings, get_settings
from app.ops.analytics_role import ensure_analytics_role
from app.ops.backup_retention import align_backup_retention
from app.ops.probes import probe_all
from app.ops.storage_upkeep import add_coming_partitions
from app.producers.kafka_admin import ensure_topics

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


async def wait_for_dependencies(settings: Settings, limit_seconds: float) -> None:
    async with build_resources(settings) as resources:
        deadline = time.monotonic() + limit_seconds
        while down := [result for result in await probe_all(resources) if not result.ok]:
            if time.monotonic() > deadline:
                names = "; ".join(f"{result.name}: {result.detail}" for result in down)
                raise SystemExit(f"dependencies still down after {limit_seconds:g}s: {names}")
            await asyncio.sleep(1)


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's config for DATABASE_URL, or for another database given as a SQLAlchemy URL."""
    config = Config(str(ALEMBIC_INI))
    # Called from our code, Alembic must not replace the process's logging configuration.
    config.attributes["configure_logger"] = False
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


def main() -> int:
    settings = get_settings()
    try:
        settings.secret("analytics_password")  # before anything is changed
    except MissingSetting as error:
        raise SystemExit(f"error: {error}") from None
    asyncio.run(wait_for_dependencies(settings, limit_seconds=60))
    command.upgrade(alembic_config(), "head")
    created = asyncio.run(ensure_topics(settings))
    print(f"migrated; topics created: {', '.join(created) or 'none (all exist)'}")
    print(asyncio.run(prepare_stores(settings)))
    return 0


async def prepare_stores(settings: Settings) -> str:
    """MongoDB's index by user (forget-user would read every backup without it) and its
    retention, the coming days' partitions and the analysts' login; says what became of the
    last three."""
    async with build_resources(settings) as resources:
        backup = resources.mongo[settings.mongo_database].user_logs
        await backup.create_index("user_id")
        retention = await align_backup_retention(backup, settings.mongo_backup_retention_days)
        async with resources.postgres.connection() as connection:
            added = await add_coming_partitions(connection, settings, datetime.now(UTC))
        login = await analytics_login(resources)
        return f"{retention}; partitions added: {len(added)}; {login}"


async def analytics_login(resources: Resources) -> str:
    settings = resources.settings
    role, password = settings.analytics_role, settings.secret("analytics_password")
    try:
        created = await ensure_analytics_role(resources.postgres, role, password)
    except asyncpg.InsufficientPrivilegeError:
        return f"analytics role {role}: this database user may not create roles; left alone"
    return f"analytics role {role}: {'created' if created else 'updated'}"


if __name__ == "__main__":
    sys.exit(main())
