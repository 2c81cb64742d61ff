"""`python -m app.prestart`: wait for the dependencies, migrate PostgreSQL, create Kafka topics.

Run before the service (and the tests) against any environment, the local stack or one's own.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import Settings, get_settings
from app.kafka_topics import ensure_topics
from app.probes import probe_all

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


async def wait_for_dependencies(settings: Settings, limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while True:
        down = [result for result in await probe_all(settings) if not result.ok]
        if not down:
            return
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
    asyncio.run(wait_for_dependencies(settings, limit_seconds=60))
    command.upgrade(alembic_config(), "head")
    created = asyncio.run(ensure_topics(settings))
    print(f"migrated; topics created: {', '.join(created) or 'none (all exist)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
